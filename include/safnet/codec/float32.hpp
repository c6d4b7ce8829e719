// safnet/codec/float32.hpp — IEEE binary32 storage: the word is the float's own bit pattern.
#pragma once

#include <safnet/codec/codec.hpp>

#include <bit>
#include <cstdint>
#include <cstring>

namespace safnet {

struct Float32 {
    using word_type = std::uint32_t;
    static constexpr int bits = 32;
    int bits_per_value() const noexcept { return bits; }
    std::string name() const { return "fp32"; }

    word_type encode_one(float x) const noexcept { return std::bit_cast<word_type>(x); }
    float decode_one(word_type w) const noexcept { return std::bit_cast<float>(w); }

    void encode(std::span<const float> in, std::span<word_type> out) const {
        detail::require_codec_sizes(in.size(), out.size(), "fp32");
        if (!in.empty()) std::memcpy(out.data(), in.data(), out.size_bytes());
    }
    void decode(std::span<const word_type> in, std::span<float> out) const {
        detail::require_codec_sizes(out.size(), in.size(), "fp32");
        if (!in.empty()) std::memcpy(out.data(), in.data(), out.size_bytes());
    }
};

static_assert(Codec<Float32>);

}  // namespace safnet
