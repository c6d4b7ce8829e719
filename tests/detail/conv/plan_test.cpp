// The convolution plan (detail/conv/plan.hpp) follows its tuning table (tuning.hpp): the
// thresholds are read from conv_tuning here, not restated.
#include <catch2/catch.hpp>

#include <safnet/detail/conv/plan.hpp>

using safnet::detail::ConvPlan;
using safnet::detail::conv_tuning;
using safnet::detail::plan_convolution;
using safnet::nn::ConvAlgorithm;

namespace {
ConvPlan::Kind kind(std::size_t c, std::size_t o, std::size_t hw, std::size_t kernel = 3, std::size_t stride = 1,
                    ConvAlgorithm a = ConvAlgorithm::automatic) {
    return plan_convolution<float>({c, o, hw, hw, kernel / 2, kernel, stride, a}).kind;
}
}  // namespace

TEST_CASE("automatic: Winograd from the table's channel count on row-layout planes", "[detail][conv]") {
    const std::size_t enough = conv_tuning.winograd_min_channels;
    CHECK(kind(enough, enough, 32) == ConvPlan::winograd);
    CHECK(kind(enough - 1, enough, 32) == ConvPlan::direct);
    CHECK(kind(enough, enough - 1, 32) == ConvPlan::direct);
    CHECK(kind(2 * enough, 2 * enough, 16) == ConvPlan::winograd);
}

TEST_CASE("automatic: flat planes below the table's size stay on the direct kernel", "[detail][conv]") {
    // Whether a plane is flat depends on the SIMD width (8x8 rows fill half an AVX-512 vector,
    // two whole SSE ones).
    for (const std::size_t side : {7, 8}) {
        CAPTURE(side, xsimd::batch<float>::size);
        const bool flat = safnet::detail::direct_conv_shape<float>(64, 64, 3, side, side).flat;
        const bool efficient = safnet::detail::winograd_shape<float>(64, 64, side, side, 1).efficiency() >= conv_tuning.min_lane_efficiency;
        CHECK(kind(64, 64, side) == (!flat && efficient ? ConvPlan::winograd : ConvPlan::direct));
        if (xsimd::batch<float>::size == 16) CHECK(kind(64, 64, side) == ConvPlan::direct);
    }
    CHECK(kind(32, 32, conv_tuning.winograd_min_flat_plane) == ConvPlan::winograd);
}

TEST_CASE("GEMM where no stride-1 kernel applies; forced algorithms where they do", "[detail][conv]") {
    CHECK(kind(16, 32, 32, 3, 2) == ConvPlan::gemm);                         // stride 2
    CHECK(kind(16, 16, 32, 1, 1) == ConvPlan::gemm);                         // pointwise: read as is
    CHECK(kind(16, 16, 32, 3, 1, ConvAlgorithm::gemm) == ConvPlan::gemm);
    CHECK(kind(16, 16, 32, 3, 1, ConvAlgorithm::direct) == ConvPlan::direct);
    CHECK(kind(1, 1, 32, 3, 1, ConvAlgorithm::winograd) == ConvPlan::winograd);
    CHECK(kind(4, 4, 32, 5, 1, ConvAlgorithm::winograd) == ConvPlan::direct);  // Winograd is 3x3 only
}

TEST_CASE("own GEMM rule", "[detail][conv]") {
    CHECK(safnet::detail::use_own_gemm(conv_tuning.gemm_min_rows, 16, 16));
    CHECK_FALSE(safnet::detail::use_own_gemm(conv_tuning.gemm_min_rows - 1, 16, 16));
    CHECK_FALSE(safnet::detail::use_own_gemm(16, 49, 16));
    CHECK(safnet::detail::use_own_gemm(16, conv_tuning.gemm_min_columns + 1, 16));
}
