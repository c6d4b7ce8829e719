// safnet/nn/saf_weight.hpp — a weight tensor parametrized by a SAF: the bridge between the
// primitives (SAF, codec, injector) and the layers.
//
// Holds the raw weights R (what training updates and what memory stores) and the effective
// weights tau(R) a layer computes with.
//   refresh()            effective = tau(R) for all elements (once per training step, not per
//                        image); O(n), vectorized
//   refresh_at(indices)  the same for the listed elements only: after a fault campaign
//                        changed a few raw words, O(k) instead of O(n)
//   backward(g_eff, g_raw)   g_raw = g_eff * tau'(R): the chain rule through the SAF
// All follow the damaged-value policy of safnet/saf.hpp.
#pragma once

#include <safnet/profile.hpp>
#include <safnet/nn/tensor.hpp>
#include <safnet/saf.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <utility>

namespace safnet::nn {

template <std::floating_point T>
class SafWeight {
public:
    SafWeight(Shape shape, AnySaf saf) : raw_(shape), effective_(shape), saf_(std::move(saf)) {}

    const AnySaf& saf() const noexcept { return saf_; }
    void set_saf(AnySaf saf) {
        saf_ = std::move(saf);
        refresh();
    }
    Tensor<T>& raw() noexcept { return raw_; }
    const Tensor<T>& raw() const noexcept { return raw_; }
    const Tensor<T>& effective() const noexcept { return effective_; }

    void refresh() {
        const profile::Scope scope(profile::Kind::saf);
        std::visit([&](const auto& s) { safnet::apply(s, raw_.span(), effective_.span()); }, saf_);
    }

    void refresh_at(std::span<const std::uint64_t> indices) {
        std::visit([&](const auto& s) {
            for (std::uint64_t i : indices) {
                if (i >= raw_.size())
                    throw Error("SafWeight::refresh_at: index " + std::to_string(i) + " outside " + raw_.shape().str());
                effective_[i] = safnet::apply_one(s, raw_[i]);  // bit-identical to refresh()
            }
        }, saf_);
    }

    void backward(std::span<const T> grad_effective, std::span<T> grad_raw) const {
        std::visit([&](const auto& s) { safnet::backward(s, raw_.span(), grad_effective, grad_raw); }, saf_);
    }

private:
    Tensor<T> raw_;
    Tensor<T> effective_;
    AnySaf saf_;
};

}  // namespace safnet::nn
