// safnet/nn/batchnorm.hpp — BatchNorm2d over NCHW, as PyTorch defines it.
//
// train: normalize with the batch's per-channel mean and biased variance; update
//   running_mean/var with `momentum` (running_var uses the unbiased variance).
// eval: normalize with the running statistics.
// backward() matches the mode of the preceding forward(); statistics are summed in double,
// one channel per task, so results do not depend on the thread count.
#pragma once

#include <safnet/detail/profile.hpp>
#include <safnet/detail/thread_pool.hpp>
#include <safnet/nn/parameter.hpp>

#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

namespace safnet::nn {
namespace detail {

// Per-plane reductions, vectorized: lanes accumulate in T over one H x W plane (short), and
// planes are then summed in double. The order is fixed, so results do not depend on threads.
template <class T, class F>
double plane_reduce(std::size_t n, F&& term) {
    using B = xsimd::batch<T>;
    B acc0(T(0)), acc1(T(0));
    std::size_t j = 0;
    for (; j + 2 * B::size <= n; j += 2 * B::size) {
        acc0 += term(j);
        acc1 += term(j + B::size);
    }
    for (; j + B::size <= n; j += B::size) acc0 += term(j);
    alignas(64) T lanes[B::size];
    (acc0 + acc1).store_aligned(lanes);
    double s = 0;
    for (std::size_t k = 0; k < B::size; ++k) s += lanes[k];
    return s;
}

template <class T>
double plane_sum(const T* p, std::size_t n) {
    using B = xsimd::batch<T>;
    double s = plane_reduce<T>(n, [&](std::size_t j) { return B::load_unaligned(p + j); });
    for (std::size_t j = n - n % B::size; j < n; ++j) s += p[j];
    return s;
}

template <class T>
double plane_sq_dev(const T* p, std::size_t n, T mean) {
    using B = xsimd::batch<T>;
    const B m(mean);
    double s = plane_reduce<T>(n, [&](std::size_t j) {
        const B d = B::load_unaligned(p + j) - m;
        return d * d;
    });
    for (std::size_t j = n - n % B::size; j < n; ++j) s += double(p[j] - mean) * double(p[j] - mean);
    return s;
}

/// (sum of d, sum of d * (p - mean)) in one pass over both planes.
template <class T>
std::pair<double, double> plane_sum_and_dot_dev(const T* d, const T* p, std::size_t n, T mean) {
    using B = xsimd::batch<T>;
    const B m(mean);
    B s0(T(0)), s1(T(0)), t0(T(0)), t1(T(0));
    std::size_t j = 0;
    for (; j + 2 * B::size <= n; j += 2 * B::size) {
        const B d0 = B::load_unaligned(d + j), d1 = B::load_unaligned(d + j + B::size);
        s0 += d0;
        s1 += d1;
        t0 = xsimd::fma(d0, B::load_unaligned(p + j) - m, t0);
        t1 = xsimd::fma(d1, B::load_unaligned(p + j + B::size) - m, t1);
    }
    for (; j + B::size <= n; j += B::size) {
        const B d0 = B::load_unaligned(d + j);
        s0 += d0;
        t0 = xsimd::fma(d0, B::load_unaligned(p + j) - m, t0);
    }
    alignas(64) T a[B::size], b[B::size];
    (s0 + s1).store_aligned(a);
    (t0 + t1).store_aligned(b);
    double sum = 0, dot = 0;
    for (std::size_t k = 0; k < B::size; ++k) {
        sum += a[k];
        dot += b[k];
    }
    for (; j < n; ++j) {
        sum += d[j];
        dot += double(d[j]) * double(p[j] - mean);
    }
    return {sum, dot};
}


}  // namespace detail

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
        eval_affine_.resize(c_);
    }

    Tensor<T>& weight() noexcept { return weight_; }
    Tensor<T>& bias() noexcept { return bias_; }
    Tensor<T>& running_mean() noexcept { return running_mean_; }
    Tensor<T>& running_var() noexcept { return running_var_; }

    /// y = BN(x), or with the fused epilogue y = relu(BN(x) + residual) (residual optional):
    /// one pass over memory instead of three. Backward only needs x, so the fused form
    /// changes nothing there.
    void forward(const Tensor<T>& x, Tensor<T>& y, Mode mode, const Tensor<T>* residual = nullptr, bool relu = false) {
        const profile::Scope scope(profile::Kind::bn_forward);
        check(x.shape());
        if (residual && !(residual->shape() == x.shape()))
            throw Error("BatchNorm2d: residual " + residual->shape().str() + " does not match " + x.shape().str());
        y.resize(x.shape());
        mode_ = mode;
        const std::size_t n = x.shape()[0], hw = x.shape()[2] * x.shape()[3];
        thread_pool().parallel_for(c_, [&](std::size_t b, std::size_t e, std::size_t) {
            for (std::size_t c = b; c < e; ++c) {
                double mean = running_mean_[c], var = running_var_[c];
                if (mode == Mode::train) {
                    double s = 0, s2 = 0;
                    for (std::size_t i = 0; i < n; ++i) s += detail::plane_sum(x.data() + (i * c_ + c) * hw, hw);
                    const double m = static_cast<double>(n * hw);
                    mean = s / m;
                    for (std::size_t i = 0; i < n; ++i)
                        s2 += detail::plane_sq_dev(x.data() + (i * c_ + c) * hw, hw, static_cast<T>(mean));
                    var = s2 / m;
                    running_mean_[c] = static_cast<T>((1 - momentum_) * running_mean_[c] + momentum_ * mean);
                    const double unbiased = m > 1 ? s2 / (m - 1) : var;
                    running_var_[c] = static_cast<T>((1 - momentum_) * running_var_[c] + momentum_ * unbiased);
                }
                const double invstd = 1.0 / std::sqrt(var + eps_);
                mean_[c] = static_cast<T>(mean);
                invstd_[c] = static_cast<T>(invstd);
                const Affine a = affine(c, mean, invstd);
                for (std::size_t i = 0; i < n; ++i) {
                    const std::size_t at = (i * c_ + c) * hw;
                    apply_plane(c, a, x.data() + at, y.data() + at, residual ? residual->data() + at : nullptr, hw, relu);
                }
            }
        });
    }

    /// The fused eval-mode form for a producer's epilogue: begin_eval_images() once per batch
    /// (it sets the running-statistics affine map, as forward(..., Mode::eval) would), then
    /// eval_image() per image, any thread: y = [relu](BN(x) [+ residual]) for one image of
    /// `channels x hw`, in place allowed (y == x). Same arithmetic, so the same bits, as
    /// forward(). Not while tracking activation maxima (that state is shared across images).
    /// eval_epilogue() does both for a conv: it begins the batch and returns the functor
    /// epi(n, image) that normalizes image n in place (residual: the batch's, same shape).
    auto eval_epilogue(std::size_t hw, bool relu, const T* residual = nullptr) {
        begin_eval_images();
        return [this, hw, relu, residual, image = c_ * hw](std::size_t n, T* img) {
            eval_image(img, img, residual ? residual + n * image : nullptr, hw, relu);
        };
    }
    void begin_eval_images() {
        if (track_max_) throw Error("BatchNorm2d: the per-image eval form cannot track activation maxima");
        mode_ = Mode::eval;
        for (std::size_t c = 0; c < c_; ++c) {
            const double invstd = 1.0 / std::sqrt(static_cast<double>(running_var_[c]) + eps_);
            mean_[c] = running_mean_[c];
            invstd_[c] = static_cast<T>(invstd);
            eval_affine_[c] = affine(c, running_mean_[c], invstd);
        }
    }
    void eval_image(const T* x, T* y, const T* residual, std::size_t hw, bool relu) const {
        for (std::size_t c = 0; c < c_; ++c)
            apply_plane(c, eval_affine_[c], x + c * hw, y + c * hw, residual ? residual + c * hw : nullptr, hw, relu);
    }
    bool tracking_activation_max() const noexcept { return track_max_; }

    /// Activation clipping (the Clip-Act / Ranger baseline of fault campaigns): with a limit
    /// >= 0, the fused ReLU epilogue outputs min(relu(.), limit), and NaN becomes 0. A negative
    /// limit switches it off (the default). Only the fused-ReLU form is affected.
    void set_activation_limit(T limit) noexcept { limit_ = limit; }
    T activation_limit() const noexcept { return limit_; }
    /// Calibration: while on, the largest fused-ReLU output seen is recorded.
    void track_activation_max(bool on) {
        track_max_ = on;
        if (on) channel_max_.resize(Shape{c_}, T(0));
    }
    T activation_max() const noexcept {
        T m = T(0);
        for (std::size_t c = 0; c < channel_max_.size(); ++c) m = std::max(m, channel_max_[c]);
        return m;
    }

    void backward(const Tensor<T>& x, const Tensor<T>& dy, Tensor<T>& dx) {
        const profile::Scope scope(profile::Kind::bn_backward);
        check(x.shape());
        dx.resize(x.shape());
        const std::size_t n = x.shape()[0], hw = x.shape()[2] * x.shape()[3];
        const double m = static_cast<double>(n * hw);
        thread_pool().parallel_for(c_, [&](std::size_t b, std::size_t e, std::size_t) {
            for (std::size_t c = b; c < e; ++c) {
                const double mean = mean_[c], invstd = invstd_[c];
                double sum_dy = 0, sum_dy_xhat = 0;
                for (std::size_t i = 0; i < n; ++i) {
                    const auto [s, dot] = detail::plane_sum_and_dot_dev(dy.data() + (i * c_ + c) * hw,
                                                                         x.data() + (i * c_ + c) * hw, hw, static_cast<T>(mean));
                    sum_dy += s;
                    sum_dy_xhat += dot;
                }
                sum_dy_xhat *= invstd;
                grad_weight_[c] = static_cast<T>(sum_dy_xhat);
                grad_bias_[c] = static_cast<T>(sum_dy);
                const double g = weight_[c] * invstd;
                for (std::size_t i = 0; i < n; ++i) {
                    const T* p = x.data() + (i * c_ + c) * hw;
                    const T* d = dy.data() + (i * c_ + c) * hw;
                    T* q = dx.data() + (i * c_ + c) * hw;
                    if (mode_ == Mode::eval) {
                        for (std::size_t j = 0; j < hw; ++j) q[j] = static_cast<T>(d[j] * g);
                    } else {  // dx = g (dy - mean(dy) - xhat mean(dy xhat)), as one multiply-add per term
                        const T a = static_cast<T>(g), shift = static_cast<T>(-g * sum_dy / m),
                                k = static_cast<T>(-g * invstd * sum_dy_xhat / m), mu = static_cast<T>(mean);
                        for (std::size_t j = 0; j < hw; ++j) q[j] = a * d[j] + shift + k * (p[j] - mu);
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
    struct Affine {
        T scale, shift;
    };
    Affine affine(std::size_t c, double mean, double invstd) const {
        return {static_cast<T>(weight_[c] * invstd), static_cast<T>(bias_[c] - mean * weight_[c] * invstd)};
    }
    // One H x W plane of channel c: q = p * scale + shift (+ r), then the optional ReLU
    // epilogue (Clip-Act limit, maximum tracking).
    void apply_plane(std::size_t c, Affine a, const T* p, T* q, const T* r, std::size_t hw, bool relu) const {
        const T scale = a.scale, shift = a.shift;
        if (r) {
            for (std::size_t j = 0; j < hw; ++j) q[j] = p[j] * scale + shift + r[j];
        } else {
            for (std::size_t j = 0; j < hw; ++j) q[j] = p[j] * scale + shift;
        }
        if (!relu) return;
        for (std::size_t j = 0; j < hw; ++j) q[j] = relu_keep_nan(q[j]);
        if (limit_ >= T(0))  // Clip-Act baseline: bound the activation, NaN -> 0
            for (std::size_t j = 0; j < hw; ++j) q[j] = q[j] <= limit_ ? q[j] : (q[j] > limit_ ? limit_ : T(0));
        if (track_max_)
            for (std::size_t j = 0; j < hw; ++j) channel_max_[c] = std::max(channel_max_[c], q[j]);
    }

    void check(const Shape& s) const {
        require_rank(s, 4, "BatchNorm2d");
        if (s[1] != c_)
            throw Error("BatchNorm2d: input has " + std::to_string(s[1]) + " channels, layer has " + std::to_string(c_));
    }

    std::size_t c_;
    double eps_, momentum_;
    Mode mode_ = Mode::train;
    T limit_ = T(-1);
    bool track_max_ = false;
    mutable Tensor<T> channel_max_;  // written by apply_plane under forward's per-channel split
    std::vector<Affine> eval_affine_;
    Tensor<T> weight_, bias_, running_mean_, running_var_, grad_weight_, grad_bias_, mean_, invstd_;
};

}  // namespace safnet::nn
