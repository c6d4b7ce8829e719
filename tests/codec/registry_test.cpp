#include <safnet/codec/registry.hpp>

#include <catch2/catch.hpp>

TEST_CASE("codec_from_name maps names to codecs and back", "[codec][registry]") {
    for (const char* n : {"fp32", "fp16", "bf16", "q2.5", "q3.4", "q0.7", "q7.8", "q11.12"})
        CHECK(safnet::codec_name(safnet::codec_from_name(n)) == n);
    CHECK(std::holds_alternative<safnet::DynamicFixedPoint<std::uint8_t>>(safnet::codec_from_name("q2.5")));
    CHECK(std::holds_alternative<safnet::DynamicFixedPoint<std::uint16_t>>(safnet::codec_from_name("q7.8")));
    CHECK(std::holds_alternative<safnet::DynamicFixedPoint<std::uint32_t>>(safnet::codec_from_name("q11.12")));
    const int bits = std::visit([](const auto& c) { return c.bits_per_value(); }, safnet::codec_from_name("q3.3"));
    CHECK(bits == 7);
}

TEST_CASE("codec_from_name rejects bad names with the valid forms", "[codec][registry]") {
    CHECK_THROWS_WITH(safnet::codec_from_name("fp8"), Catch::Contains("'fp8'") && Catch::Contains("q<I>.<F>"));
    CHECK_THROWS_AS(safnet::codec_from_name("q2"), safnet::Error);
    CHECK_THROWS_AS(safnet::codec_from_name("q2.x"), safnet::Error);
    CHECK_THROWS_AS(safnet::codec_from_name("q-1.5"), safnet::Error);
    CHECK_THROWS_WITH(safnet::codec_from_name("q20.10"), Catch::Contains("31 bits"));
    CHECK_THROWS_WITH(safnet::codec_from_name("q657599104.1657599100"), Catch::Contains("at most 23"));  // 1 + I + F once overflowed int (found by fuzz_parsers)
    CHECK_THROWS_AS(safnet::codec_from_name(""), safnet::Error);
}
