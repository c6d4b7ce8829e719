// safnet/nn/activation.hpp — ReLU and the residual add (elementwise, shape-preserving).
#pragma once

#include <safnet/nn/parameter.hpp>

namespace safnet::nn {

/// y = max(x, 0). backward needs only y: dx = dy where y > 0.
template <std::floating_point T>
struct ReLU {
    static void forward(const Tensor<T>& x, Tensor<T>& y) {
        y.resize(x.shape());
        const T* p = x.data();
        T* q = y.data();
        for (std::size_t i = 0; i < x.size(); ++i) q[i] = p[i] > T(0) ? p[i] : T(0);
    }
    static void backward(const Tensor<T>& y, const Tensor<T>& dy, Tensor<T>& dx) {
        dx.resize(y.shape());
        for (std::size_t i = 0; i < y.size(); ++i) dx[i] = y[i] > T(0) ? dy[i] : T(0);
    }
};

/// y = a + b (same shapes); its backward passes dy to both inputs unchanged.
template <std::floating_point T>
struct Add {
    static void forward(const Tensor<T>& a, const Tensor<T>& b, Tensor<T>& y) {
        if (!(a.shape() == b.shape())) throw Error("Add: shapes " + a.shape().str() + " and " + b.shape().str() + " differ");
        y.resize(a.shape());
        for (std::size_t i = 0; i < a.size(); ++i) y[i] = a[i] + b[i];
    }
};

}  // namespace safnet::nn
