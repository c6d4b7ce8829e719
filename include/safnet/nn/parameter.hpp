// safnet/nn/parameter.hpp — what an optimizer and a checkpoint see of a layer.
//
// A Parameter names a trainable tensor (PyTorch state_dict style: "layer1.0.conv1.weight"),
// its gradient, and, for SAF-parametrized weights, the SafWeight whose effective weights
// must be refreshed after the raw values change. Layers expose them through
// for_each_parameter(prefix, visitor); buffers (BN running statistics) through
// for_each_buffer. Backward passes overwrite gradients (each parameter is used once per
// pass), so no zero_grad step is needed.
#pragma once

#include <safnet/nn/saf_weight.hpp>
#include <safnet/nn/tensor.hpp>

#include <string>

namespace safnet::nn {

enum class Mode { train, eval };

template <std::floating_point T>
struct Parameter {
    std::string name;
    Tensor<T>* value;            // raw values: what is trained, stored and faulted
    Tensor<T>* grad;             // d loss / d value
    SafWeight<T>* saf = nullptr;  // set for SAF-parametrized weights: refresh after updates
};

/// max(x, 0) that keeps NaN: a NaN from a damaged weight must reach the logits, where a
/// fault campaign counts it, instead of being zeroed (PyTorch's relu keeps NaN too).
template <std::floating_point T>
inline T relu_keep_nan(T x) noexcept {
    return !(x <= T(0)) ? x : T(0);
}

/// The ReLU's backward rule from its output y: the gradient passes where y > 0 (NaN in y
/// blocks it).
template <std::floating_point T>
inline T relu_grad(T y, T grad) noexcept {
    return y > T(0) ? grad : T(0);
}

inline std::string join_name(const std::string& prefix, const std::string& name) {
    return prefix.empty() ? name : prefix + "." + name;
}

inline void require_rank(const Shape& s, std::size_t rank, const char* layer) {
    if (s.rank() != rank)
        throw Error(std::string(layer) + ": expected a rank-" + std::to_string(rank) + " input, got " + s.str());
}

}  // namespace safnet::nn
