#include <safnet/codec/float32.hpp>

#include <catch2/catch.hpp>

#include <bit>
#include <random>
#include <vector>

TEST_CASE("Float32 stores the float's own bits, NaN payloads included", "[codec][fp32]") {
    std::mt19937 rng(1);
    std::vector<float> in(10'001);
    for (auto& v : in) v = std::bit_cast<float>(static_cast<std::uint32_t>(rng()));
    std::vector<std::uint32_t> words(in.size());
    std::vector<float> out(in.size());
    const safnet::Float32 c;
    c.encode(in, words);
    c.decode(words, out);
    for (std::size_t i = 0; i < in.size(); ++i) {
        REQUIRE(words[i] == std::bit_cast<std::uint32_t>(in[i]));
        REQUIRE(std::bit_cast<std::uint32_t>(out[i]) == words[i]);
        REQUIRE(c.encode_one(in[i]) == words[i]);
    }
    CHECK(c.bits_per_value() == 32);
    CHECK(c.name() == "fp32");
    std::vector<std::uint32_t> short_words(3);
    CHECK_THROWS_WITH(c.encode(in, short_words), Catch::Contains("fp32") && Catch::Contains("10001 values"));
}
