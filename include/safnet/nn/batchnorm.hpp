// safnet/nn/batchnorm.hpp — BatchNorm2d over NCHW, as PyTorch defines it.
//
// train: normalize with the batch's per-channel mean and biased variance; update
//   running_mean/var with `momentum` (running_var uses the unbiased variance).
// eval: normalize with the running statistics.
// backward() matches the mode of the preceding forward(); statistics are summed in double,
// one channel per task, so results do not depend on the thread count.
#pragma once

#include <safnet/detail/thread_pool.hpp>
#include <safnet/nn/parameter.hpp>

#include <cmath>

namespace safnet::nn {

template <std::floating_point T>
class BatchNorm2d {
public:
    explicit BatchNorm2d(std::size_t channels, double eps = 1e-5, double momentum = 0.1)
        : c_(channels), eps_(eps), momentum_(momentum) {
        weight_.resize(Shape{c_}, T(1));
        bias_.resize(Shape{c_}, T(0));
        running_mean_.resize(Shape{c_}, T(0));
        running_var_.resize(Shape{c_}, T(1));
        grad_weight_.resize(Shape{c_}, T(0));
        grad_bias_.resize(Shape{c_}, T(0));
        mean_.resize(Shape{c_}, T(0));
        invstd_.resize(Shape{c_}, T(0));
    }

    Tensor<T>& weight() noexcept { return weight_; }
    Tensor<T>& bias() noexcept { return bias_; }
    Tensor<T>& running_mean() noexcept { return running_mean_; }
    Tensor<T>& running_var() noexcept { return running_var_; }

    void forward(const Tensor<T>& x, Tensor<T>& y, Mode mode) {
        check(x.shape());
        y.resize(x.shape());
        mode_ = mode;
        const std::size_t n = x.shape()[0], hw = x.shape()[2] * x.shape()[3];
        thread_pool().parallel_for(c_, [&](std::size_t b, std::size_t e, std::size_t) {
            for (std::size_t c = b; c < e; ++c) {
                double mean = running_mean_[c], var = running_var_[c];
                if (mode == Mode::train) {
                    double s = 0, s2 = 0;
                    for (std::size_t i = 0; i < n; ++i) {
                        const T* p = x.data() + (i * c_ + c) * hw;
                        for (std::size_t j = 0; j < hw; ++j) s += p[j];
                    }
                    const double m = static_cast<double>(n * hw);
                    mean = s / m;
                    for (std::size_t i = 0; i < n; ++i) {
                        const T* p = x.data() + (i * c_ + c) * hw;
                        for (std::size_t j = 0; j < hw; ++j) s2 += (p[j] - mean) * (p[j] - mean);
                    }
                    var = s2 / m;
                    running_mean_[c] = static_cast<T>((1 - momentum_) * running_mean_[c] + momentum_ * mean);
                    const double unbiased = m > 1 ? s2 / (m - 1) : var;
                    running_var_[c] = static_cast<T>((1 - momentum_) * running_var_[c] + momentum_ * unbiased);
                }
                const double invstd = 1.0 / std::sqrt(var + eps_);
                mean_[c] = static_cast<T>(mean);
                invstd_[c] = static_cast<T>(invstd);
                const T scale = static_cast<T>(weight_[c] * invstd);
                const T shift = static_cast<T>(bias_[c] - mean * weight_[c] * invstd);
                for (std::size_t i = 0; i < n; ++i) {
                    const T* p = x.data() + (i * c_ + c) * hw;
                    T* q = y.data() + (i * c_ + c) * hw;
                    for (std::size_t j = 0; j < hw; ++j) q[j] = p[j] * scale + shift;
                }
            }
        });
    }

    void backward(const Tensor<T>& x, const Tensor<T>& dy, Tensor<T>& dx) {
        check(x.shape());
        dx.resize(x.shape());
        const std::size_t n = x.shape()[0], hw = x.shape()[2] * x.shape()[3];
        const double m = static_cast<double>(n * hw);
        thread_pool().parallel_for(c_, [&](std::size_t b, std::size_t e, std::size_t) {
            for (std::size_t c = b; c < e; ++c) {
                const double mean = mean_[c], invstd = invstd_[c];
                double sum_dy = 0, sum_dy_xhat = 0;
                for (std::size_t i = 0; i < n; ++i) {
                    const T* p = x.data() + (i * c_ + c) * hw;
                    const T* d = dy.data() + (i * c_ + c) * hw;
                    for (std::size_t j = 0; j < hw; ++j) {
                        sum_dy += d[j];
                        sum_dy_xhat += d[j] * (p[j] - mean) * invstd;
                    }
                }
                grad_weight_[c] = static_cast<T>(sum_dy_xhat);
                grad_bias_[c] = static_cast<T>(sum_dy);
                const double g = weight_[c] * invstd;
                for (std::size_t i = 0; i < n; ++i) {
                    const T* p = x.data() + (i * c_ + c) * hw;
                    const T* d = dy.data() + (i * c_ + c) * hw;
                    T* q = dx.data() + (i * c_ + c) * hw;
                    if (mode_ == Mode::eval) {
                        for (std::size_t j = 0; j < hw; ++j) q[j] = static_cast<T>(d[j] * g);
                    } else {
                        for (std::size_t j = 0; j < hw; ++j) {
                            const double xhat = (p[j] - mean) * invstd;
                            q[j] = static_cast<T>(g * (d[j] - sum_dy / m - xhat * sum_dy_xhat / m));
                        }
                    }
                }
            }
        });
    }

    template <class Visit>
    void for_each_parameter(const std::string& prefix, Visit&& visit) {
        visit(Parameter<T>{join_name(prefix, "weight"), &weight_, &grad_weight_, nullptr});
        visit(Parameter<T>{join_name(prefix, "bias"), &bias_, &grad_bias_, nullptr});
    }
    template <class Visit>
    void for_each_buffer(const std::string& prefix, Visit&& visit) {
        visit(join_name(prefix, "running_mean"), running_mean_);
        visit(join_name(prefix, "running_var"), running_var_);
    }

private:
    void check(const Shape& s) const {
        require_rank(s, 4, "BatchNorm2d");
        if (s[1] != c_)
            throw Error("BatchNorm2d: input has " + std::to_string(s[1]) + " channels, layer has " + std::to_string(c_));
    }

    std::size_t c_;
    double eps_, momentum_;
    Mode mode_ = Mode::train;
    Tensor<T> weight_, bias_, running_mean_, running_var_, grad_weight_, grad_bias_, mean_, invstd_;
};

}  // namespace safnet::nn
