// safnet/codec/fixed_point.hpp — signed two's-complement fixed point, Q<I>.<F>.
//
// A value is stored in 1 + I + F bits (sign, I integer bits, F fraction bits) in the low bits
// of the smallest unsigned word that holds them; step 2^-F, range [-2^I, 2^I - 2^-F].
// encode: round to nearest, ties to even; saturate out-of-range values (and +-Inf) to the
// range ends; NaN encodes to 0 (a fixed-point word has no NaN).
// decode: exact; the padding bits above the 1+I+F storage bits are ignored.
// Q2_5 = FixedPoint<2, 5>: 8 bits, step 1/32, range [-4, 3.96875], the paper's 8-bit format.
// DynamicFixedPoint<Word> is the same codec with I and F chosen at run time (used by the
// codec registry for names like "q3.4"); 1 + I + F must fit the word and be <= 24 so that
// every stored value is exactly a float.
#pragma once

#include <safnet/codec/codec.hpp>

#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <limits>
#include <type_traits>

namespace safnet {

template <std::unsigned_integral Word>
class DynamicFixedPoint {
public:
    using word_type = Word;

    DynamicFixedPoint(int int_bits, int frac_bits) : int_bits_(int_bits), frac_bits_(frac_bits) {
        const int total = 1 + int_bits + frac_bits;
        if (int_bits < 0 || frac_bits < 0 || total > max_bits())
            throw Error("fixed-point format q" + std::to_string(int_bits) + "." +
                        std::to_string(frac_bits) + ": needs 0 <= integer bits, 0 <= fraction "
                        "bits and 1 + integer + fraction <= " + std::to_string(max_bits()));
        scale_ = std::ldexp(1.0f, frac_bits);
        inv_scale_ = std::ldexp(1.0f, -frac_bits);
        qmax_ = (std::int32_t{1} << (int_bits + frac_bits)) - 1;
        qmin_ = -qmax_ - 1;
        mask_ = static_cast<std::uint32_t>((std::uint64_t{1} << total) - 1);
    }

    static constexpr int max_bits() noexcept { return std::min(24, std::numeric_limits<Word>::digits); }
    int int_bits() const noexcept { return int_bits_; }
    int frac_bits() const noexcept { return frac_bits_; }
    int bits_per_value() const noexcept { return 1 + int_bits_ + frac_bits_; }
    std::string name() const { return "q" + std::to_string(int_bits_) + "." + std::to_string(frac_bits_); }
    float step() const noexcept { return inv_scale_; }
    float min_value() const noexcept { return static_cast<float>(qmin_) * inv_scale_; }
    float max_value() const noexcept { return static_cast<float>(qmax_) * inv_scale_; }

    word_type encode_one(float x) const noexcept {
        if (std::isnan(x)) return 0;
        const float v = std::clamp(x * scale_, static_cast<float>(qmin_), static_cast<float>(qmax_));
        const auto q = static_cast<std::int32_t>(std::nearbyint(v));
        return static_cast<word_type>(static_cast<std::uint32_t>(q) & mask_);
    }

    float decode_one(word_type w) const noexcept {
        const int shift = 32 - bits_per_value();
        // Sign-extend from the top storage bit (C++20: modular conversion, arithmetic shift).
        const auto q = static_cast<std::int32_t>(static_cast<std::uint32_t>(w) << shift) >> shift;
        return static_cast<float>(q) * inv_scale_;
    }

    void encode(std::span<const float> in, std::span<word_type> out) const {
        detail::require_codec_sizes(in.size(), out.size(), "fixed-point");
        using B = xsimd::batch<float>;
        constexpr std::size_t n = B::size;
        alignas(64) std::int32_t tmp[n];
        std::size_t i = 0;
        const B scale(scale_), lo(static_cast<float>(qmin_)), hi(static_cast<float>(qmax_));
        for (; i + n <= in.size(); i += n) {
            const B x = B::load_unaligned(in.data() + i);
            B v = xsimd::select(xsimd::isnan(x), B(0.0f), x * scale);
            v = xsimd::min(xsimd::max(v, lo), hi);
            xsimd::nearbyint_as_int(v).store_aligned(tmp);
            for (std::size_t k = 0; k < n; ++k)
                out[i + k] = static_cast<word_type>(static_cast<std::uint32_t>(tmp[k]) & mask_);
        }
        for (; i < in.size(); ++i) out[i] = encode_one(in[i]);
    }

    void decode(std::span<const word_type> in, std::span<float> out) const {
        detail::require_codec_sizes(out.size(), in.size(), "fixed-point");
        const int shift = 32 - bits_per_value();
        const float inv = inv_scale_;
        for (std::size_t i = 0; i < in.size(); ++i) {
            const auto q = static_cast<std::int32_t>(static_cast<std::uint32_t>(in[i]) << shift) >> shift;
            out[i] = static_cast<float>(q) * inv;
        }
    }

private:
    int int_bits_, frac_bits_;
    float scale_, inv_scale_;
    std::int32_t qmin_, qmax_;
    std::uint32_t mask_;
};

namespace detail {
template <int Bits>
using fixed_word_t = std::conditional_t<(Bits <= 8), std::uint8_t,
                                        std::conditional_t<(Bits <= 16), std::uint16_t, std::uint32_t>>;
}  // namespace detail

/// Q<IntBits>.<FracBits> with the format fixed at compile time.
template <int IntBits, int FracBits>
struct FixedPoint : DynamicFixedPoint<detail::fixed_word_t<1 + IntBits + FracBits>> {
    static_assert(IntBits >= 0 && FracBits >= 0 && 1 + IntBits + FracBits <= 24,
                  "FixedPoint<I, F>: need I, F >= 0 and 1 + I + F <= 24");
    static constexpr int bits = 1 + IntBits + FracBits;
    FixedPoint() : DynamicFixedPoint<detail::fixed_word_t<bits>>(IntBits, FracBits) {}
};

using Q2_5 = FixedPoint<2, 5>;

static_assert(Codec<Q2_5> && Codec<DynamicFixedPoint<std::uint16_t>>);

}  // namespace safnet
