#include <safnet/codec/float16.hpp>

#include <support/ulp.hpp>

#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <immintrin.h>
#include <random>
#include <vector>

namespace {

// The CPU's own conversions, compiled for F16C whatever the build's -march.
__attribute__((target("f16c"))) std::uint16_t hw_float_to_half(float f) {
    return static_cast<std::uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT));
}
__attribute__((target("f16c"))) float hw_half_to_float(std::uint16_t h) { return _cvtsh_ss(h); }
bool cpu_has_f16c() { return __builtin_cpu_supports("f16c"); }

std::uint32_t bits(float f) { return std::bit_cast<std::uint32_t>(f); }

// Every boundary of binary16: extremes, subnormal/normal edge, overflow edge, and the exact
// midpoints between all consecutive halves (plus the floats one ulp either side of them).
std::vector<float> boundary_floats() {
    std::vector<float> v{0.0f, -0.0f, 0x1.ff8p-15f /*largest subnormal*/, 0x1p-14f /*smallest normal*/,
                         0x1p-24f, 0x1p-25f, 0x1.000002p-25f, 65504.0f, 65519.99f, 65520.0f, 65536.0f,
                         1e10f, INFINITY, -INFINITY, NAN, 0x1p-149f, -0x1p-149f};
    for (std::uint32_t h = 0; h < 0x7c00; ++h) {
        const float a = safnet::detail::half_bits_to_float(static_cast<std::uint16_t>(h));
        const float b = safnet::detail::half_bits_to_float(static_cast<std::uint16_t>(h + 1));
        const float mid = static_cast<float>((double{a} + double{b}) / 2);  // exact in float
        for (float m : {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, INFINITY)}) {
            v.push_back(m);
            v.push_back(-m);
        }
    }
    return v;
}

}  // namespace

TEST_CASE("all 65536 half patterns survive decode -> encode (NaN stays NaN)", "[codec][fp16]") {
    for (std::uint32_t h = 0; h < 65536; ++h) {
        const auto w = static_cast<std::uint16_t>(h);
        const float f = safnet::detail::half_bits_to_float(w);
        const std::uint16_t back = safnet::detail::float_to_half_bits(f);
        const bool is_nan = (w & 0x7c00) == 0x7c00 && (w & 0x3ff);
        if (is_nan) {
            REQUIRE(std::isnan(f));
            REQUIRE((back & 0x7c00) == 0x7c00);
            REQUIRE((back & 0x3ff) != 0);
            REQUIRE((back & 0x8000) == (w & 0x8000));
        } else {
            REQUIRE(back == w);
        }
    }
}

TEST_CASE("half decode agrees bit for bit with F16C on all 65536 patterns", "[codec][fp16]") {
    if (!cpu_has_f16c()) {
        WARN("CPU lacks F16C: hardware comparison skipped");
        return;
    }
    for (std::uint32_t h = 0; h < 65536; ++h) {
        const auto w = static_cast<std::uint16_t>(h);
        REQUIRE(bits(safnet::detail::half_bits_to_float(w)) == bits(hw_half_to_float(w)));
    }
}

TEST_CASE("half encode agrees bit for bit with F16C on boundaries and 1e7 random floats", "[codec][fp16]") {
    if (!cpu_has_f16c()) {
        WARN("CPU lacks F16C: hardware comparison skipped");
        return;
    }
    for (float f : boundary_floats()) {
        INFO("f = " << f << " bits " << std::hex << bits(f));
        REQUIRE(safnet::detail::float_to_half_bits(f) == hw_float_to_half(f));
    }
    std::mt19937_64 rng(2024);
    std::size_t mismatches = 0;
    for (std::size_t i = 0; i < safnet::test::scaled(10'000'000); ++i) {
        auto u = static_cast<std::uint32_t>(rng());
        // Half of the draws are any bit pattern (NaNs, huge, tiny); half land in half's range.
        if (i & 1) u = (u & 0x807fffffu) | ((100u + (u >> 23) % 46u) << 23);
        const float f = std::bit_cast<float>(u);
        mismatches += safnet::detail::float_to_half_bits(f) != hw_float_to_half(f);
    }
    CHECK(mismatches == 0);
}

TEST_CASE("Float16 span encode/decode equal the scalar conversions (SIMD path and tail)", "[codec][fp16]") {
    std::mt19937 rng(5);
    std::vector<float> in = boundary_floats();
    for (int i = 0; i < 100'003; ++i) in.push_back(std::bit_cast<float>(static_cast<std::uint32_t>(rng())));
    in.push_back(1.0f);  // make the size odd
    const safnet::Float16 c;
    std::vector<std::uint16_t> words(in.size()), portable(in.size());
    c.encode(in, words);
    safnet::detail::encode_half_portable(in, portable);
    std::vector<float> out(in.size()), out_portable(in.size());
    c.decode(words, out);
    safnet::detail::decode_half_portable(words, out_portable);
    for (std::size_t i = 0; i < in.size(); ++i) {
        REQUIRE(words[i] == c.encode_one(in[i]));
        REQUIRE(portable[i] == words[i]);
        REQUIRE(bits(out[i]) == bits(c.decode_one(words[i])));
        REQUIRE(bits(out_portable[i]) == bits(out[i]));
    }
}

TEST_CASE("Float16 rounding examples", "[codec][fp16]") {
    const safnet::Float16 c;
    CHECK(c.encode_one(65504.0f) == 0x7bff);
    CHECK(c.encode_one(65519.0f) == 0x7bff);
    CHECK(c.encode_one(65520.0f) == 0x7c00);  // halfway to 65536 overflows to Inf
    CHECK(c.encode_one(-1e9f) == 0xfc00);
    CHECK(c.encode_one(0x1p-24f) == 0x0001);  // smallest subnormal
    CHECK(c.encode_one(0x1p-25f) == 0x0000);  // halfway to 0: ties to even
    CHECK(c.encode_one(0x1.8p-24f) == 0x0002);  // 1.5 units: ties to even (2)
    CHECK(c.encode_one(1.0f + 0x1p-11f) == 0x3c00);  // halfway: to even
    CHECK(c.encode_one(1.0f + 0x1.8p-10f) == 0x3c02);
    CHECK(c.decode_one(0x3555) == Approx(0.33325195f));
    CHECK(c.bits_per_value() == 16);
}
