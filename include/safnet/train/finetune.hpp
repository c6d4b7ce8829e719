// safnet/train/finetune.hpp — start a SAF model from a model trained without one (or with
// another SAF): the paper's fast path to a fault-resilient network.
//
// For every SAF-parametrized weight, the effective weight of the source model,
// w = tau_src(raw_src), becomes the new raw value tau_preimage(tau_dst, w) = tau_dst^-1(clip(w)),
// clipped to 0.999 of tau_dst's bound. So at step 0 the new model computes with the same
// weights as the pretrained one (except weights beyond the bound, which are clipped), and a
// few epochs of fine-tuning (recipe: AdamW, lr 1e-3, 5 epochs; see README) adapt it.
// Parameters without a SAF (BN, biases) and BN statistics are copied as they are.
#pragma once

#include <safnet/io/checkpoint.hpp>

namespace safnet::train {

struct AdaptReport {
    std::size_t weights = 0;  // SAF-parametrized weights converted
    std::size_t clipped = 0;  // of which beyond the new SAF's range
};

/// Loads `file` (any SAF recorded in its metadata, default none) into `model`, whose SAF may
/// differ, converting SAF weights as described above.
template <class Model>
AdaptReport load_pretrained(Model& model, const io::Safetensors& file, double margin = 1e-3) {
    io::load_model(model, file);
    const AnySaf source = saf_from_name(file.meta("saf", "none"));
    AdaptReport report;
    using T = std::remove_cvref_t<decltype(*model.parameters().front().value->data())>;
    model.for_each_parameter([&](const nn::Parameter<T>& p) {
        if (!p.saf) return;
        std::visit([&](const auto& dst, const auto& src) {
            const double limit = is_bounded(dst) ? dst.bound() * (1.0 - margin) : std::numeric_limits<double>::infinity();
            for (T& raw : p.value->span()) {
                const double w = safnet::tau(src, static_cast<double>(raw));
                report.clipped += std::abs(w) > limit;
                raw = static_cast<T>(tau_preimage(dst, w, margin));
            }
        }, p.saf->saf(), source);
        report.weights += p.value->size();
        p.saf->refresh();
    });
    return report;
}

}  // namespace safnet::train
