// safnet/nn/activation.hpp — ReLU and the residual add (elementwise, shape-preserving).
//
// ReLU keeps NaN (like PyTorch's): a NaN produced by a damaged weight must reach the logits
// so that a fault campaign can count it, not be silently zeroed. Both run on the thread pool
// in static chunks; elementwise results do not depend on the thread count.
#pragma once

#include <safnet/profile.hpp>
#include <safnet/detail/thread_pool.hpp>
#include <safnet/nn/parameter.hpp>

namespace safnet::nn {

namespace detail {
template <class F>
void elementwise(std::size_t n, F&& f) {
    constexpr std::size_t grain = 1 << 15;  // below this, threading costs more than it saves
    if (n < grain) {
        f(std::size_t{0}, n);
        return;
    }
    thread_pool().parallel_for(n, [&](std::size_t b, std::size_t e, std::size_t) { f(b, e); });
}
}  // namespace detail

/// y = max(x, 0), NaN kept. backward needs only y: dx = dy where y > 0.
template <std::floating_point T>
struct ReLU {
    static void forward(const Tensor<T>& x, Tensor<T>& y) {
        const profile::Scope scope(profile::Kind::elementwise);
        y.resize(x.shape());
        const T* __restrict p = x.data();
        T* __restrict q = y.data();
        detail::elementwise(x.size(), [&](std::size_t b, std::size_t e) {
            for (std::size_t i = b; i < e; ++i) q[i] = relu_keep_nan(p[i]);
        });
    }
    static void backward(const Tensor<T>& y, const Tensor<T>& dy, Tensor<T>& dx) {
        const profile::Scope scope(profile::Kind::elementwise);
        dx.resize(y.shape());
        const T* __restrict p = y.data();
        const T* __restrict d = dy.data();
        T* __restrict q = dx.data();
        detail::elementwise(y.size(), [&](std::size_t b, std::size_t e) {
            for (std::size_t i = b; i < e; ++i) q[i] = relu_grad(p[i], d[i]);
        });
    }
};

/// y = a + b (same shapes); its backward passes dy to both inputs unchanged.
template <std::floating_point T>
struct Add {
    static void forward(const Tensor<T>& a, const Tensor<T>& b, Tensor<T>& y) {
        const profile::Scope scope(profile::Kind::elementwise);
        if (!(a.shape() == b.shape())) throw Error("Add: shapes " + a.shape().str() + " and " + b.shape().str() + " differ");
        y.resize(a.shape());
        accumulate(a, b, y);
    }
    /// y = a + b elementwise where y may alias a (y += b).
    static void accumulate(const Tensor<T>& a, const Tensor<T>& b, Tensor<T>& y) {
        const T* pa = a.data();
        const T* pb = b.data();
        T* py = y.data();
        detail::elementwise(a.size(), [&](std::size_t lo, std::size_t hi) {
            for (std::size_t i = lo; i < hi; ++i) py[i] = pa[i] + pb[i];
        });
    }
};

}  // namespace safnet::nn
