#include <safnet/codec/fixed_point.hpp>

#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace {

// Reference encoder in double: round half to even, saturate, NaN -> 0.
std::int64_t reference_q(float x, int ib, int fb) {
    const double lo = -std::ldexp(1.0, ib + fb), hi = std::ldexp(1.0, ib + fb) - 1;
    if (std::isnan(x)) return 0;
    double v = std::ldexp(double{x}, fb);
    v = std::min(std::max(v, lo), hi);
    double r = std::floor(v);
    const double frac = v - r;
    if (frac > 0.5 || (frac == 0.5 && std::fmod(r, 2.0) != 0)) r += 1;
    return static_cast<std::int64_t>(r);
}

template <class C>
void check_against_reference(const C& c, int ib, int fb) {
    std::mt19937_64 rng(21);
    const double range = std::ldexp(1.0, ib) * 1.5;
    std::uniform_real_distribution<float> u(static_cast<float>(-range), static_cast<float>(range));
    std::vector<float> in{0.0f, -0.0f, INFINITY, -INFINITY, NAN, -NAN, 1e30f, -1e30f, c.max_value(),
                          c.min_value(), c.step() / 2, -c.step() / 2, 3 * c.step() / 2, -3 * c.step() / 2};
    while (in.size() < 1'000'003) in.push_back(u(rng));
    std::vector<typename C::word_type> words(in.size());
    std::vector<float> out(in.size());
    c.encode(in, words);
    c.decode(words, out);
    const std::uint64_t mask = (std::uint64_t{1} << (1 + ib + fb)) - 1;
    for (std::size_t i = 0; i < in.size(); ++i) {
        const std::int64_t q = reference_q(in[i], ib, fb);
        INFO(c.name() << " x=" << in[i]);
        REQUIRE(words[i] == (static_cast<std::uint64_t>(q) & mask));
        REQUIRE(words[i] == c.encode_one(in[i]));
        REQUIRE(out[i] == static_cast<float>(std::ldexp(static_cast<double>(q), -fb)));
    }
}

}  // namespace

TEST_CASE("Q2.5: all 256 patterns decode exactly and re-encode to themselves", "[codec][fixed]") {
    const safnet::Q2_5 q;
    CHECK(q.bits_per_value() == 8);
    CHECK(q.name() == "q2.5");
    CHECK(q.step() == 1.0f / 32);
    CHECK(q.min_value() == -4.0f);
    CHECK(q.max_value() == 3.96875f);
    for (unsigned p = 0; p < 256; ++p) {
        const auto w = static_cast<std::uint8_t>(p);
        const float v = q.decode_one(w);
        REQUIRE(v == static_cast<float>(static_cast<std::int8_t>(w)) / 32.0f);
        REQUIRE(q.encode_one(v) == w);
    }
}

TEST_CASE("Q2.5 encode: round to nearest even, saturate, NaN to 0", "[codec][fixed]") {
    const safnet::Q2_5 q;
    CHECK(q.encode_one(1.0f / 64) == 0);     // 0.5 step: ties to even (0)
    CHECK(q.encode_one(3.0f / 64) == 2);     // 1.5 steps: ties to even (2)
    CHECK(q.encode_one(-1.0f / 64) == 0);
    CHECK(q.encode_one(100.0f) == 0x7f);
    CHECK(q.encode_one(-100.0f) == 0x80);
    CHECK(q.encode_one(INFINITY) == 0x7f);
    CHECK(q.encode_one(-INFINITY) == 0x80);
    CHECK(q.encode_one(NAN) == 0);
    CHECK(q.encode_one(3.98f) == 0x7f);      // rounds to 4.0, saturates to 3.96875
    check_against_reference(q, 2, 5);
}

TEST_CASE("other fixed-point formats: exhaustive patterns and padding bits", "[codec][fixed]") {
    const safnet::FixedPoint<3, 3> q33;  // 7 bits in a uint8: bit 7 is padding
    CHECK(q33.bits_per_value() == 7);
    for (unsigned p = 0; p < 128; ++p) {
        const auto w = static_cast<std::uint8_t>(p);
        const float v = q33.decode_one(w);
        REQUIRE(q33.encode_one(v) == w);
        REQUIRE(q33.decode_one(static_cast<std::uint8_t>(w | 0x80)) == v);  // padding ignored
    }
    const safnet::FixedPoint<7, 8> q78;  // 16 bits
    for (unsigned p = 0; p < 65536; ++p) {
        const auto w = static_cast<std::uint16_t>(p);
        REQUIRE(q78.encode_one(q78.decode_one(w)) == w);
    }
    check_against_reference(q33, 3, 3);
    check_against_reference(q78, 7, 8);
    check_against_reference(safnet::FixedPoint<11, 12>{}, 11, 12);  // 24 bits in a uint32
}

TEST_CASE("DynamicFixedPoint rejects formats that do not fit", "[codec][fixed]") {
    using safnet::DynamicFixedPoint;
    CHECK_THROWS_WITH(DynamicFixedPoint<std::uint8_t>(4, 4), Catch::Contains("q4.4"));
    CHECK_THROWS_AS(DynamicFixedPoint<std::uint32_t>(20, 10), safnet::Error);
    CHECK_THROWS_AS(DynamicFixedPoint<std::uint16_t>(-1, 3), safnet::Error);
    CHECK_NOTHROW(DynamicFixedPoint<std::uint8_t>(0, 7));
}
