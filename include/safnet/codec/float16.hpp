// safnet/codec/float16.hpp — IEEE binary16 ("half") storage.
//
// encode: round to nearest, ties to even; results below half's range become subnormals or
// +-0, values with |x| >= 65520 overflow to +-Inf, NaN stays NaN (quieted, sign and the top
// 10 payload bits kept). This is bit-for-bit what x86's F16C VCVTPS2PH does with
// round-to-nearest, which the tests check on every boundary and 1e7 random floats.
// decode: exact (every half is a float); a signalling NaN comes back quiet, as with F16C.
// Span versions use AVX-512 or F16C when the compiler targets them (detail/arch/), else the
// portable scalar code (which the portable test build exercises).
#pragma once

#include <safnet/codec/codec.hpp>
#include <safnet/detail/arch/dispatch.hpp>

#include <bit>
#include <cstdint>


namespace safnet {
namespace detail {

inline std::uint16_t float_to_half_bits(float f) noexcept {
    const std::uint32_t u = std::bit_cast<std::uint32_t>(f);
    const auto sign = static_cast<std::uint16_t>((u >> 16) & 0x8000u);
    const std::uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u)  // NaN: quiet it, keep the top payload bits
        return static_cast<std::uint16_t>(sign | 0x7e00u | ((a >> 13) & 0x03ffu));
    if (a >= 0x477ff000u)  // >= 65520 (halfway above 65504) and Inf -> Inf
        return static_cast<std::uint16_t>(sign | 0x7c00u);
    if (a >= 0x38800000u) {  // normal half: rebias exponent (127 -> 15), round 13 bits away
        std::uint32_t r = a - 0x38000000u;
        r += 0x0fffu + ((r >> 13) & 1u);
        return static_cast<std::uint16_t>(sign | (r >> 13));
    }
    if (a <= 0x33000000u) return sign;  // |f| <= 2^-25: ties to even -> 0
    // Subnormal half: the result counts units of 2^-24.
    const std::uint32_t e = a >> 23;
    const std::uint32_t m = (a & 0x7fffffu) | 0x800000u;
    const std::uint32_t shift = 126u - e;  // in [14, 24]
    std::uint32_t r = m >> shift;
    const std::uint32_t rem = m & ((1u << shift) - 1u);
    const std::uint32_t halfway = 1u << (shift - 1u);
    if (rem > halfway || (rem == halfway && (r & 1u))) ++r;
    return static_cast<std::uint16_t>(sign | r);
}

inline float half_bits_to_float(std::uint16_t h) noexcept {
    const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
    const std::uint32_t e = (h >> 10) & 0x1fu;
    const std::uint32_t m = h & 0x3ffu;
    if (e == 31)
        return std::bit_cast<float>(sign | (m ? 0x7fc00000u | (m << 13) : 0x7f800000u));
    if (e == 0) {
        const float mag = static_cast<float>(m) * 0x1p-24f;  // exact
        return std::bit_cast<float>(sign | std::bit_cast<std::uint32_t>(mag));
    }
    return std::bit_cast<float>(sign | ((e + 112u) << 23) | (m << 13));
}

inline void encode_half_portable(std::span<const float> in, std::span<std::uint16_t> out) noexcept {
    for (std::size_t i = 0; i < in.size(); ++i) out[i] = float_to_half_bits(in[i]);
}
inline void decode_half_portable(std::span<const std::uint16_t> in, std::span<float> out) noexcept {
    for (std::size_t i = 0; i < in.size(); ++i) out[i] = half_bits_to_float(in[i]);
}

}  // namespace detail

struct Float16 {
    using word_type = std::uint16_t;
    static constexpr int bits = 16;
    int bits_per_value() const noexcept { return bits; }
    std::string name() const { return "fp16"; }

    word_type encode_one(float x) const noexcept { return detail::float_to_half_bits(x); }
    float decode_one(word_type w) const noexcept { return detail::half_bits_to_float(w); }

    void encode(std::span<const float> in, std::span<word_type> out) const {
        detail::require_codec_sizes(in.size(), out.size(), "fp16");
        const std::size_t i = detail::encode_half_prefix(xsimd::default_arch{}, in.data(), in.size(), out.data());
        detail::encode_half_portable(in.subspan(i), out.subspan(i));
    }

    void decode(std::span<const word_type> in, std::span<float> out) const {
        detail::require_codec_sizes(out.size(), in.size(), "fp16");
        const std::size_t i = detail::decode_half_prefix(xsimd::default_arch{}, in.data(), in.size(), out.data());
        detail::decode_half_portable(in.subspan(i), out.subspan(i));
    }
};

static_assert(Codec<Float16>);

}  // namespace safnet
