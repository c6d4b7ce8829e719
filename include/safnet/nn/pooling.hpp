// safnet/nn/pooling.hpp — MaxPool2d, AvgPool2d (count_include_pad, as PyTorch's default) and
// global average pooling (NCHW -> NC), with backward passes.
#pragma once

#include <safnet/detail/profile.hpp>
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

template <std::floating_point T>
class MaxPool2d {
public:
    explicit MaxPool2d(PoolOptions o) : o_(o) {}

    void forward(const Tensor<T>& x, Tensor<T>& y) {
        const Shape os = detail::pooled_shape(x.shape(), o_, "MaxPool2d");
        y.resize(os);
        argmax_.resize(y.size());
        const std::size_t h = x.shape()[2], w = x.shape()[3], oh = os[2], ow = os[3];
        for (std::size_t plane = 0; plane < os[0] * os[1]; ++plane)
            for (std::size_t i = 0; i < oh; ++i)
                for (std::size_t j = 0; j < ow; ++j) {
                    T best = -std::numeric_limits<T>::infinity();
                    std::size_t arg = plane * h * w;  // a padded-only window cannot occur (padding <= k/2)
                    for (std::size_t ki = 0; ki < o_.kernel; ++ki)
                        for (std::size_t kj = 0; kj < o_.kernel; ++kj) {
                            const std::ptrdiff_t r = static_cast<std::ptrdiff_t>(i * o_.stride + ki) - static_cast<std::ptrdiff_t>(o_.padding);
                            const std::ptrdiff_t c = static_cast<std::ptrdiff_t>(j * o_.stride + kj) - static_cast<std::ptrdiff_t>(o_.padding);
                            if (r < 0 || c < 0 || r >= static_cast<std::ptrdiff_t>(h) || c >= static_cast<std::ptrdiff_t>(w)) continue;
                            const std::size_t at = plane * h * w + static_cast<std::size_t>(r) * w + static_cast<std::size_t>(c);
                            if (x[at] > best || std::isnan(x[at])) {
                                best = x[at];
                                arg = at;
                                if (std::isnan(best)) break;
                            }
                        }
                    const std::size_t out = (plane * oh + i) * ow + j;
                    y[out] = best;
                    argmax_[out] = arg;
                }
    }
    void backward(const Tensor<T>& x, const Tensor<T>& dy, Tensor<T>& dx) {
        dx.resize(x.shape(), T(0));
        for (std::size_t i = 0; i < dy.size(); ++i) dx[argmax_[i]] += dy[i];
    }

private:
    PoolOptions o_;
    std::vector<std::size_t> argmax_;
};

template <std::floating_point T>
class AvgPool2d {
public:
    explicit AvgPool2d(PoolOptions o) : o_(o) {}

    void forward(const Tensor<T>& x, Tensor<T>& y) {
        const Shape os = detail::pooled_shape(x.shape(), o_, "AvgPool2d");
        y.resize(os);
        each_window(x.shape(), os, [&](std::size_t out, std::size_t in) { y[out] += x[in]; }, y);
        const T inv = T(1) / static_cast<T>(o_.kernel * o_.kernel);
        for (std::size_t i = 0; i < y.size(); ++i) y[i] *= inv;
    }
    void backward(const Tensor<T>& x, const Tensor<T>& dy, Tensor<T>& dx) {
        const Shape os = detail::pooled_shape(x.shape(), o_, "AvgPool2d");
        dx.resize(x.shape(), T(0));
        const T inv = T(1) / static_cast<T>(o_.kernel * o_.kernel);
        Tensor<T> unused;
        each_window(x.shape(), os, [&](std::size_t out, std::size_t in) { dx[in] += dy[out] * inv; }, unused);
    }

private:
    template <class F>
    void each_window(const Shape& is, const Shape& os, F&& f, Tensor<T>& zero_first) const {
        if (zero_first.size()) std::fill(zero_first.data(), zero_first.data() + zero_first.size(), T(0));
        const std::size_t h = is[2], w = is[3], oh = os[2], ow = os[3];
        for (std::size_t plane = 0; plane < os[0] * os[1]; ++plane)
            for (std::size_t i = 0; i < oh; ++i)
                for (std::size_t j = 0; j < ow; ++j)
                    for (std::size_t ki = 0; ki < o_.kernel; ++ki)
                        for (std::size_t kj = 0; kj < o_.kernel; ++kj) {
                            const std::ptrdiff_t r = static_cast<std::ptrdiff_t>(i * o_.stride + ki) - static_cast<std::ptrdiff_t>(o_.padding);
                            const std::ptrdiff_t c = static_cast<std::ptrdiff_t>(j * o_.stride + kj) - static_cast<std::ptrdiff_t>(o_.padding);
                            if (r < 0 || c < 0 || r >= static_cast<std::ptrdiff_t>(h) || c >= static_cast<std::ptrdiff_t>(w)) continue;
                            f((plane * oh + i) * ow + j, plane * h * w + static_cast<std::size_t>(r) * w + static_cast<std::size_t>(c));
                        }
    }
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
        for (std::size_t p = 0; p < planes; ++p) {
            T s = 0;
            for (std::size_t j = 0; j < hw; ++j) s += x[p * hw + j];
            y[p] = s / static_cast<T>(hw);
        }
    }
    static void backward(const Tensor<T>& x, const Tensor<T>& dy, Tensor<T>& dx) {
        dx.resize(x.shape());
        const std::size_t planes = x.shape()[0] * x.shape()[1], hw = x.shape()[2] * x.shape()[3];
        for (std::size_t p = 0; p < planes; ++p)
            for (std::size_t j = 0; j < hw; ++j) dx[p * hw + j] = dy[p] / static_cast<T>(hw);
    }
};

}  // namespace safnet::nn
