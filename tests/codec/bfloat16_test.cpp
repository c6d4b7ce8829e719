#include <safnet/codec/bfloat16.hpp>

#include <support/ulp.hpp>

#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <random>
#include <vector>

namespace {

std::uint32_t bits(float f) { return std::bit_cast<std::uint32_t>(f); }

// Independent reference: pick the nearer of the two neighbouring bf16 values in exact
// (double) arithmetic, ties to the even one; 2^128 stands for Inf.
std::uint16_t reference_bf16(float f) {
    if (std::isnan(f)) return static_cast<std::uint16_t>((bits(f) >> 16) | 0x40);
    if (std::isinf(f)) return static_cast<std::uint16_t>(bits(f) >> 16);
    const std::uint32_t sign = bits(f) & 0x80000000u;
    const std::uint32_t lo = (bits(f) & 0x7fffffffu) >> 16;
    const std::uint32_t hi = lo + 1;
    const double d = std::abs(double{f});
    const double dl = std::bit_cast<float>(lo << 16);
    const double dh = hi == 0x7f80 ? std::ldexp(1.0, 128) : double{std::bit_cast<float>(hi << 16)};
    std::uint32_t r;
    if (d - dl < dh - d) r = lo;
    else if (d - dl > dh - d) r = hi;
    else r = (lo & 1) ? hi : lo;
    return static_cast<std::uint16_t>((sign >> 16) | r);
}

}  // namespace

TEST_CASE("all 65536 bfloat16 patterns survive decode -> encode (NaN stays NaN)", "[codec][bf16]") {
    const safnet::BFloat16 c;
    for (std::uint32_t h = 0; h < 65536; ++h) {
        const auto w = static_cast<std::uint16_t>(h);
        const float f = c.decode_one(w);
        REQUIRE(bits(f) == h << 16);  // decode is exact
        const std::uint16_t back = c.encode_one(f);
        if (std::isnan(f)) {
            REQUIRE(std::isnan(c.decode_one(back)));
        } else {
            REQUIRE(back == w);
        }
    }
}

TEST_CASE("bfloat16 encode rounds to nearest even on every midpoint and 1e7 random floats", "[codec][bf16]") {
    const safnet::BFloat16 c;
    std::vector<float> v{0.0f, -0.0f, 0x1p-149f, 3.4028235e38f, -3.4028235e38f, INFINITY, NAN};
    for (std::uint32_t h = 0; h < 0x7f80; ++h) {  // midpoints between consecutive finite bf16
        const std::uint32_t mid = (h << 16) | 0x8000u;
        for (std::uint32_t m : {mid, mid - 1, mid + 1}) {
            v.push_back(std::bit_cast<float>(m));
            v.push_back(-std::bit_cast<float>(m));
        }
    }
    for (float f : v) {
        INFO("bits " << std::hex << bits(f));
        REQUIRE(c.encode_one(f) == reference_bf16(f));
    }
    std::mt19937_64 rng(77);
    std::size_t mismatches = 0;
    for (std::size_t i = 0; i < safnet::test::scaled(10'000'000); ++i) {
        const float f = std::bit_cast<float>(static_cast<std::uint32_t>(rng()));
        mismatches += c.encode_one(f) != reference_bf16(f);
    }
    CHECK(mismatches == 0);
    CHECK(c.encode_one(3.4028235e38f) == 0x7f80);  // above bf16's max finite + half ulp: Inf
}

TEST_CASE("BFloat16 span encode/decode equal the scalar conversions", "[codec][bf16]") {
    std::mt19937 rng(9);
    std::vector<float> in(65'537);
    for (auto& f : in) f = std::bit_cast<float>(static_cast<std::uint32_t>(rng()));
    const safnet::BFloat16 c;
    std::vector<std::uint16_t> words(in.size());
    std::vector<float> out(in.size());
    c.encode(in, words);
    c.decode(words, out);
    for (std::size_t i = 0; i < in.size(); ++i) {
        REQUIRE(words[i] == c.encode_one(in[i]));
        REQUIRE(bits(out[i]) == bits(c.decode_one(words[i])));
    }
}
