// safnet/detail/conv/direct.hpp — stride-1 convolution of one image straight from a padded
// copy of its input, without im2col.
//
// im2col expands an image K*K times before the GEMM reads it back; for ResNet's 16- and
// 32-channel layers each expanded element then feeds only 16-32 multiply-adds, so the copy
// costs about as much as the arithmetic. Here the input is copied once into a zero-padded
// buffer (C x Hp x Wp) and the kernel reads shifted rows of it directly: a register tile of
// MR output channels x R output rows x V vectors of output columns; per (c, ky, kx) it
// broadcasts MR weights and loads R*V input vectors, each used MR times.
// Each output element is a sum over (c, ky, kx) in ascending order with one FMA per term,
// zero padding included: the same operations, so the same bits, as im2col followed by
// gemm_nn (detail/gemm.hpp), whose k runs over (c, ky, kx) in the same order.
#pragma once

#include <safnet/detail/conv/tuning.hpp>

#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <cstddef>

namespace safnet::detail {

/// Geometry of a stride-1 convolution of one image, and of its padded input buffer.
/// Row layout: output rows are computed `vectors` SIMD vectors at a time (the last possibly
/// partial). Flat layout, for small planes (7x7, 8x8) whose rows fill little of a vector: each
/// channel's padded plane is read as one long row, output position y * wp + x, so a vector
/// spans several output rows; the kernel sees one row of length oh * wp, whose columns
/// x >= ow are discarded when copying out.
struct DirectConvShape {
    std::size_t channels, out_channels, kh, kw;  // window: kh rows x kw columns
    std::size_t oh, ow;      // the image's output
    std::size_t rows;        // output rows the kernel computes: oh (row layout) or 1 (flat)
    std::size_t vectors;     // vectors per kernel row
    std::size_t hp, wp;      // padded input: hp = oh + k - 1 rows of wp floats
    std::size_t plane;       // channel stride of the padded buffer (>= hp * wp; zero tail)
    bool flat;
    /// Fraction of the computed lanes that are real outputs.
    double efficiency() const noexcept { return double(oh * ow) / double(rows * vectors * lanes); }
    std::size_t lanes;
};

template <class T>
DirectConvShape direct_conv_shape(std::size_t channels, std::size_t out_channels, std::size_t k, std::size_t oh,
                                  std::size_t ow) {
    constexpr std::size_t S = xsimd::batch<T>::size;
    const std::size_t hp = oh + k - 1;
    const std::size_t row_vectors = (ow + S - 1) / S, row_wp = row_vectors * S + k - 1;
    DirectConvShape row{channels, out_channels, k, k, oh, ow, oh, row_vectors, hp, row_wp, hp * row_wp, false, S};
    const std::size_t flat_wp = ow + k - 1, flat_vectors = (oh * flat_wp + S - 1) / S;
    // The last vector of the last tap reads up to (k-1)*wp + (k-1) + flat_vectors*S - 1.
    const std::size_t flat_plane = std::max(hp * flat_wp, (k - 1) * flat_wp + k - 1 + flat_vectors * S);
    DirectConvShape flat{channels, out_channels, k, k, oh, ow, 1, flat_vectors, hp, flat_wp, flat_plane, true, S};
    return flat.efficiency() > row.efficiency() ? flat : row;
}

/// Weights W[o][c][ky][kx] regrouped as [o / MR][c][ky][kx][MR] (output channels padded with
/// zeros to a multiple of MR), so that a tile's MR broadcasts per tap are adjacent. `window`:
/// taps per (o, c), k * k for a square kernel.
template <std::size_t MR, class T>
void pack_direct_weights(const T* w, std::size_t out_channels, std::size_t channels, std::size_t window, T* packed) {
    const std::size_t taps = channels * window, blocks = (out_channels + MR - 1) / MR;
    for (std::size_t b = 0; b < blocks; ++b)
        for (std::size_t t = 0; t < taps; ++t)
            for (std::size_t m = 0; m < MR; ++m) {
                const std::size_t o = b * MR + m;
                packed[(b * taps + t) * MR + m] = o < out_channels ? w[o * taps + t] : T(0);
            }
}

// Register tile: 8 output channels x (3 rows x 1 vector, or 1 row x 2 vectors): 24 or 16
// accumulators. Measured on Zen 4 against 4x4x1, 4x2x2, 6x4x1, 12x2x1, 16x1x1 and 16x2x1,
// which ran 10-60 % slower on ResNet's 3x3 shapes.
inline constexpr std::size_t direct_conv_mr = conv_tuning.direct_mr;

// KH, KW: the window when known at compile time (0: s.kh, s.kw at run time), so that the
// common 3x3 and 1x3 windows unroll completely.
template <std::size_t MR, std::size_t R, std::size_t V, std::size_t KH, std::size_t KW, class T>
inline void direct_conv_tile(const DirectConvShape& s, const T* wpack, const T* xp, std::size_t y0, std::size_t v0,
                             T* out, std::size_t ld_out, std::size_t plane_out, std::size_t m_valid) {
    using B = xsimd::batch<T>;
    constexpr std::size_t S = B::size;
    B acc[MR][R][V];
    for (std::size_t m = 0; m < MR; ++m)
        for (std::size_t r = 0; r < R; ++r)
            for (std::size_t v = 0; v < V; ++v) acc[m][r][v] = B(T(0));
    const std::size_t kh = KH ? KH : s.kh, kw = KW ? KW : s.kw;
    for (std::size_t c = 0; c < s.channels; ++c) {
        const T* plane = xp + c * s.plane + y0 * s.wp + v0 * S;
        for (std::size_t ky = 0; ky < kh; ++ky)
            for (std::size_t kx = 0; kx < kw; ++kx, wpack += MR) {
                B wv[MR];
                for (std::size_t m = 0; m < MR; ++m) wv[m] = B(wpack[m]);
                for (std::size_t r = 0; r < R; ++r)
                    for (std::size_t v = 0; v < V; ++v) {
                        const B in = B::load_unaligned(plane + (r + ky) * s.wp + kx + v * S);
                        for (std::size_t m = 0; m < MR; ++m) acc[m][r][v] = xsimd::fma(wv[m], in, acc[m][r][v]);
                    }
            }
    }
    // `out` is the tile's first output element (channel 0, row y0, vector v0); rows are
    // `ld_out` apart, channels `plane_out`; the caller's buffer is wide
    // enough for whole vectors.
    for (std::size_t m = 0; m < m_valid; ++m)
        for (std::size_t r = 0; r < R; ++r)
            for (std::size_t v = 0; v < V; ++v)
                acc[m][r][v].store_unaligned(out + m * plane_out + r * ld_out + v * S);
}

// All rows of one block of MR output channels, R rows at a time, V vectors at a time.
template <std::size_t MR, std::size_t V, std::size_t KH, std::size_t KW, class T>
inline void direct_conv_block(const DirectConvShape& s, const T* wpack, const T* xp, std::size_t v0, T* out,
                              std::size_t ld_out, std::size_t m_valid) {
    constexpr std::size_t R = V == 1 ? 3 : 1;
    std::size_t y = 0;
    constexpr std::size_t S = xsimd::batch<T>::size;
    const std::size_t plane_out = s.rows * ld_out;
    for (; y + R <= s.rows; y += R)
        direct_conv_tile<MR, R, V, KH, KW>(s, wpack, xp, y, v0, out + y * ld_out + v0 * S, ld_out, plane_out, m_valid);
    for (; y < s.rows; ++y) direct_conv_tile<MR, 1, V, KH, KW>(s, wpack, xp, y, v0, out + y * ld_out + v0 * S, ld_out, plane_out, m_valid);
}

template <std::size_t KH, std::size_t KW, class T>
void direct_conv_window(const DirectConvShape& s, const T* wpack, const T* xp, T* out, std::size_t ld_out) {
    constexpr std::size_t MR = direct_conv_mr;
    const std::size_t taps = s.channels * s.kh * s.kw;
    for (std::size_t o = 0; o < s.out_channels; o += MR) {
        const T* wb = wpack + (o / MR) * taps * MR;
        T* ob = out + o * s.rows * ld_out;
        const std::size_t m_valid = std::min(MR, s.out_channels - o);
        std::size_t v = 0;
        for (; v + 2 <= s.vectors; v += 2) direct_conv_block<MR, 2, KH, KW>(s, wb, xp, v, ob, ld_out, m_valid);
        for (; v < s.vectors; ++v) direct_conv_block<MR, 1, KH, KW>(s, wb, xp, v, ob, ld_out, m_valid);
    }
}

/// out[o][y][x] = sum over (c, ky, kx) of W[o][c][ky][kx] * xp[c][y + ky][x + kx], for one
/// image: `wpack` from pack_direct_weights<direct_conv_mr>, `xp` from pad_image. `out` has
/// out_channels planes of s.rows rows, `ld_out` >= vectors * S apart (whole vectors are
/// stored); in the flat layout, output (y, x) lands at column y * wp + x of its plane's row.
template <class T>
void direct_conv(const DirectConvShape& s, const T* wpack, const T* xp, T* out, std::size_t ld_out) {
    if (s.kh == 3 && s.kw == 3) {
        direct_conv_window<3, 3>(s, wpack, xp, out, ld_out);
    } else if (s.kh == 1 && s.kw == 3) {
        direct_conv_window<1, 3>(s, wpack, xp, out, ld_out);
    } else {
        direct_conv_window<0, 0>(s, wpack, xp, out, ld_out);
    }
}

}  // namespace safnet::detail
