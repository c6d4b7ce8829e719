// ISA dispatch (detail/arch/): the most derived architecture compiled in gets its overload, the
// generic fallback does nothing, and an ISA kernel gives exactly the portable loop's result.
#include <catch2/catch.hpp>

#include <safnet/detail/arch/dispatch.hpp>
#include <safnet/detail/conv/weight_gradient.hpp>

#include <array>
#include <cstdint>
#include <random>
#include <vector>

using namespace safnet::detail;

TEST_CASE("the generic fallbacks do nothing, so the portable loop does everything", "[detail][arch]") {
    std::vector<float> in(64, 1.0f), out(64 * 16, 0.0f);
    CHECK(transpose_blocks_to_pixel_major(xsimd::generic{}, in.data(), 16, 4, 16, out.data()) == 0);
    CHECK_FALSE(loads_short_rows<float>(xsimd::generic{}));
    std::vector<std::uint16_t> half(64);
    CHECK(encode_half_prefix(xsimd::generic{}, in.data(), in.size(), half.data()) == 0);
    CHECK(decode_half_prefix(xsimd::generic{}, half.data(), half.size(), in.data()) == 0);
}

TEST_CASE("the compiled-in ISA's overloads are chosen", "[detail][arch]") {
    std::vector<float> in(16 * 48), out(48 * 16);
    const std::size_t done = transpose_blocks_to_pixel_major(xsimd::default_arch{}, in.data(), 16, 48, 16, out.data());
#if XSIMD_WITH_AVX512F
    CHECK(done == 48);
    CHECK(loads_short_rows<float>(xsimd::default_arch{}));
#else
    CHECK(done == 0);
#endif
}

TEST_CASE("transpose_to_pixel_major: the ISA path equals the portable one", "[detail][arch]") {
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> u(-1, 1);
    for (const auto [channels, pixels, padded] : {std::array<std::size_t, 3>{16, 49, 16}, {32, 64, 32}, {16, 1024, 16}, {10, 33, 16}, {48, 17, 48}}) {
        CAPTURE(channels, pixels, padded);
        std::vector<float> dy(channels * pixels);
        for (auto& v : dy) v = u(rng);
        std::vector<float> fast(pixels * padded, 7.0f), portable(pixels * padded, 7.0f);
        transpose_to_pixel_major(dy.data(), channels, pixels, padded, fast.data());
        transpose_to_pixel_major<float, xsimd::generic>(dy.data(), channels, pixels, padded, portable.data());
        CHECK(fast == portable);
        for (std::size_t p = 0; p < pixels; ++p)
            for (std::size_t o = 0; o < padded; ++o) REQUIRE(portable[p * padded + o] == (o < channels ? dy[o * pixels + p] : 0.0f));
    }
}
