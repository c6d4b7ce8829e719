// safnet/fault/campaign.hpp — Monte Carlo fault campaigns on a model's stored weights.
//
//   fault::CampaignSpec spec{.codec = codec_from_name("fp16"), .fault = FaultModel::bit_flip(1e-5),
//                            .rounds = 100, .seed = 1};
//   auto result = fault::run_campaign(model, test_set, spec);   // per-round results + summary
//
// Semantics (arXiv 2411.19027): the raw values (tau not applied) of the selected parameters
// are encoded with the codec into storage words. Each round damages those words with the
// fault model, decodes the damaged words, applies tau under the damaged-value policy and
// evaluates top-1/top-5 accuracy on the test set (NaN logits = miss, counted; see
// safnet/train/evaluate.hpp).
// Cost of a round ~ one inference pass: only the damaged words are decoded and only their
// tau is recomputed (SafWeight::refresh_at), and afterwards exactly those words are restored
// (O(flips)), instead of re-encoding and re-applying tau to every weight.
// Reproducibility: round r draws its faults from Philox stream (seed, r, 0) over the
// concatenated words of all selected tensors (in parameter order), and every round starts
// from the clean words, so results are a pure function of (model, data, spec, r): the same
// for any thread count (inference is thread-count invariant) and any order of rounds.
// "Clean" accuracy is measured with the stored (codec-rounded) weights and no faults.
// Baselines from prior work, to test the paper's claim against:
//  * Protection::clip_weights — hard clipping at read: every value read back is clamped to
//    the [min, max] of the clean stored values of its tensor (NaN reads as 0).
//  * Protection::clip_activations — bounded ReLUs in the spirit of Ranger (Chen et al. 2021)
//    and Clip-Act (Hoang et al. 2020): each ReLU's output is clamped to the largest value it
//    produced on clean calibration data (spec.calibration, else the test set), NaN -> 0.
#pragma once

#include <safnet/codec/registry.hpp>
#include <safnet/fault/bitflip.hpp>
#include <safnet/fault/statistics.hpp>
#include <safnet/nn/parameter.hpp>
#include <safnet/train/evaluate.hpp>

#include <fnmatch.h>

#include <chrono>
#include <functional>
#include <limits>
#include <string>
#include <vector>

namespace safnet::fault {

enum class Protection { none, clip_weights, clip_activations };

inline std::string protection_name(Protection p) {
    return p == Protection::none ? "none" : p == Protection::clip_weights ? "clip" : "clipact";
}
inline Protection protection_from_name(const std::string& s) {
    if (s == "none") return Protection::none;
    if (s == "clip") return Protection::clip_weights;
    if (s == "clipact") return Protection::clip_activations;
    throw Error("unknown protection '" + s + "'; valid: none, clip, clipact");
}

/// Which parameters are stored in faulty memory.
struct Selection {
    bool weights = true;     // conv and linear weights (the SAF-parametrized tensors)
    bool biases = false;     // linear biases
    bool batchnorm = false;  // BN weight and bias
    std::vector<std::string> patterns;  // shell globs over names ("layer3.*"); empty = all

    template <std::floating_point T>
    bool matches(const nn::Parameter<T>& p) const {
        const bool is_bn = p.name.find("bn") != std::string::npos || p.name.find("downsample.1.") != std::string::npos;
        const bool kind = p.saf ? weights : (is_bn ? batchnorm : biases);
        if (!kind) return false;
        if (patterns.empty()) return true;
        for (const auto& g : patterns)
            if (::fnmatch(g.c_str(), p.name.c_str(), 0) == 0) return true;
        return false;
    }
};

struct CampaignSpec {
    AnyCodec codec = Float32{};
    FaultModel fault = FaultModel::bit_flip(1e-5);
    std::size_t rounds = 100;
    std::size_t first_round = 0;  // run rounds [first_round, first_round + rounds): shards and order tests
    std::uint64_t seed = 1;
    Protection protection = Protection::none;
    Selection selection{};
    double ci_halfwidth = 0;     // stop early once the 95 % CI half-width (points) is below this; 0 = never
    std::size_t min_rounds = 5;  // ... but not before this many rounds
    std::size_t eval_batch = 500;
    const train::PreparedSet* calibration = nullptr;  // clip_activations thresholds; null = the test set
};

struct RoundResult {
    std::size_t round = 0;
    train::EvalResult eval;
    std::uint64_t flips = 0;  // bits changed
};

struct CampaignResult {
    train::EvalResult clean;  // stored weights, no faults
    std::vector<RoundResult> rounds;
    Summary top1, top5;
    std::size_t nan_images = 0, inf_images = 0, rounds_with_nan = 0, rounds_with_inf = 0;
    std::uint64_t stored_bits = 0;  // faultable bits (after the mask)
    std::size_t tensors = 0, values = 0;
    double seconds_per_round = 0;   // wall time of a round (inject, evaluate, restore), averaged
};

/// The selected parameters of a model, stored through a codec: injects and restores faults
/// and keeps the model's values equal to what a read of the stored words gives.
/// Construction stores the clean values (the model then computes with codec-rounded
/// weights); destruction puts the model's original values back.
template <Codec C, class Model>
class StoredWeights {
public:
    using Word = typename C::word_type;

    StoredWeights(Model& model, C codec, const Selection& sel, Protection protection) : codec_(codec), protection_(protection) {
        model.for_each_parameter([&](const nn::Parameter<float>& p) {
            if (sel.matches(p)) targets_.push_back(p);
        });
        if (targets_.empty()) throw Error("fault campaign: no parameter matches the selection");
        offsets_.push_back(0);
        for (const auto& t : targets_) offsets_.push_back(offsets_.back() + t.value->size());
        words_.resize(offsets_.back());
        original_.resize(offsets_.back());
        for (std::size_t k = 0; k < targets_.size(); ++k) {
            const auto values = targets_[k].value->span();
            std::copy(values.begin(), values.end(), original_.begin() + static_cast<std::ptrdiff_t>(offsets_[k]));
            codec_.encode(std::span<const float>(values), std::span<Word>(words_).subspan(offsets_[k], values.size()));
            codec_.decode(std::span<const Word>(words_).subspan(offsets_[k], values.size()), values);
            const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
            ranges_.emplace_back(*lo, *hi);
            refresh_all(targets_[k]);
        }
        local_.resize(targets_.size());
    }
    StoredWeights(const StoredWeights&) = delete;
    StoredWeights& operator=(const StoredWeights&) = delete;
    ~StoredWeights() {
        for (std::size_t k = 0; k < targets_.size(); ++k) {
            std::copy(original_.begin() + static_cast<std::ptrdiff_t>(offsets_[k]), original_.begin() + static_cast<std::ptrdiff_t>(offsets_[k + 1]),
                      targets_[k].value->data());
            refresh_all(targets_[k]);
        }
    }

    std::size_t tensors() const noexcept { return targets_.size(); }
    std::span<const Word> words() const noexcept { return words_; }
    const std::vector<nn::Parameter<float>>& targets() const noexcept { return targets_; }
    std::size_t values() const noexcept { return words_.size(); }
    /// Bits a fault model with bit mask `mask` can hit (the injector's own eligibility rule).
    std::uint64_t stored_bits(std::uint64_t mask) const {
        return static_cast<std::uint64_t>(detail::eligible_bits(codec_.bits_per_value(), mask).count) * words_.size();
    }

    /// Damages the stored words with `model` drawn from `key`; returns the bits changed.
    std::size_t inject(const FaultModel& model, StreamKey key) {
        fault::inject(std::span<Word>(words_), codec_.bits_per_value(), model, key, changed_);
        apply_changed();
        return changed_.size();
    }
    /// Restores the words damaged by the last inject() and the values read from them.
    void restore() {
        fault::restore(std::span<Word>(words_), std::span<const BitFault>(changed_));
        apply_changed();
        changed_.clear();
    }

private:
    static void refresh_all(const nn::Parameter<float>& p) {
        if (p.saf) p.saf->refresh();
    }

    float read(std::size_t k, Word w) const {
        float v = codec_.decode_one(w);
        if (protection_ == Protection::clip_weights) v = std::isnan(v) ? 0.0f : std::clamp(v, ranges_[k].first, ranges_[k].second);
        return v;
    }

    // Re-reads every word listed in changed_ (ascending) into its tensor and refreshes tau there.
    void apply_changed() {
        for (auto& l : local_) l.clear();
        std::size_t k = 0;
        std::uint64_t last = std::numeric_limits<std::uint64_t>::max();
        for (const BitFault& f : changed_) {
            if (f.word == last) continue;  // several bits of one word
            last = f.word;
            while (f.word >= offsets_[k + 1]) ++k;
            const std::uint64_t i = f.word - offsets_[k];
            (*targets_[k].value)[i] = read(k, words_[f.word]);
            local_[k].push_back(i);
        }
        for (std::size_t t = 0; t < targets_.size(); ++t)
            if (!local_[t].empty() && targets_[t].saf) targets_[t].saf->refresh_at(local_[t]);
    }

    C codec_;
    Protection protection_;
    std::vector<nn::Parameter<float>> targets_;
    std::vector<std::size_t> offsets_;
    std::vector<Word> words_;
    std::vector<float> original_;
    std::vector<std::pair<float, float>> ranges_;
    std::vector<BitFault> changed_;
    std::vector<std::vector<std::uint64_t>> local_;
};

/// Fills r's summaries and NaN/Inf totals from r.rounds (also used to rebuild a resumed result).
inline void summarize_rounds(CampaignResult& r, std::size_t classes) {
    std::vector<double> top1, top5;
    r.nan_images = r.inf_images = r.rounds_with_nan = r.rounds_with_inf = 0;
    for (const auto& rr : r.rounds) {
        top1.push_back(rr.eval.accuracy());
        top5.push_back(rr.eval.top5_accuracy());
        r.nan_images += rr.eval.nan_images;
        r.inf_images += rr.eval.inf_images;
        r.rounds_with_nan += rr.eval.nan_images > 0;
        r.rounds_with_inf += rr.eval.inf_images > 0;
    }
    r.top1 = summarize(top1, classes);
    r.top5 = summarize(top5, classes);
}

/// Sets each ReLU's activation limit to its largest output on `calibration` (clean weights)
/// for its lifetime; does nothing for a null calibration set.
template <class Model>
class ActivationLimits {
public:
    ActivationLimits(Model& model, const train::PreparedSet* calibration, std::size_t batch, nn::Tensor<float>& x) : model_(model) {
        if (!calibration) return;
        active_ = true;
        model_.for_each_relu_batchnorm([](auto& bn) { bn.track_activation_max(true); });
        train::evaluate(model_, *calibration, batch, x);
        model_.for_each_relu_batchnorm([](auto& bn) {
            bn.track_activation_max(false);
            bn.set_activation_limit(bn.activation_max());
        });
    }
    ActivationLimits(const ActivationLimits&) = delete;
    ActivationLimits& operator=(const ActivationLimits&) = delete;
    ~ActivationLimits() {
        if (active_) model_.for_each_relu_batchnorm([](auto& bn) { bn.set_activation_limit(-1.0f); });
    }

private:
    Model& model_;
    bool active_ = false;
};

/// Runs `spec` on `model` over `test`; `on_round` (optional) sees each finished round.
template <class Model>
CampaignResult run_campaign(Model& model, const train::PreparedSet& test, const CampaignSpec& spec,
                            const std::function<void(const RoundResult&)>& on_round = {}) {
    spec.fault.validate();
    if (spec.rounds == 0) throw Error("fault campaign: rounds must be positive");
    return std::visit([&](const auto& codec) {
        StoredWeights store(model, codec, spec.selection, spec.protection);
        CampaignResult r;
        r.tensors = store.tensors();
        r.values = store.values();
        r.stored_bits = store.stored_bits(spec.fault.bit_mask);
        nn::Tensor<float> x;
        const ActivationLimits limits(model, spec.protection == Protection::clip_activations ? (spec.calibration ? spec.calibration : &test) : nullptr,
                                      spec.eval_batch, x);
        r.clean = train::evaluate(model, test, spec.eval_batch, x);
        std::vector<double> top1;
        const auto start = std::chrono::steady_clock::now();
        for (std::size_t round = spec.first_round; round < spec.first_round + spec.rounds; ++round) {
            RoundResult rr;
            rr.round = round;
            rr.flips = store.inject(spec.fault, StreamKey{spec.seed, static_cast<std::uint32_t>(round), 0});
            rr.eval = train::evaluate(model, test, spec.eval_batch, x);
            store.restore();
            top1.push_back(rr.eval.accuracy());
            r.rounds.push_back(rr);
            if (on_round) on_round(rr);
            if (spec.ci_halfwidth > 0 && top1.size() >= std::max<std::size_t>(spec.min_rounds, 2) &&
                summarize(top1, test.classes).ci_halfwidth() < spec.ci_halfwidth)
                break;
        }
        r.seconds_per_round = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / static_cast<double>(top1.size());
        summarize_rounds(r, test.classes);
        return r;
    }, spec.codec);
}

}  // namespace safnet::fault
