// safnet/nn/pooling.hpp — MaxPool2d, AvgPool2d (count_include_pad, as PyTorch's default) and
// global average pooling (NCHW -> NC), with backward passes.
#pragma once

#include <safnet/profile.hpp>
#include <safnet/nn/parameter.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace safnet::nn {

struct PoolOptions {
    std::size_t kernel = 2, stride = 2, padding = 0;
};

namespace detail {
inline Shape pooled_shape(const Shape& s, const PoolOptions& o, const char* layer) {
    require_rank(s, 4, layer);
    if (o.kernel == 0 || o.stride == 0 || 2 * o.padding > o.kernel || s[2] + 2 * o.padding < o.kernel ||
        s[3] + 2 * o.padding < o.kernel)
        throw Error(std::string(layer) + ": kernel/stride/padding do not fit input " + s.str());
    return Shape{s[0], s[1], (s[2] + 2 * o.padding - o.kernel) / o.stride + 1,
                 (s[3] + 2 * o.padding - o.kernel) / o.stride + 1};
}
}  // namespace detail

namespace detail {
// Calls f(out, in) for every input element `in` inside the window of output element `out`
// (padding taps skipped), outputs in ascending order, each window's taps row by row.
template <class F>
void for_each_pool_tap(const Shape& is, const Shape& os, const PoolOptions& o, F&& f) {
    const std::size_t h = is[2], w = is[3], oh = os[2], ow = os[3];
    for (std::size_t plane = 0; plane < os[0] * os[1]; ++plane)
        for (std::size_t i = 0; i < oh; ++i)
            for (std::size_t j = 0; j < ow; ++j)
                for (std::size_t ki = 0; ki < o.kernel; ++ki)
                    for (std::size_t kj = 0; kj < o.kernel; ++kj) {
                        const std::ptrdiff_t r = static_cast<std::ptrdiff_t>(i * o.stride + ki) - static_cast<std::ptrdiff_t>(o.padding);
                        const std::ptrdiff_t c = static_cast<std::ptrdiff_t>(j * o.stride + kj) - static_cast<std::ptrdiff_t>(o.padding);
                        if (r < 0 || c < 0 || r >= static_cast<std::ptrdiff_t>(h) || c >= static_cast<std::ptrdiff_t>(w)) continue;
                        f((plane * oh + i) * ow + j, plane * h * w + static_cast<std::size_t>(r) * w + static_cast<std::size_t>(c));
                    }
}
}  // namespace detail

template <std::floating_point T>
class MaxPool2d {
public:
    explicit MaxPool2d(PoolOptions o) : o_(o) {}

    /// The window's first maximum is taken; a window holding a NaN outputs NaN (its first
    /// NaN takes the gradient).
    void forward(const Tensor<T>& x, Tensor<T>& y) {
        const Shape os = detail::pooled_shape(x.shape(), o_, "MaxPool2d");
        y.resize(os);
        argmax_.resize(y.size());
        std::size_t current = std::numeric_limits<std::size_t>::max();
        detail::for_each_pool_tap(x.shape(), os, o_, [&](std::size_t out, std::size_t in) {
            const bool first_tap = out != current;  // every window has one: padding <= kernel/2
            current = out;
            if (first_tap || (!std::isnan(y[out]) && (x[in] > y[out] || std::isnan(x[in])))) {
                y[out] = x[in];
                argmax_[out] = in;
            }
        });
    }
    void backward(const Tensor<T>& x, const Tensor<T>& dy, Tensor<T>& dx) {
        dx.resize(x.shape(), T(0));
        for (std::size_t i = 0; i < dy.size(); ++i) dx[argmax_[i]] += dy[i];
    }

private:
    PoolOptions o_;
    std::vector<std::size_t> argmax_;
};

/// Average over the window, padding counted (count_include_pad, PyTorch's default).
template <std::floating_point T>
class AvgPool2d {
public:
    explicit AvgPool2d(PoolOptions o) : o_(o) {}

    void forward(const Tensor<T>& x, Tensor<T>& y) {
        const Shape os = detail::pooled_shape(x.shape(), o_, "AvgPool2d");
        y.resize(os, T(0));
        detail::for_each_pool_tap(x.shape(), os, o_, [&](std::size_t out, std::size_t in) { y[out] += x[in]; });
        const T inv = inverse_area();
        for (std::size_t i = 0; i < y.size(); ++i) y[i] *= inv;
    }
    void backward(const Tensor<T>& x, const Tensor<T>& dy, Tensor<T>& dx) {
        const Shape os = detail::pooled_shape(x.shape(), o_, "AvgPool2d");
        dx.resize(x.shape(), T(0));
        const T inv = inverse_area();
        detail::for_each_pool_tap(x.shape(), os, o_, [&](std::size_t out, std::size_t in) { dx[in] += dy[out] * inv; });
    }

private:
    T inverse_area() const { return T(1) / static_cast<T>(o_.kernel * o_.kernel); }
    PoolOptions o_;
};

/// NCHW -> NC: the mean over each channel's H x W plane.
template <std::floating_point T>
struct GlobalAvgPool {
    static void forward(const Tensor<T>& x, Tensor<T>& y) {
        const profile::Scope scope(profile::Kind::pool);
        require_rank(x.shape(), 4, "GlobalAvgPool");
        const std::size_t planes = x.shape()[0] * x.shape()[1], hw = x.shape()[2] * x.shape()[3];
        y.resize(Shape{x.shape()[0], x.shape()[1]});
        for (std::size_t p = 0; p < planes; ++p) y[p] = plane_mean(x.data() + p * hw, hw);
    }
    static T plane_mean(const T* x, std::size_t hw) {
        T s = 0;
        for (std::size_t j = 0; j < hw; ++j) s += x[j];
        return s / static_cast<T>(hw);
    }
    static void backward(const Tensor<T>& x, const Tensor<T>& dy, Tensor<T>& dx) {
        dx.resize(x.shape());
        const std::size_t planes = x.shape()[0] * x.shape()[1], hw = x.shape()[2] * x.shape()[3];
        for (std::size_t p = 0; p < planes; ++p)
            for (std::size_t j = 0; j < hw; ++j) dx[p * hw + j] = dy[p] / static_cast<T>(hw);
    }
};

}  // namespace safnet::nn
