// safnet/codec/bfloat16.hpp — bfloat16 storage (the top 16 bits of a binary32).
//
// encode: round to nearest, ties to even, on every input including subnormals (no flush to
// zero, unlike AVX512-BF16's VCVTNEPS2BF16); values past bf16's largest finite round to +-Inf
// as IEEE rounding says; NaN stays NaN (quieted, sign and top payload bits kept).
// decode: exact, the word shifted into the high half of a binary32.
// The span versions are xsimd integer code: the same arithmetic as the scalar version.
#pragma once

#include <safnet/codec/codec.hpp>

#include <xsimd/xsimd.hpp>

#include <bit>
#include <cstdint>

namespace safnet {
namespace detail {

inline std::uint16_t float_to_bfloat16_bits(float f) noexcept {
    const std::uint32_t u = std::bit_cast<std::uint32_t>(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 0x0040u);
    return static_cast<std::uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

inline float bfloat16_bits_to_float(std::uint16_t h) noexcept {
    return std::bit_cast<float>(static_cast<std::uint32_t>(h) << 16);
}

}  // namespace detail

struct BFloat16 {
    using word_type = std::uint16_t;
    static constexpr int bits = 16;
    int bits_per_value() const noexcept { return bits; }
    std::string name() const { return "bf16"; }

    word_type encode_one(float x) const noexcept { return detail::float_to_bfloat16_bits(x); }
    float decode_one(word_type w) const noexcept { return detail::bfloat16_bits_to_float(w); }

    void encode(std::span<const float> in, std::span<word_type> out) const {
        detail::require_codec_sizes(in.size(), out.size(), "bf16");
        using U = xsimd::batch<std::uint32_t>;
        constexpr std::size_t n = U::size;
        std::size_t i = 0;
        alignas(64) std::uint32_t tmp[n];
        for (; i + n <= in.size(); i += n) {
            const U u = xsimd::bitwise_cast<U>(xsimd::batch<float>::load_unaligned(in.data() + i));
            const U mag = u & U(0x7fffffffu);
            const U rounded = (u + U(0x7fffu) + ((u >> 16) & U(1u))) >> 16;
            const U nan = (u >> 16) | U(0x0040u);
            xsimd::select(mag > U(0x7f800000u), nan, rounded).store_aligned(tmp);
            for (std::size_t k = 0; k < n; ++k) out[i + k] = static_cast<word_type>(tmp[k]);
        }
        for (; i < in.size(); ++i) out[i] = encode_one(in[i]);
    }

    void decode(std::span<const word_type> in, std::span<float> out) const {
        detail::require_codec_sizes(out.size(), in.size(), "bf16");
        for (std::size_t i = 0; i < in.size(); ++i) out[i] = decode_one(in[i]);
    }
};

static_assert(Codec<BFloat16>);

}  // namespace safnet
