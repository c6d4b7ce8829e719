// safnet/nn/conv_algorithm.hpp — the choice of arithmetic for a convolution.
#pragma once

namespace safnet::nn {

/// How a convolution computes (the forward pass and, for stride 1, the input gradient):
/// `automatic` picks Winograd F(4,3) along rows for 3x3 stride-1 layers on planes of width
/// >= 14 or so, the direct kernel for other stride-1 layers whose rows fill most of a SIMD
/// vector, im2col + GEMM otherwise (the rule and its numbers: detail/conv/plan.hpp and
/// tuning.hpp). Direct and GEMM give the same bits; Winograd agrees with them to rounding.
/// `direct` and `gemm` force a kernel where it applies; `winograd` forces Winograd for 3x3
/// stride-1 layers and the direct kernel for other stride-1 layers. Exposed so that tests can
/// compare them and so that fault studies can pin the arithmetic.
enum class ConvAlgorithm { automatic, gemm, direct, winograd };

}  // namespace safnet::nn
