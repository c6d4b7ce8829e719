// safnet/detail/conv/tuning.hpp — every number that chooses how a convolution runs, in one
// table: the plan (detail/conv/plan.hpp) reads it, the kernels take their tile sizes from it,
// and the tests import it rather than copying its rules.
//
// Measured on Zen 4 (the method and figures are in docs/reference/performance.md):
//  - Winograd F(4,3) along rows is 1.1-1.6x faster than the direct kernel per image at plane
//    widths 14-32 and +4-25 % for 1x28x28 ResNet20 inference once the 28-wide layers use it;
//    slower with 1-8 channels (its six 1x3 products are mostly overhead) and on 7x7 and 8x8
//    planes (a 4-row band is half of the plane).
//  - The direct kernel's register tile is 8 output channels x (3 rows x 1 vector or 1 row x 2
//    vectors); 4x4x1, 4x2x2, 6x4x1, 12x2x1, 16x1x1 and 16x2x1 ran 10-60 % slower.
//  - The unpacked register-tiled GEMM beats Eigen's on conv shapes (no repacking of the column
//    buffer) once a has enough rows to fill its tile and few edge columns (7x7 planes, n = 49,
//    are faster in Eigen).
#pragma once

#include <cstddef>

namespace safnet::detail {

struct ConvTuning {
    // Winograd: 3x3 stride-1 layers with at least this many input and output channels ...
    std::size_t winograd_min_channels = 16;
    // ... on planes the direct kernel computes row by row, or flat ones at least this wide and high;
    std::size_t winograd_min_flat_plane = 14;
    // a kernel applies when at least this fraction of the lanes it computes are real outputs.
    double min_lane_efficiency = 0.75;
    // Output channels per register tile of the direct and Winograd kernels.
    std::size_t direct_mr = 8;
    // safnet's GEMM (detail/gemm.hpp) rather than Eigen's: at least this many rows of a, and
    // rows of b that are whole SIMD vectors or at least this long.
    std::size_t gemm_min_rows = 8;
    std::size_t gemm_min_columns = 128;
    // The weight gradient through im2col: the lane-wise dot-product kernel for at least this
    // many output pixels (its final reductions dominate shorter rows), else Eigen.
    std::size_t wgrad_dot_min_pixels = 512;
};

inline constexpr ConvTuning conv_tuning{};

/// Whether out (m x n) = a (m x k) * b (k x n) runs in safnet's GEMM rather than Eigen's.
constexpr bool use_own_gemm(std::size_t m, std::size_t n, std::size_t simd_width) noexcept {
    return m >= conv_tuning.gemm_min_rows && (n % simd_width == 0 || n >= conv_tuning.gemm_min_columns);
}

}  // namespace safnet::detail
