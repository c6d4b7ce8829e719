// safnet/detail/direct_conv.hpp — stride-1 convolution of one image straight from a padded
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

#include <xsimd/xsimd.hpp>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <type_traits>

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

/// Copies the rows of one image (channels x h x w) into a padded buffer of `channels` planes
/// `plane` apart, each hp rows of wp, at row and column offset `pad` (clipped to the buffer),
/// and writes nothing else: the zero border is the caller's (pad_image writes it; a workspace
/// that keeps its geometry keeps its border).
template <class T>
void pad_image_rows(const T* x, std::size_t channels, std::size_t h, std::size_t w, std::size_t pad, std::size_t hp,
                    std::size_t wp, std::size_t plane, T* xp) {
    const std::size_t first = std::min(pad, wp), count = std::min(w, wp - first);
    const std::size_t r0 = std::min(pad, hp), r1 = std::min(pad + h, hp);
    for (std::size_t c = 0; c < channels; ++c)
        for (std::size_t r = r0; r < r1; ++r) copy_short(x + (c * h + (r - pad)) * w, xp + c * plane + r * wp + first, count);
}

/// Copies one image into a padded buffer as pad_image_rows does, with `pad` zeros on the top
/// and left and zeros everywhere else outside the image and in each plane's tail: every
/// element is written.
template <class T>
void pad_image(const T* x, std::size_t channels, std::size_t h, std::size_t w, std::size_t pad, std::size_t hp,
               std::size_t wp, std::size_t plane, T* xp) {
    std::fill(xp, xp + channels * plane, T(0));
    pad_image_rows(x, channels, h, w, pad, hp, wp, plane, xp);
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
inline constexpr std::size_t direct_conv_mr = 8;

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

#if defined(__AVX512F__)
// GCC 12's AVX-512 intrinsics pass a self-initialized _mm512_undefined_ps() as the masked-off
// source, which -W(maybe-)uninitialized reports once inlined here (a false positive: the mask is all
// ones, so that source is never read).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
// rows[i] (16 floats each) -> out[j][i] = rows[i][j], in registers: 32-bit, 64-bit and two
// 128-bit-lane interleaves (64 shuffles for 256 elements, against 256 scalar loads and stores).
inline void transpose_16x16(__m512 r[16]) {
    __m512 t[16], u[16], v[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4)  // u[i + k]: column 4 * lane + k of rows i .. i + 3
        for (int k = 0; k < 2; ++k) {
            const __m512d a = _mm512_castps_pd(t[i + k]), b = _mm512_castps_pd(t[i + k + 2]);
            u[i + 2 * k] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
            u[i + 2 * k + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
        }
    for (int i = 0; i < 4; ++i)
        for (int half = 0; half < 16; half += 8) {  // lanes 0, 2 and 1, 3 of rows (half .. half + 3), (half + 4 ..)
            v[half + i] = _mm512_shuffle_f32x4(u[half + i], u[half + 4 + i], 0x88);
            v[half + 4 + i] = _mm512_shuffle_f32x4(u[half + i], u[half + 4 + i], 0xdd);
        }
    for (int i = 0; i < 4; ++i) {
        r[i] = _mm512_shuffle_f32x4(v[i], v[8 + i], 0x88);
        r[8 + i] = _mm512_shuffle_f32x4(v[i], v[8 + i], 0xdd);
        r[4 + i] = _mm512_shuffle_f32x4(v[4 + i], v[12 + i], 0x88);
        r[12 + i] = _mm512_shuffle_f32x4(v[4 + i], v[12 + i], 0xdd);
    }
}
#pragma GCC diagnostic pop
#endif

/// dyt[p][o] = dy[o][p] for the `channels` planes of `pixels` values, zero for channels <= o <
/// o_padded: the output gradient in the pixel-major rows wgrad_accumulate reads. With AVX-512,
/// float blocks of 16 channels x 16 pixels go through registers (the scalar loop, one element
/// per load and store, took ~4 % of a training step).
template <class T>
void transpose_to_pixel_major(const T* dy, std::size_t channels, std::size_t pixels, std::size_t o_padded, T* dyt) {
    std::size_t p0 = 0;
#if defined(__AVX512F__)
    if constexpr (std::is_same_v<T, float>) {
        if (channels % 16 == 0)
            for (; p0 + 16 <= pixels; p0 += 16)
                for (std::size_t o0 = 0; o0 < channels; o0 += 16) {
                    __m512 r[16];
                    for (std::size_t i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(dy + (o0 + i) * pixels + p0);
                    transpose_16x16(r);
                    for (std::size_t j = 0; j < 16; ++j) _mm512_storeu_ps(dyt + (p0 + j) * o_padded + o0, r[j]);
                }
    }
#endif
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
