// safnet/random/philox.hpp — Philox4x32-10, a counter-based random number generator.
//
// Salmon, Moraes, Dror, Shaw: "Parallel Random Numbers: As Easy as 1, 2, 3" (SC'11).
// philox4x32_10(counter, key) is a pure function (a keyed bijection of 128-bit counters),
// checked against Random123's published known-answer vectors. Because it has no state, a
// fault campaign draws its randomness from addresses, not from a sequence: the stream of
// (seed, round, tensor) is the same whichever thread computes it, in whatever order.
//
// PhiloxStream(StreamKey{seed, round, tensor}) yields the blocks at counters
// {block_lo, block_hi, tensor, round} under key {seed_lo, seed_hi}, block = 0, 1, 2, ...
// philox4x32_10_lanes computes several counters at once with xsimd (used by the
// Bernoulli-mask injector); it returns exactly what the scalar function returns.
#pragma once

#include <xsimd/xsimd.hpp>

#include <array>
#include <cstddef>
#include <cstdint>

namespace safnet::random {

using PhiloxCounter = std::array<std::uint32_t, 4>;
using PhiloxKey = std::array<std::uint32_t, 2>;

namespace detail {
inline constexpr std::uint32_t philox_m0 = 0xD2511F53u;
inline constexpr std::uint32_t philox_m1 = 0xCD9E8D57u;
inline constexpr std::uint32_t philox_w0 = 0x9E3779B9u;  // golden ratio
inline constexpr std::uint32_t philox_w1 = 0xBB67AE85u;  // sqrt(3) - 1
}  // namespace detail

constexpr PhiloxCounter philox4x32_10(PhiloxCounter c, PhiloxKey k) noexcept {
    for (int r = 0; r < 10; ++r) {
        if (r > 0) {
            k[0] += detail::philox_w0;
            k[1] += detail::philox_w1;
        }
        const std::uint64_t p0 = std::uint64_t{detail::philox_m0} * c[0];
        const std::uint64_t p1 = std::uint64_t{detail::philox_m1} * c[2];
        c = {static_cast<std::uint32_t>(p1 >> 32) ^ c[1] ^ k[0], static_cast<std::uint32_t>(p1),
             static_cast<std::uint32_t>(p0 >> 32) ^ c[3] ^ k[1], static_cast<std::uint32_t>(p0)};
    }
    return c;
}

/// Identifies one independent random stream of a fault campaign.
struct StreamKey {
    std::uint64_t seed = 0;
    std::uint32_t round = 0;
    std::uint32_t tensor = 0;
};

inline PhiloxKey philox_key(const StreamKey& s) noexcept {
    return {static_cast<std::uint32_t>(s.seed), static_cast<std::uint32_t>(s.seed >> 32)};
}
inline PhiloxCounter philox_counter(const StreamKey& s, std::uint64_t block) noexcept {
    return {static_cast<std::uint32_t>(block), static_cast<std::uint32_t>(block >> 32), s.tensor, s.round};
}

/// Sequential draws from one (seed, round, tensor) stream.
class PhiloxStream {
public:
    explicit PhiloxStream(StreamKey key, std::uint64_t first_block = 0) noexcept
        : key_(key), block_(first_block) {}

    std::uint32_t next_u32() noexcept {
        if (used_ == 4) refill();
        return buf_[used_++];
    }
    std::uint64_t next_u64() noexcept {
        const std::uint64_t lo = next_u32();
        return lo | (std::uint64_t{next_u32()} << 32);
    }
    /// Uniform on (0, 1] with 53 random bits: never 0, so log() of it is finite.
    double next_open0() noexcept {
        return static_cast<double>((next_u64() >> 11) + 1) * 0x1p-53;
    }
    /// Uniform integer in [0, n) without modulo bias (Lemire's multiply-and-reject), n > 0.
    std::uint64_t next_below(std::uint64_t n) noexcept {
        for (;;) {
            const unsigned __int128 m = static_cast<unsigned __int128>(next_u64()) * n;
            const auto lo = static_cast<std::uint64_t>(m);
            if (lo >= n || lo >= (0 - n) % n) return static_cast<std::uint64_t>(m >> 64);
        }
    }

private:
    void refill() noexcept {
        buf_ = philox4x32_10(philox_counter(key_, block_++), philox_key(key_));
        used_ = 0;
    }
    StreamKey key_;
    std::uint64_t block_;
    PhiloxCounter buf_{};
    int used_ = 4;
};

namespace detail {

/// Philox4x32-10 on B::size counters at once. Each uint64 lane holds one 32-bit word
/// (zero-extended) so the 32x32->64 products of the rounds are plain 64-bit multiplies.
template <class B>
inline void philox4x32_10_lanes(B& c0, B& c1, B& c2, B& c3, PhiloxKey key) noexcept {
    const B lo32(0xffffffffull), m0(philox_m0), m1(philox_m1);
    std::uint32_t k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; ++r) {
        if (r > 0) {
            k0 += philox_w0;
            k1 += philox_w1;
        }
        const B p0 = c0 * m0;
        const B p1 = c2 * m1;
        const B n0 = (p1 >> 32) ^ c1 ^ B(std::uint64_t{k0});
        const B n2 = (p0 >> 32) ^ c3 ^ B(std::uint64_t{k1});
        c0 = n0;
        c1 = p1 & lo32;
        c2 = n2;
        c3 = p0 & lo32;
    }
}

}  // namespace detail
}  // namespace safnet::random
