// safnet/detail/conv/plan.hpp — which kernel computes a stride-1 convolution (the forward
// pass, or the input gradient as a convolution of dy with the flipped kernel), and the
// weights packed for it.
//
// The rule (numbers in detail/conv/tuning.hpp): Winograd for 3x3 kernels with enough input
// and output channels, on planes whose rows fill SIMD vectors well and that the direct kernel
// computes row by row, or that are large even where it would use its flat layout; otherwise
// the direct kernel when enough of the lanes it computes are real outputs; otherwise im2col +
// GEMM. A forced algorithm (ConvAlgorithm) overrides the rule where its kernel applies.
#pragma once

#include <safnet/detail/conv/direct.hpp>
#include <safnet/detail/conv/tuning.hpp>
#include <safnet/detail/conv/winograd.hpp>
#include <safnet/nn/conv_algorithm.hpp>

#include <cstddef>

namespace safnet::detail {

/// The convolution as the plan sees it: the layer's kernel and stride, and what it convolves
/// (`channels` planes of h x w, zero-padded by `pad`, into `out_channels` planes).
struct ConvProblem {
    std::size_t channels, out_channels, h, w, pad, kernel, stride;
    nn::ConvAlgorithm algorithm;
    bool pointwise() const noexcept { return kernel == 1 && stride == 1 && pad == 0; }
};

struct ConvPlan {
    enum Kind { gemm, direct, winograd } kind = gemm;
    std::size_t h = 0, w = 0, pad = 0;
    DirectConvShape direct_shape{};
    WinogradShape winograd_shape{};
};

template <class T>
ConvPlan plan_convolution(const ConvProblem& q) {
    using nn::ConvAlgorithm;
    constexpr ConvTuning tune = conv_tuning;
    ConvPlan p{ConvPlan::gemm, q.h, q.w, q.pad, {}, {}};
    if (q.algorithm == ConvAlgorithm::gemm || q.stride != 1 || q.pointwise() || q.pad >= q.kernel) return p;
    const std::size_t oh = q.h + 2 * q.pad - q.kernel + 1, ow = q.w + 2 * q.pad - q.kernel + 1;
    p.direct_shape = direct_conv_shape<T>(q.channels, q.out_channels, q.kernel, oh, ow);
    if (q.kernel == 3 && q.algorithm != ConvAlgorithm::direct) {
        p.winograd_shape = winograd_shape<T>(q.channels, q.out_channels, q.h, q.w, q.pad);
        const bool big_plane = !p.direct_shape.flat || (oh >= tune.winograd_min_flat_plane && ow >= tune.winograd_min_flat_plane);
        const bool wide_enough = q.channels >= tune.winograd_min_channels && q.out_channels >= tune.winograd_min_channels &&
                                 big_plane && p.winograd_shape.efficiency() >= tune.min_lane_efficiency;
        if (q.algorithm == ConvAlgorithm::winograd || (q.algorithm == ConvAlgorithm::automatic && wide_enough)) {
            p.kind = ConvPlan::winograd;
            return p;
        }
    }
    if (q.algorithm == ConvAlgorithm::direct || q.algorithm == ConvAlgorithm::winograd ||
        p.direct_shape.efficiency() >= tune.min_lane_efficiency)
        p.kind = ConvPlan::direct;
    return p;
}

/// Elements of the packed weights for plan p (0 for GEMM, which reads the weights as they are).
inline std::size_t packed_weight_size(const ConvPlan& p, std::size_t out_channels, std::size_t channels, std::size_t kernel) {
    constexpr std::size_t MR = direct_conv_mr;
    const std::size_t padded = (out_channels + MR - 1) / MR * MR;
    if (p.kind == ConvPlan::direct) return padded * channels * kernel * kernel;
    if (p.kind == ConvPlan::winograd) return winograd_points * padded * channels * 3;
    return 0;
}

/// w (out_channels x channels x kernel x kernel) into `packed` (packed_weight_size elements) in
/// the layout of plan p's kernel.
template <class T>
void pack_weights(const ConvPlan& p, const T* w, std::size_t out_channels, std::size_t channels, std::size_t kernel, T* packed) {
    if (p.kind == ConvPlan::direct) {
        pack_direct_weights<direct_conv_mr>(w, out_channels, channels, kernel * kernel, packed);
    } else if (p.kind == ConvPlan::winograd) {
        pack_winograd_weights<direct_conv_mr>(w, out_channels, channels, packed);
    }
}

}  // namespace safnet::detail
