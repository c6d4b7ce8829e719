// safnet/nn/linear.hpp — fully connected layer with a SAF-parametrized weight.
//
// y = x W_eff^T + b, x: N x in (a rank-4 input is flattened per sample), W: out x in.
// backward writes d loss / d W_raw (through tau'), d loss / d b and d loss / d x.
#pragma once

#include <safnet/profile.hpp>
#include <safnet/nn/parameter.hpp>

#include <Eigen/Core>

namespace safnet::nn {

template <std::floating_point T>
class Linear {
public:
    using Map = MatrixMap<T>;
    using ConstMap = ConstMatrixMap<T>;

    Linear(std::size_t in, std::size_t out, bool bias = true, AnySaf saf = Identity{})
        : in_(in), out_(out), has_bias_(bias), weight_(Shape{out, in}, std::move(saf)) {
        if (!in || !out) throw Error("Linear: feature counts must be positive");
        grad_weight_.resize(Shape{out, in}, T(0));
        grad_eff_.resize(Shape{out, in}, T(0));
        if (bias) {
            bias_.resize(Shape{out}, T(0));
            grad_bias_.resize(Shape{out}, T(0));
        }
        weight_.refresh();
    }

    SafWeight<T>& weight() noexcept { return weight_; }
    Tensor<T>& bias() noexcept { return bias_; }
    void refresh_weights() { weight_.refresh(); }

    void forward(const Tensor<T>& x, Tensor<T>& y) {
        const profile::Scope scope(profile::Kind::linear);
        const std::size_t n = batch(x);
        y.resize(Shape{n, out_});
        Map out(y.data(), eigen_index(n), eigen_index(out_));
        out.noalias() = in_map(x, n) * w().transpose();
        if (has_bias_)
            for (std::size_t i = 0; i < n; ++i)
                for (std::size_t o = 0; o < out_; ++o) y[i * out_ + o] += bias_[o];
    }

    void backward(const Tensor<T>& x, const Tensor<T>& dy, Tensor<T>& dx) {
        const profile::Scope scope(profile::Kind::linear);
        const std::size_t n = batch(x);
        dx.resize(x.shape());
        const ConstMap d(dy.data(), eigen_index(n), eigen_index(out_));
        Map(grad_eff_.data(), eigen_index(out_), eigen_index(in_)).noalias() = d.transpose() * in_map(x, n);
        weight_.backward(grad_eff_.span(), grad_weight_.span());
        Map(dx.data(), eigen_index(n), eigen_index(in_)).noalias() = d * w();
        if (has_bias_)
            for (std::size_t o = 0; o < out_; ++o) {
                T s = 0;
                for (std::size_t i = 0; i < n; ++i) s += dy[i * out_ + o];
                grad_bias_[o] = s;
            }
    }

    template <class Visit>
    void for_each_parameter(const std::string& prefix, Visit&& visit) {
        visit(Parameter<T>{join_name(prefix, "weight"), &weight_.raw(), &grad_weight_, &weight_});
        if (has_bias_) visit(Parameter<T>{join_name(prefix, "bias"), &bias_, &grad_bias_, nullptr});
    }

private:
    std::size_t batch(const Tensor<T>& x) const {
        const std::size_t n = x.shape().rank() ? x.shape()[0] : 0;
        if (x.shape().rank() < 2 || n == 0 || x.size() / n != in_)
            throw Error("Linear: input " + x.shape().str() + " does not have " + std::to_string(in_) + " features per sample");
        return n;
    }
    ConstMap in_map(const Tensor<T>& x, std::size_t n) const { return ConstMap(x.data(), eigen_index(n), eigen_index(in_)); }
    ConstMap w() const { return ConstMap(weight_.effective().data(), eigen_index(out_), eigen_index(in_)); }

    std::size_t in_, out_;
    bool has_bias_;
    SafWeight<T> weight_;
    Tensor<T> bias_, grad_weight_, grad_bias_, grad_eff_;
};

}  // namespace safnet::nn
