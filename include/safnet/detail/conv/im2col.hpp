// safnet/detail/conv/im2col.hpp — a convolution's input unfolded into columns (one row per
// (channel, ky, kx), one column per output pixel), and the adjoint scatter back (col2im): the
// GEMM path for strides > 1 and for planes too narrow for the direct kernel.
#pragma once

#include <safnet/detail/conv/short_copy.hpp>

#include <algorithm>
#include <cstddef>

namespace safnet::detail {

/// Geometry of one convolution over an image: input channels x h x w, kernel k, stride s,
/// zero padding p, output oh x ow.
struct UnfoldShape {
    std::size_t channels, h, w, k, s, p, oh, ow;
};

/// out (channels * k * k rows of oh * ow) = the columns of x (channels x h x w). For each
/// (channel, ky, kx) and output row the valid output columns are computed once; the interior is
/// a contiguous copy when the stride is 1.
template <class T>
void im2col(const UnfoldShape& g, const T* x, T* out) {
    const std::size_t k = g.k, s = g.s, p = g.p, ow = g.ow, ohw = g.oh * g.ow;
    for (std::size_t c = 0; c < g.channels; ++c)
        for (std::size_t ki = 0; ki < k; ++ki)
            for (std::size_t kj = 0; kj < k; ++kj) {
                T* row = out + ((c * k + ki) * k + kj) * ohw;
                // valid ow: 0 <= ow*s + kj - p < w
                const std::size_t lo = kj >= p ? 0 : (p - kj + s - 1) / s;
                const std::size_t hi = std::min(ow, (g.w + p - kj + s - 1) / s);
                for (std::size_t i = 0; i < g.oh; ++i) {
                    const std::ptrdiff_t ih = static_cast<std::ptrdiff_t>(i * s + ki) - static_cast<std::ptrdiff_t>(p);
                    T* dst = row + i * ow;
                    // Rows are short (7-32): inline copies, not memset/memmove calls.
                    if (ih < 0 || ih >= static_cast<std::ptrdiff_t>(g.h) || lo >= hi) {
                        zero_short(dst, ow);
                        continue;
                    }
                    const T* src = x + (c * g.h + static_cast<std::size_t>(ih)) * g.w + (lo * s + kj - p);
                    zero_short(dst, lo);
                    if (s == 1) {
                        copy_short(src, dst + lo, hi - lo);
                    } else if (s == 2) {  // ResNets' downsampling: a constant stride, which GCC vectorizes
                        for (std::size_t j = lo; j < hi; ++j) dst[j] = src[(j - lo) * 2];
                    } else {
                        for (std::size_t j = lo; j < hi; ++j) dst[j] = src[(j - lo) * s];
                    }
                    zero_short(dst + hi, ow - hi);
                }
            }
}

/// dx (channels x h x w) = the sum of the columns back onto the pixels they were read from.
template <class T>
void col2im(const UnfoldShape& g, const T* col, T* dx) {
    const std::size_t k = g.k, s = g.s, p = g.p, ohw = g.oh * g.ow;
    std::fill(dx, dx + g.channels * g.h * g.w, T(0));
    for (std::size_t c = 0; c < g.channels; ++c)
        for (std::size_t ki = 0; ki < k; ++ki)
            for (std::size_t kj = 0; kj < k; ++kj) {
                const T* row = col + ((c * k + ki) * k + kj) * ohw;
                for (std::size_t oh = 0; oh < g.oh; ++oh) {
                    const std::ptrdiff_t ih = static_cast<std::ptrdiff_t>(oh * s + ki) - static_cast<std::ptrdiff_t>(p);
                    if (ih < 0 || ih >= static_cast<std::ptrdiff_t>(g.h)) continue;
                    T* dst = dx + (c * g.h + static_cast<std::size_t>(ih)) * g.w;
                    for (std::size_t ow = 0; ow < g.ow; ++ow) {
                        const std::ptrdiff_t iw = static_cast<std::ptrdiff_t>(ow * s + kj) - static_cast<std::ptrdiff_t>(p);
                        if (iw >= 0 && iw < static_cast<std::ptrdiff_t>(g.w)) dst[iw] += row[oh * g.ow + ow];
                    }
                }
            }
}

}  // namespace safnet::detail
