// Finite-difference gradient checks in double for safnet::nn layers and models.
#pragma once

#include <safnet/nn/parameter.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace safnet::test {

using nn::Parameter;
using nn::Tensor;

inline void fill_uniform(Tensor<double>& t, std::mt19937_64& rng, double lo = -1, double hi = 1) {
    std::uniform_real_distribution<double> u(lo, hi);
    for (auto& v : t.span()) v = u(rng);
}

/// Relative error with a floor of 1e-3 on the denominator (gradients that small are
/// compared absolutely).
inline double rel_error(double a, double b) { return std::abs(a - b) / std::max({std::abs(a), std::abs(b), 1e-3}); }

/// L = sum(c * f(x)); checks dL/dx (if check_input) and dL/dparam for up to `samples`
/// elements of each, by central differences with step 1e-5.
/// forward(x) -> const Tensor<double>& y; backward(dy) runs the backward pass and returns dx.
template <class Forward, class Backward>
double max_gradient_error(Tensor<double>& x, std::vector<Parameter<double>> params, Forward&& forward,
                          Backward&& backward, bool check_input = true, std::size_t samples = 40) {
    std::mt19937_64 rng(12345);
    const Tensor<double>& y0 = forward(x);
    Tensor<double> c(y0.shape());
    fill_uniform(c, rng);
    auto loss = [&] {
        const Tensor<double>& y = forward(x);
        double l = 0;
        for (std::size_t i = 0; i < y.size(); ++i) l += c[i] * y[i];
        return l;
    };
    loss();
    const Tensor<double> dx = backward(c);
    std::vector<Tensor<double>> grads;
    for (auto& p : params) grads.push_back(*p.grad);

    double worst = 0;
    const double h = 1e-5;
    auto probe = [&](Tensor<double>& t, const Tensor<double>& g, nn::SafWeight<double>* saf, const std::string& what) {
        std::vector<std::size_t> idx(t.size());
        for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
        std::shuffle(idx.begin(), idx.end(), rng);
        idx.resize(std::min(samples, idx.size()));
        for (std::size_t i : idx) {
            const double keep = t[i];
            t[i] = keep + h;
            if (saf) saf->refresh();
            const double lp = loss();
            t[i] = keep - h;
            if (saf) saf->refresh();
            const double lm = loss();
            t[i] = keep;
            if (saf) saf->refresh();
            const double fd = (lp - lm) / (2 * h);
            const double e = rel_error(g[i], fd);
            if (e > 1e-6) UNSCOPED_INFO(what << "[" << i << "]: analytic " << g[i] << " numeric " << fd);
            worst = std::max(worst, e);
        }
    };
    if (check_input) probe(x, dx, nullptr, "input");
    for (std::size_t k = 0; k < params.size(); ++k) probe(*params[k].value, grads[k], params[k].saf, params[k].name);
    return worst;
}

template <class Layer>
std::vector<Parameter<double>> parameters_of(Layer& layer) {
    std::vector<Parameter<double>> ps;
    layer.for_each_parameter("", [&](const Parameter<double>& p) { ps.push_back(p); });
    return ps;
}

}  // namespace safnet::test
