// safnet/train/evaluate.hpp — top-1 / top-5 accuracy of a model on a prepared test set.
//
// The test set is prepared once (normalized floats, no augmentation): a training run
// evaluates after every epoch and a fault campaign hundreds of times per model, so neither
// should reconvert the bytes each time. Evaluation runs in eval mode in fixed batches, so
// results do not depend on thread count.
// Scoring rules (shared with fault campaigns):
//  * rank of the true class = #(logits greater than its logit) + #(equal logits at a smaller
//    index); top-k hit iff rank < k. Top-1 therefore equals nn::count_correct (first maximum).
//  * an image whose logits contain a NaN is a miss for every k (argmax of NaN is undefined;
//    a plain argmax would credit a network that outputs garbage). Images with NaN and with
//    +-Inf logits are counted.
#pragma once

#include <safnet/data/dataset.hpp>
#include <safnet/nn/parameter.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <span>
#include <vector>

namespace safnet::train {

/// One test image of `images`, in accuracy points: the smallest step an accuracy can take.
inline double image_step(std::size_t images) noexcept { return 100.0 / static_cast<double>(std::max<std::size_t>(images, 1)); }

struct EvalResult {
    std::size_t images = 0, top1 = 0, top5 = 0, nan_images = 0, inf_images = 0;
    double accuracy() const noexcept { return images ? 100.0 * static_cast<double>(top1) / static_cast<double>(images) : 0.0; }
    double top5_accuracy() const noexcept { return images ? 100.0 * static_cast<double>(top5) / static_cast<double>(images) : 0.0; }
    friend bool operator==(const EvalResult&, const EvalResult&) = default;
};

/// A test split as one normalized float tensor plus labels.
struct PreparedSet {
    nn::Tensor<float> images;  // N x C x H x W
    std::vector<std::int32_t> labels;
    std::size_t classes = 10;
    std::size_t size() const noexcept { return labels.size(); }
};

inline PreparedSet prepare(const data::Dataset& ds, const data::Normalization& norm, std::size_t limit = 0) {
    PreparedSet p;
    const std::size_t n = limit ? std::min(limit, ds.size()) : ds.size();
    data::to_tensor(ds, 0, n, norm, p.images);
    p.labels.assign(ds.labels.begin(), ds.labels.begin() + static_cast<std::ptrdiff_t>(n));
    p.classes = ds.classes;
    return p;
}

/// Adds the scores of one batch of logits (N x K) to `r`.
template <std::floating_point T>
void score(const nn::Tensor<T>& logits, std::span<const std::int32_t> labels, EvalResult& r) {
    const std::size_t n = logits.shape()[0], k = logits.shape()[1];
    for (std::size_t i = 0; i < n; ++i) {
        const T* z = logits.data() + i * k;
        bool nan = false, inf = false;
        if (labels[i] < 0 || static_cast<std::size_t>(labels[i]) >= k)
            throw Error("evaluate: label " + std::to_string(labels[i]) + " is outside the model's " + std::to_string(k) + " classes");
        const auto label = static_cast<std::size_t>(labels[i]);
        std::size_t rank = 0;
        for (std::size_t j = 0; j < k; ++j) {
            nan |= std::isnan(z[j]);
            inf |= std::isinf(z[j]);
            rank += z[j] > z[label] || (j < label && z[j] == z[label]);
        }
        ++r.images;
        r.nan_images += nan;
        r.inf_images += inf;
        if (nan) continue;
        r.top1 += rank < 1;
        r.top5 += rank < 5;
    }
}

/// The batch loop of evaluate(): for each batch of `set` (of `batch` images, the last one
/// shorter), x is shaped for it and, with copy_input, filled with its images; the logits
/// forward(index of its first image, x) returns are scored.
template <class Forward>
EvalResult evaluate_batches(const PreparedSet& set, std::size_t batch, nn::Tensor<float>& x, bool copy_input, Forward&& forward) {
    if (batch == 0) throw Error("evaluate: batch size must be positive");
    const nn::Shape& s = set.images.shape();
    const std::size_t image = s[1] * s[2] * s[3];
    EvalResult r;
    for (std::size_t first = 0; first < set.size(); first += batch) {
        const std::size_t n = std::min(batch, set.size() - first);
        x.resize(nn::Shape{n, s[1], s[2], s[3]});
        if (copy_input) std::memcpy(x.data(), set.images.data() + first * image, n * image * sizeof(float));
        score(forward(first, x), std::span<const std::int32_t>(set.labels).subspan(first, n), r);
    }
    return r;
}

/// Evaluates `model` (eval mode) on `set` in batches of `batch`; `x` is a reusable workspace.
template <class Model>
EvalResult evaluate(Model& model, const PreparedSet& set, std::size_t batch, nn::Tensor<float>& x) {
    return evaluate_batches(set, batch, x, true,
                            [&](std::size_t, const nn::Tensor<float>& in) -> decltype(auto) { return model.forward(in, nn::Mode::eval); });
}

template <class Model>
EvalResult evaluate(Model& model, const PreparedSet& set, std::size_t batch = 500) {
    nn::Tensor<float> x;
    return evaluate(model, set, batch, x);
}

}  // namespace safnet::train
