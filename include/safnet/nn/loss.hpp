// safnet/nn/loss.hpp — softmax cross-entropy on logits, numerically stable, with optional
// label smoothing (targets (1-e) one-hot + e/K, as PyTorch's label_smoothing=e).
//
// forward(logits N x K, labels) returns the mean loss and keeps the probabilities;
// backward writes d loss / d logits = (p - q) / N. Labels outside [0, K) throw.
// count_correct: an image whose logits contain a NaN counts as wrong (argmax of NaN is
// undefined, and a plain argmax would credit a network that outputs garbage).
#pragma once

#include <safnet/profile.hpp>
#include <safnet/nn/parameter.hpp>

#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

namespace safnet::nn {

template <std::floating_point T>
class SoftmaxCrossEntropy {
public:
    explicit SoftmaxCrossEntropy(double label_smoothing = 0.0) : eps_(label_smoothing) {
        if (!(eps_ >= 0.0 && eps_ < 1.0)) throw Error("label smoothing must be in [0, 1)");
    }

    double forward(const Tensor<T>& logits, std::span<const std::int32_t> labels) {
        const profile::Scope scope(profile::Kind::loss);
        require_rank(logits.shape(), 2, "SoftmaxCrossEntropy");
        const std::size_t n = logits.shape()[0], k = logits.shape()[1];
        if (labels.size() != n)
            throw Error("SoftmaxCrossEntropy: " + std::to_string(labels.size()) + " labels for " + std::to_string(n) + " rows");
        probs_.resize(logits.shape());
        labels_.assign(labels.begin(), labels.end());
        double total = 0;
        for (std::size_t i = 0; i < n; ++i) {
            if (labels[i] < 0 || static_cast<std::size_t>(labels[i]) >= k)
                throw Error("SoftmaxCrossEntropy: label " + std::to_string(labels[i]) + " outside [0, " + std::to_string(k) + ")");
            const T* z = logits.data() + i * k;
            T* p = probs_.data() + i * k;
            double mx = z[0];
            for (std::size_t j = 1; j < k; ++j) mx = std::max<double>(mx, z[j]);
            double sum = 0;
            for (std::size_t j = 0; j < k; ++j) sum += std::exp(z[j] - mx);
            const double log_sum = mx + std::log(sum);
            double loss = 0;
            for (std::size_t j = 0; j < k; ++j) {
                const double log_p = z[j] - log_sum;
                p[j] = static_cast<T>(std::exp(log_p));
                loss -= target(j, static_cast<std::size_t>(labels[i]), k) * log_p;
            }
            total += loss;
        }
        return total / static_cast<double>(n);
    }

    void backward(Tensor<T>& dlogits) const {
        const std::size_t n = probs_.shape()[0], k = probs_.shape()[1];
        dlogits.resize(probs_.shape());
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t j = 0; j < k; ++j)
                dlogits[i * k + j] = static_cast<T>((probs_[i * k + j] - target(j, static_cast<std::size_t>(labels_[i]), k)) /
                                                    static_cast<double>(n));
    }

private:
    double target(std::size_t j, std::size_t label, std::size_t k) const {
        return (j == label ? 1.0 - eps_ : 0.0) + eps_ / static_cast<double>(k);
    }
    double eps_;
    Tensor<T> probs_;
    std::vector<std::int32_t> labels_;
};

/// Top-1 hits; rows with a NaN logit are never hits.
template <std::floating_point T>
std::size_t count_correct(const Tensor<T>& logits, std::span<const std::int32_t> labels) {
    const std::size_t n = logits.shape()[0], k = logits.shape()[1];
    std::size_t hits = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const T* z = logits.data() + i * k;
        bool nan = false;
        std::size_t best = 0;
        for (std::size_t j = 0; j < k; ++j) {
            nan |= std::isnan(z[j]);
            if (z[j] > z[best]) best = j;
        }
        hits += !nan && static_cast<std::int32_t>(best) == labels[i];
    }
    return hits;
}

}  // namespace safnet::nn
