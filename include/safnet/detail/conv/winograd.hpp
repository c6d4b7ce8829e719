// safnet/detail/conv/winograd.hpp — 3x3 stride-1 convolution of one image with Winograd's
// minimal filtering F(4,3) along the rows and the direct kernel along the columns.
//
// For one column tap kx, four consecutive output rows are a 1-D convolution over six input
// rows d0..d5 with the kernel column g = W[.., 0..2, kx]. F(4,3) computes them as
//   y = A^T [ (G g) (.) (B^T d) ]
// with 6 products instead of 12 (Toom-Cook; Lavin and Gray 2016). The interpolation points
// are 0, 1, -1, 1/2, -2 and infinity rather than Lavin's 0, +-1, +-2: in float they gave
// 1.4x smaller errors in a simulation over 32-channel sums (Barabasz et al. 2020 discuss the
// choice), and every coefficient of B^T and A^T stays exact in binary. Across the image:
//  1. B^T d for every tile of 4 output rows and every column: 6 transformed rows per input
//     row band, each a SIMD combination of whole padded input rows (no shuffles);
//  2. per transformed row i, a 1 x 3 direct convolution (detail/conv/direct.hpp) of those rows
//     with the transformed weights U_i = G W (precomputed per batch): the multiply-adds, half
//     as many as the 3 x 3 direct kernel's;
//  3. A^T over the 6 products of each tile gives its 4 output rows.
// Being different arithmetic, the results are not bit-identical to the direct kernel: they
// differ by rounding (the transforms' coefficients are small integers and 1/4, 1/6, 1/12,
// 1/24; measured error in tests/detail/winograd_conv_test.cpp). A given image still gets the
// same bits whatever thread computes it.
#pragma once

#include <safnet/detail/arch/dispatch.hpp>
#include <safnet/detail/conv/direct.hpp>
#include <safnet/detail/conv/short_copy.hpp>

#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <array>
#include <cstddef>

namespace safnet::detail {

/// Geometry of a Winograd F(4,3)-along-rows convolution of one image (h x w, zero padding
/// `pad` <= 2 on each side, output oh x ow): `tiles` bands of 4 output rows (the last possibly
/// partial, computed on zero rows and discarded); transformed rows are wp = vectors * S + 2
/// columns wide. `rows` is the 1 x 3 direct convolution applied to each of the 6 transformed
/// row sets (tiles rows, plane tiles * wp per channel).
struct WinogradShape {
    DirectConvShape rows;
    std::size_t h, w, pad, oh, ow, tiles, wp;
    /// Fraction of the computed output lanes that are real outputs.
    double efficiency() const noexcept { return double(oh * ow) / double(4 * tiles * rows.vectors * rows.lanes); }
};

template <class T>
WinogradShape winograd_shape(std::size_t channels, std::size_t out_channels, std::size_t h, std::size_t w, std::size_t pad) {
    constexpr std::size_t S = xsimd::batch<T>::size;
    const std::size_t oh = h + 2 * pad - 2, ow = w + 2 * pad - 2;
    const std::size_t tiles = (oh + 3) / 4, vectors = (ow + S - 1) / S, wp = vectors * S + 2;
    const DirectConvShape rows{channels, out_channels, 1, 3, tiles, ow, tiles, vectors, tiles, wp, tiles * wp, false, S};
    return {rows, h, w, pad, oh, ow, tiles, wp};
}

inline constexpr std::size_t winograd_points = 6;

/// U_i = sum_ky G[i][ky] W[o][c][ky][kx] for i < 6, each set packed for the direct kernel
/// ([o / MR][c][kx][MR]) and `set_size` = ceil(out / MR) * MR * channels * 3 apart. Computed in
/// double: the only rounding is the final one.
template <std::size_t MR, class T>
void pack_winograd_weights(const T* w, std::size_t out_channels, std::size_t channels, T* packed) {
    static constexpr double G[winograd_points][3] = {{1, 0, 0},
                                                     {1.0 / 3, 1.0 / 3, 1.0 / 3},
                                                     {-1.0 / 3, 1.0 / 3, -1.0 / 3},
                                                     {-16.0 / 15, -8.0 / 15, -4.0 / 15},
                                                     {1.0 / 15, -2.0 / 15, 4.0 / 15},
                                                     {0, 0, 1}};
    const std::size_t blocks = (out_channels + MR - 1) / MR, set_size = blocks * MR * channels * 3;
    for (std::size_t i = 0; i < winograd_points; ++i)
        for (std::size_t b = 0; b < blocks; ++b)
            for (std::size_t c = 0; c < channels; ++c)
                for (std::size_t kx = 0; kx < 3; ++kx)
                    for (std::size_t m = 0; m < MR; ++m) {
                        const std::size_t o = b * MR + m;
                        double u = 0;
                        if (o < out_channels)
                            for (std::size_t ky = 0; ky < 3; ++ky) u += G[i][ky] * double(w[((o * channels + c) * 3 + ky) * 3 + kx]);
                        packed[i * set_size + ((b * channels + c) * 3 + kx) * MR + m] = static_cast<T>(u);
                    }
}

// B^T d: six rows of the input band -> six transformed rows (elementwise; V a batch or T).
template <class V, class T>
inline void winograd_bt(const V (&d)[winograd_points], V (&t)[winograd_points]) {
    const V half(T(0.5)), one_half(T(1.5)), two(T(2)), two_half(T(2.5));
    const V d31 = d[3] - d[1], d42 = d[4] - d[2];
    t[0] = d[0] + d[4] - two * d[2] + one_half * d31;
    t[1] = d[4] - d[1] + half * d[2] + two_half * d[3];
    t[2] = d[4] + d[1] - two_half * d[2] + half * d[3];
    t[3] = d42 + two * d31;
    t[4] = d42 - half * d31;
    t[5] = d[1] + d[5] - two * d[3] + one_half * d42;
}

// A^T m: six products of a tile -> its four output rows.
template <class V, class T>
inline void winograd_at(const V (&m)[winograd_points], V (&y)[4]) {
    const V half(T(0.5)), quarter(T(0.25)), eighth(T(0.125)), two(T(2)), four(T(4)), eight(T(8));
    const V s12 = m[1] + m[2], d12 = m[1] - m[2];
    y[0] = m[0] + s12 + m[3] + m[4];
    y[1] = d12 + half * m[3] - two * m[4];
    y[2] = s12 + quarter * m[3] + four * m[4];
    y[3] = d12 + eighth * m[3] - eight * m[4] + m[5];
}

/// B^T d for every band of 6 input rows (4 apart) of every channel, the image zero-padded by
/// s.pad on every side: t[i][c][tile][x] = sum_a B^T[i][a] xpad[c][4 * tile + a][x]. Reads the
/// image x (channels x h x w) directly: the transform is linear, so padding columns transform
/// to zeros and padding rows enter as zero vectors; no padded copy is made. The zero columns
/// (x < s.pad, x >= s.pad + s.w) are the same for every image: with write_borders false they
/// are left as a previous call with the same shape wrote them.
template <class T, class Arch = xsimd::default_arch>
void winograd_input_transform(const WinogradShape& s, const T* x, T* t, bool write_borders = true) {
    using B = xsimd::batch<T>;
    constexpr std::size_t S = B::size, P = winograd_points;
    const std::size_t set = s.rows.channels * s.rows.plane, h = s.h, w = s.w, pad = s.pad;
    for (std::size_t c = 0; c < s.rows.channels; ++c)
        for (std::size_t tile = 0; tile < s.tiles; ++tile) {
            const T* row[P];  // the band's image rows; nullptr where the band is in the padding
            for (std::size_t a = 0; a < P; ++a) {
                const std::size_t r = 4 * tile + a;
                row[a] = r >= pad && r - pad < h ? x + (c * h + r - pad) * w : nullptr;
            }
            T* out = t + c * s.rows.plane + tile * s.wp;
            if (write_borders)
                for (std::size_t i = 0; i < P; ++i) {
                    zero_short(out + i * set, pad);
                    zero_short(out + i * set + pad + w, s.wp - pad - w);
                }
            out += pad;
            const auto vector_at = [&](std::size_t j) {
                B in[P], tr[P];
                for (std::size_t a = 0; a < P; ++a) in[a] = row[a] ? B::load_unaligned(row[a] + j) : B(T(0));
                winograd_bt<B, T>(in, tr);
                for (std::size_t i = 0; i < P; ++i) tr[i].store_unaligned(out + i * set + j);
            };
            std::size_t j = 0;
            for (; j + S <= w; j += S) vector_at(j);
            if (j < w && w >= S) {  // the partial last vector: one overlapping the previous one,
                vector_at(w - S);   // which recomputes the same values (a scalar tail of 12 of
                j = w;              // 28 columns cost 9 % of a 1x28x28 training step)
            }
            // Rows shorter than a vector (14 wide), where the ISA loads them masked: the lanes
            // past the row read as zeros, which transform to zeros, so one whole-vector store
            // also writes the row's right zero columns (pad + S <= wp: whole vectors plus 2).
            if constexpr (loads_short_rows<T>(Arch{}))
                if (j == 0 && w < S) {
                    B in[P], tr[P];
                    for (std::size_t a = 0; a < P; ++a)
                        in[a] = row[a] ? load_short_row<typename B::arch_type>(Arch{}, row[a], w) : B(T(0));
                    winograd_bt<B, T>(in, tr);
                    for (std::size_t i = 0; i < P; ++i) tr[i].store_unaligned(out + i * set);
                    j = w;
                }
            for (; j < w; ++j) {  // rows shorter than a vector
                T in[P], tr[P];
                for (std::size_t a = 0; a < P; ++a) in[a] = row[a] ? row[a][j] : T(0);
                winograd_bt<T, T>(in, tr);
                for (std::size_t i = 0; i < P; ++i) out[i * set + j] = tr[i];
            }
        }
}

/// A^T over the six product sets of `rows_used` tile rows starting at `tile0`, for output
/// channels o0 .. o0 + count: m[i][oc][r][x] (sets `set` apart, channels `group * ld`, rows
/// ld), into y (out_channels x oh x ow), dropping rows >= oh and columns >= ow.
template <class T>
void winograd_output_transform(const WinogradShape& s, const T* m, std::size_t ld, std::size_t set, std::size_t o0,
                               std::size_t count, std::size_t tile0, std::size_t group, std::size_t rows_used, T* y) {
    using B = xsimd::batch<T>;
    constexpr std::size_t S = B::size, P = winograd_points;
    for (std::size_t oc = 0; oc < count; ++oc)
        for (std::size_t g = 0; g < rows_used; ++g) {
            const T* in = m + (oc * group + g) * ld;
            const std::size_t y0 = 4 * (tile0 + g), rows = std::min<std::size_t>(4, s.oh - y0);
            T* out = y + ((o0 + oc) * s.oh + y0) * s.ow;
            for (std::size_t x = 0; x < s.ow; x += S) {
                B prod[P], res[4];
                for (std::size_t i = 0; i < P; ++i) prod[i] = B::load_unaligned(in + i * set + x);
                winograd_at<B, T>(prod, res);
                if (x + S <= s.ow) {
                    for (std::size_t r = 0; r < rows; ++r) res[r].store_unaligned(out + r * s.ow + x);
                } else if (s.ow >= S) {  // the partial last vector: recompute the whole vector
                    for (std::size_t i = 0; i < P; ++i) prod[i] = B::load_unaligned(in + i * set + s.ow - S);
                    winograd_at<B, T>(prod, res);  // ending at ow (same values where it overlaps)
                    for (std::size_t r = 0; r < rows; ++r) res[r].store_unaligned(out + r * s.ow + s.ow - S);
                } else {
                    alignas(64) T lanes[S];
                    for (std::size_t r = 0; r < rows; ++r) {
                        res[r].store_aligned(lanes);
                        copy_short(lanes, out + r * s.ow + x, s.ow - x);
                    }
                }
            }
        }
}

/// Workspace sizes of winograd_conv: the transformed input and the products of one block of
/// output channels and tile rows (kept in L1 between the products and A^T).
inline std::size_t winograd_input_size(const WinogradShape& s) { return winograd_points * s.rows.channels * s.rows.plane; }
inline std::size_t winograd_product_size(const WinogradShape& s) {
    return winograd_points * direct_conv_mr * 3 * s.rows.vectors * s.rows.lanes;
}

/// y (out_channels x oh x ow) = the 3x3 convolution of the image x (channels x h x w, zero
/// padded by s.pad) with weights packed by pack_winograd_weights<direct_conv_mr>; t and m are
/// workspaces of winograd_input_size(s) and winograd_product_size(s) elements;
/// t_borders_ready: t was last used by a call with the same shape, so its zero columns are in
/// place (winograd_input_transform).
/// Per block of MR output channels and of 1 tile row (rows of >= 2 vectors) or 3 tile rows
/// (rows of one vector): the six products (the direct kernel's register tiles), then A^T
/// while they are in L1.
template <class T>
void winograd_conv(const WinogradShape& s, const T* packed, const T* x, T* t, T* m, T* y, bool t_borders_ready = false) {
    constexpr std::size_t S = xsimd::batch<T>::size, MR = direct_conv_mr, P = winograd_points;
    winograd_input_transform(s, x, t, !t_borders_ready);
    const DirectConvShape& r = s.rows;
    const std::size_t t_set = r.channels * r.plane, ld = r.vectors * S, taps = r.channels * 3;
    const std::size_t w_set = (r.out_channels + MR - 1) / MR * MR * taps;
    const std::size_t group = r.vectors >= 2 ? 1 : 3, m_set = MR * group * ld;
    for (std::size_t o = 0; o < r.out_channels; o += MR) {
        const std::size_t m_valid = std::min(MR, r.out_channels - o);
        for (std::size_t tile = 0; tile < s.tiles; tile += group) {
            const std::size_t g = std::min(group, s.tiles - tile);
            for (std::size_t i = 0; i < P; ++i) {
                const T* wb = packed + i * w_set + (o / MR) * taps * MR;
                const T* ti = t + i * t_set;
                T* mi = m + i * m_set;
                const std::size_t plane_out = group * ld;
                if (g == 3) {
                    for (std::size_t v = 0; v < r.vectors; ++v)
                        direct_conv_tile<MR, 3, 1, 1, 3>(r, wb, ti, tile, v, mi + v * S, ld, plane_out, m_valid);
                    continue;
                }
                for (std::size_t row = 0; row < g; ++row) {
                    std::size_t v = 0;
                    for (; v + 2 <= r.vectors; v += 2)
                        direct_conv_tile<MR, 1, 2, 1, 3>(r, wb, ti, tile + row, v, mi + row * ld + v * S, ld, plane_out, m_valid);
                    for (; v < r.vectors; ++v)
                        direct_conv_tile<MR, 1, 1, 1, 3>(r, wb, ti, tile + row, v, mi + row * ld + v * S, ld, plane_out, m_valid);
                }
            }
            winograd_output_transform(s, m, ld, m_set, o, m_valid, tile, group, g, y);
        }
    }
}

}  // namespace safnet::detail
