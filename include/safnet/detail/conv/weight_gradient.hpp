// safnet/detail/conv/weight_gradient.hpp — d loss / d W of a convolution (any stride) for one
// image, straight from its zero-padded input, without im2col.
#pragma once

#include <safnet/detail/arch/dispatch.hpp>
#include <safnet/detail/conv/short_copy.hpp>

#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <cstddef>

namespace safnet::detail {

/// The weight gradient of a convolution (any stride) for one image, without im2col:
///   dWt[tap][o] += sum over output pixels p of xp[tap's input element at p] * dyt[p][o]
/// where tap = (c, ky, kx), xp is the zero-padded input (pad_image) and dyt the output
/// gradient transposed to pixel-major rows of `o_padded` channels (zero beyond out_channels).
/// Accumulating into dWt (taps x o_padded) lets a thread sum its images in place. A register
/// tile holds MR taps x NV vectors of output channels; per pixel it loads NV vectors of dyt and
/// broadcasts MR input values, each addressed as tap offset + pixel offset.
struct WgradShape {
    std::size_t taps, o_padded, stride, oh, ow, wp;
    std::size_t kernel;  // kernel width: taps run over (c, ky, kx) with kx fastest
};

template <std::size_t MR, std::size_t NV, class T>
inline void wgrad_tile(const WgradShape& s, const std::size_t* offsets, const T* xp, const T* dyt, T* dwt) {
    using B = xsimd::batch<T>;
    constexpr std::size_t S = B::size;
    B acc[MR][NV];
    for (std::size_t r = 0; r < MR; ++r)
        for (std::size_t v = 0; v < NV; ++v) acc[r][v] = B::load_unaligned(dwt + r * s.o_padded + v * S);
    const T* base[MR];
    for (std::size_t r = 0; r < MR; ++r) base[r] = xp + offsets[r];
    for (std::size_t y = 0; y < s.oh; ++y) {
        const std::size_t row = y * s.stride * s.wp;
        for (std::size_t x = 0; x < s.ow; ++x, dyt += s.o_padded) {
            const std::size_t at = row + x * s.stride;
            B d[NV];
            for (std::size_t v = 0; v < NV; ++v) d[v] = B::load_unaligned(dyt + v * S);
            for (std::size_t r = 0; r < MR; ++r) {
                const B a(base[r][at]);
                for (std::size_t v = 0; v < NV; ++v) acc[r][v] = xsimd::fma(a, d[v], acc[r][v]);
            }
        }
    }
    for (std::size_t r = 0; r < MR; ++r)
        for (std::size_t v = 0; v < NV; ++v) acc[r][v].store_unaligned(dwt + r * s.o_padded + v * S);
}

template <std::size_t MR, std::size_t NV, class T>
inline void wgrad_columns(const WgradShape& s, const std::size_t* offsets, const T* xp, const T* dyt, T* dwt) {
    std::size_t t = 0;
    for (; t + MR <= s.taps; t += MR) wgrad_tile<MR, NV>(s, offsets + t, xp, dyt, dwt + t * s.o_padded);
    for (; t + 4 <= s.taps; t += 4) wgrad_tile<4, NV>(s, offsets + t, xp, dyt, dwt + t * s.o_padded);
    for (; t < s.taps; ++t) wgrad_tile<1, NV>(s, offsets + t, xp, dyt, dwt + t * s.o_padded);
}

// One vector of output channels, stride 1, kernel width 3: here the general tile's MR
// broadcasts per pixel are mostly the same input values one pixel apart (taps kx = 0, 1, 2
// of a kernel row read x + 0, x + 1, x + 2). So a tile holds ROWS kernel rows (c, ky) x 3
// taps, and along an output row each input value is broadcast once and carried in registers
// for its three taps: per pixel 1 + ROWS loads for 3 * ROWS FMAs instead of 1 + MR for MR
// (measured 1.5x faster for 16 output channels at 32x32, where the general tile ran at 70 %
// of peak). Same terms in the same order per element as wgrad_tile, so the same bits.
template <std::size_t ROWS, class T>
inline void wgrad_row_tile(const WgradShape& s, const std::size_t* row_offsets, const T* xp, const T* dyt, T* dwt) {
    using B = xsimd::batch<T>;
    constexpr std::size_t S = B::size;
    B acc[ROWS][3];
    for (std::size_t r = 0; r < ROWS; ++r)
        for (std::size_t k = 0; k < 3; ++k) acc[r][k] = B::load_unaligned(dwt + (r * 3 + k) * S);
    for (std::size_t y = 0; y < s.oh; ++y, dyt += s.ow * S) {
        const T* row[ROWS];
        B w0[ROWS], w1[ROWS];  // the broadcasts of x + 0 and x + 1, carried along the row
        for (std::size_t r = 0; r < ROWS; ++r) {
            row[r] = xp + row_offsets[3 * r] + y * s.wp;
            w0[r] = B(row[r][0]);
            w1[r] = B(row[r][1]);
        }
        for (std::size_t x = 0; x < s.ow; ++x) {
            const B d = B::load_unaligned(dyt + x * S);
            for (std::size_t r = 0; r < ROWS; ++r) {
                const B w2(row[r][x + 2]);
                acc[r][0] = xsimd::fma(w0[r], d, acc[r][0]);
                acc[r][1] = xsimd::fma(w1[r], d, acc[r][1]);
                acc[r][2] = xsimd::fma(w2, d, acc[r][2]);
                w0[r] = w1[r];
                w1[r] = w2;
            }
        }
    }
    for (std::size_t r = 0; r < ROWS; ++r)
        for (std::size_t k = 0; k < 3; ++k) acc[r][k].store_unaligned(dwt + (r * 3 + k) * S);
}

/// dyt[p][o] = dy[o][p] for the `channels` planes of `pixels` values, zero for channels <= o <
/// o_padded: the output gradient in the pixel-major rows wgrad_accumulate reads. Where the ISA
/// has a register transpose (detail/arch/), blocks of 16 channels x 16 pixels go through it
/// (the scalar loop, one element per load and store, took ~4 % of a training step).
template <class T, class Arch = xsimd::default_arch>
void transpose_to_pixel_major(const T* dy, std::size_t channels, std::size_t pixels, std::size_t o_padded, T* dyt) {
    std::size_t p0 = transpose_blocks_to_pixel_major(Arch{}, dy, channels, pixels, o_padded, dyt);
    // Blocks of 16 pixels: every dy row segment is read contiguously and each written dyt row
    // (<= o_padded values) stays in L1 across the block.
    constexpr std::size_t block = 16;
    for (; p0 < pixels; p0 += block) {
        const std::size_t p1 = std::min(pixels, p0 + block);
        for (std::size_t o = 0; o < channels; ++o)
            for (std::size_t p = p0; p < p1; ++p) dyt[p * o_padded + o] = dy[o * pixels + p];
    }
    if (o_padded > channels)
        for (std::size_t p = 0; p < pixels; ++p) zero_short(dyt + p * o_padded + channels, o_padded - channels);
}

/// dwt (taps x o_padded) += the image's weight gradient; `offsets[tap]` = c*hp*wp + ky*wp + kx.
template <class T>
void wgrad_accumulate(const WgradShape& s, const std::size_t* offsets, const T* xp, const T* dyt, T* dwt) {
    constexpr std::size_t S = xsimd::batch<T>::size;
    if (s.o_padded == S && s.stride == 1 && s.kernel == 3) {
        const std::size_t rows = s.taps / 3;
        std::size_t r = 0;
        for (; r + 4 <= rows; r += 4) wgrad_row_tile<4>(s, offsets + 3 * r, xp, dyt, dwt + 3 * r * S);
        for (; r < rows; ++r) wgrad_row_tile<1>(s, offsets + 3 * r, xp, dyt, dwt + 3 * r * S);
        return;
    }
    std::size_t v = 0;
    const std::size_t vectors = s.o_padded / S;
    for (; v + 4 <= vectors; v += 4) wgrad_columns<6, 4>(s, offsets, xp, dyt + v * S, dwt + v * S);
    for (; v + 2 <= vectors; v += 2) wgrad_columns<12, 2>(s, offsets, xp, dyt + v * S, dwt + v * S);
    for (; v < vectors; ++v) wgrad_columns<16, 1>(s, offsets, xp, dyt + v * S, dwt + v * S);
}


}  // namespace safnet::detail
