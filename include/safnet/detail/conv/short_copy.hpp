// safnet/detail/conv/short_copy.hpp — inline copies and zero fills of rows shorter than a few
// SIMD vectors (7-32 floats: the rows of ResNet's planes), used by every convolution kernel.
#pragma once

#include <xsimd/xsimd.hpp>

#include <cstddef>
#include <cstring>
#include <type_traits>

namespace safnet::detail {

// Tails shorter than a vector, as at most two overlapping fixed-size moves: GCC turns a
// scalar tail loop into a memmove/memset call (4 % of a 1x28x28 training step, for the
// 12-float tails of Winograd's output rows), and AVX-512 masked moves are slower still on
// this CPU. A memcpy of constant size compiles to one register load and store.
namespace tail {
template <std::size_t Bytes>
inline void move(const char* src, char* dst) { std::memcpy(dst, src, Bytes); }

/// dst[0, bytes) = src[0, bytes) for bytes < Limit <= 64 (no overlap between src and dst):
/// moves of Size bytes exist only for Size < Limit (GCC warns of the others' bounds).
template <std::size_t Limit>
inline void copy(const char* src, char* dst, std::size_t bytes) {
    static_assert(Limit <= 64);
    const auto both = [&]<std::size_t Size>(std::integral_constant<std::size_t, Size>) {
        move<Size>(src, dst);
        move<Size>(src + bytes - Size, dst + bytes - Size);
    };
    if constexpr (Limit > 32)
        if (bytes >= 32) return both(std::integral_constant<std::size_t, 32>{});
    if constexpr (Limit > 16)
        if (bytes >= 16) return both(std::integral_constant<std::size_t, 16>{});
    if constexpr (Limit > 8)
        if (bytes >= 8) return both(std::integral_constant<std::size_t, 8>{});
    if constexpr (Limit > 4)
        if (bytes >= 4) return both(std::integral_constant<std::size_t, 4>{});
    if (bytes >= 2) return both(std::integral_constant<std::size_t, 2>{});
    if (bytes == 1) *dst = *src;
}
}  // namespace tail

// dst[0, n) = src[0, n) for short rows, inline: a memcpy/memset call per 32-128-byte row
// cost ~8 % of a training step (measured with perf).
template <class T>
inline void copy_short(const T* src, T* dst, std::size_t n) {
    using B = xsimd::batch<T>;
    std::size_t j = 0;
    for (; j + B::size <= n; j += B::size) B::load_unaligned(src + j).store_unaligned(dst + j);
    tail::copy<B::size * sizeof(T)>(reinterpret_cast<const char*>(src + j), reinterpret_cast<char*>(dst + j), (n - j) * sizeof(T));
}
template <class T>
inline void zero_short(T* dst, std::size_t n) {
    using B = xsimd::batch<T>;
    alignas(64) static constexpr char zeros[64] = {};
    std::size_t j = 0;
    for (; j + B::size <= n; j += B::size) B(T(0)).store_unaligned(dst + j);
    tail::copy<B::size * sizeof(T)>(zeros, reinterpret_cast<char*>(dst + j), (n - j) * sizeof(T));
}
}  // namespace safnet::detail
