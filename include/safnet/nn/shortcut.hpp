// safnet/nn/shortcut.hpp — the shortcut of a residual block whose shape changes.
//
// Option A (He et al. 2016, Sec. 4.2; the CIFAR ResNets): parameter-free, x[:, :, ::s, ::s]
// with (out - in) / 2 zero channels before the input's and the rest after. Option B: a 1x1
// convolution with stride s and BN (the projection; ImageNet ResNets), built by the block.
#pragma once

#include <safnet/nn/tensor.hpp>

#include <algorithm>
#include <cstddef>

namespace safnet::nn {

enum class Shortcut { A, B };

/// Option A for `in` -> `out` channels (out >= in) with stride `stride`, one image at a time;
/// `is` is the input shape (the batch dimension is ignored).
template <class T>
struct SubsampleShortcut {
    std::size_t in = 0, out = 0, stride = 1;

    struct Geometry {
        std::size_t h, w, oh, ow, lo;  // input plane, output plane, zero channels before the input's
    };
    Geometry geometry(const Shape& is) const {
        return {is[2], is[3], (is[2] + stride - 1) / stride, (is[3] + stride - 1) / stride, (out - in) / 2};
    }
    /// The shortcut of one image x into s (out planes of oh x ow): every element written.
    void forward_image(const T* x, const Shape& is, T* s) const {
        const Geometry g = geometry(is);
        const std::size_t plane = g.oh * g.ow;
        std::fill(s, s + g.lo * plane, T(0));
        std::fill(s + (g.lo + in) * plane, s + out * plane, T(0));
        for (std::size_t c = 0; c < in; ++c)
            for (std::size_t i = 0; i < g.oh; ++i)
                for (std::size_t j = 0; j < g.ow; ++j) s[((c + g.lo) * g.oh + i) * g.ow + j] = x[(c * g.h + i * stride) * g.w + j * stride];
    }
    /// The whole batch x into s (resized).
    void forward(const Tensor<T>& x, Tensor<T>& s) const {
        const Shape& is = x.shape();
        const Geometry g = geometry(is);
        s.resize(Shape{is[0], out, g.oh, g.ow});
        for (std::size_t n = 0; n < is[0]; ++n) forward_image(x.data() + n * (x.size() / is[0]), is, s.data() + n * out * g.oh * g.ow);
    }
    /// The adjoint for one image: dx[c, i*s, j*s] += ds[c + lo, i, j].
    void backward_add(const T* ds, T* dx, const Shape& is) const {
        const Geometry g = geometry(is);
        for (std::size_t c = 0; c < in; ++c)
            for (std::size_t i = 0; i < g.oh; ++i)
                for (std::size_t j = 0; j < g.ow; ++j) dx[(c * g.h + i * stride) * g.w + j * stride] += ds[((c + g.lo) * g.oh + i) * g.ow + j];
    }
};

}  // namespace safnet::nn
