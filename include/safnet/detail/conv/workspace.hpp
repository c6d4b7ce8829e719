// safnet/detail/conv/workspace.hpp — a convolution layer's per-thread scratch buffers, kept
// and reused between calls (a hot loop that allocates is slow), and one image run through a
// plan's kernel on them.
#pragma once

#include <safnet/detail/conv/padding.hpp>
#include <safnet/detail/conv/plan.hpp>
#include <safnet/detail/conv/short_copy.hpp>
#include <safnet/nn/tensor.hpp>

#include <cstddef>
#include <vector>

namespace safnet::detail {

/// One pool thread's buffers. The large im2col ones are sized only for the paths that use
/// them: `cols` for im2col of x (GEMM forward or weight gradient), `dcols` for the input
/// gradient through GEMM (unfolded dy, or columns before col2im).
template <class T>
struct ConvScratch {
    nn::Tensor<T> cols, dcols, partial_dw, wide_out, partial_dwt, dyt;
    // Padded inputs: of the forward and input-gradient kernels (or their Winograd transforms),
    // and of the weight gradient, which alternates with them image by image in backward.
    BorderedWorkspace<T> pad, wgrad_pad;
};

/// Scratch for `threads` pool threads (grown, never shrunk: buffers keep their capacity).
template <class T>
void ensure_scratch(std::vector<ConvScratch<T>>& scratch, std::size_t threads) {
    if (scratch.size() < threads) scratch.resize(threads);
}

/// One image through plan p's direct or Winograd kernel on thread scratch s: `packed` from
/// pack_weights, `in` the image (channels x p.h x p.w), `out` (out_channels x oh x ow).
template <class T>
void convolve_image(const ConvPlan& p, const T* packed, const T* in, T* out, ConvScratch<T>& s) {
    if (p.kind == ConvPlan::winograd) {
        const WinogradShape& w = p.winograd_shape;
        const bool ready = s.pad.prepare({2, w.rows.channels, w.h, w.w, w.pad, w.tiles, w.wp, w.rows.plane}, winograd_input_size(w));
        s.wide_out.resize(nn::Shape{winograd_product_size(w)});
        winograd_conv(w, packed, in, s.pad.data.data(), s.wide_out.data(), out, ready);
        return;
    }
    // The direct kernel writes whole vectors: unless rows are whole vectors, through a
    // scratch buffer first.
    constexpr std::size_t S = xsimd::batch<T>::size;
    const DirectConvShape& d = p.direct_shape;
    const T* xp = s.pad.pad(in, d.channels, p.h, p.w, p.pad, d.hp, d.wp, d.plane);
    if (!d.flat && d.ow % S == 0) {
        direct_conv(d, packed, xp, out, d.ow);
        return;
    }
    const std::size_t ld = d.vectors * S, row_stride = d.flat ? d.wp : ld;
    s.wide_out.resize(nn::Shape{d.out_channels * d.rows * ld});
    direct_conv(d, packed, xp, s.wide_out.data(), ld);
    for (std::size_t o = 0; o < d.out_channels; ++o)
        for (std::size_t y = 0; y < d.oh; ++y) copy_short(s.wide_out.data() + o * d.rows * ld + y * row_stride, out + (o * d.oh + y) * d.ow, d.ow);
}

}  // namespace safnet::detail
