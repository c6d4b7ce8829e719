// safnet/nn/batchnorm.hpp — BatchNorm2d over NCHW, as PyTorch defines it.
//
// train: normalize with the batch's per-channel mean and biased variance; update
//   running_mean/var with `momentum` (running_var uses the unbiased variance).
// eval: normalize with the running statistics.
// backward() matches the mode of the preceding forward().
// Every pass walks the batch image by image (threads split the images), so each thread reads
// one contiguous stream: walking it channel by channel instead reads one short plane per
// image, an image apart, which the hardware prefetcher cannot follow, and BN then ran at
// a third of memory bandwidth inside a training step. Statistics are per-plane partial sums
// (in double) combined per channel in image order, so results do not depend on the thread
// count.
#pragma once

#include <safnet/profile.hpp>
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
template <class B>
double lane_sum(const B& v) {
    alignas(64) typename B::value_type lanes[B::size];
    v.store_aligned(lanes);
    double s = 0;
    for (std::size_t k = 0; k < B::size; ++k) s += lanes[k];
    return s;
}

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
    return lane_sum(acc0 + acc1);
}

/// Two sums in one pass over the whole vectors of a plane: step(j, first, second) adds the
/// terms of the vector at j into the two accumulators (two sets alternate, for latency).
/// Returns the lane sums in double; `tail` is the first element left for the caller's scalar
/// loop.
template <class T, class Step>
std::pair<double, double> plane_reduce_pair(std::size_t n, std::size_t& tail, Step&& step) {
    using B = xsimd::batch<T>;
    B f0(T(0)), f1(T(0)), s0(T(0)), s1(T(0));
    std::size_t j = 0;
    for (; j + 2 * B::size <= n; j += 2 * B::size) {
        step(j, f0, s0);
        step(j + B::size, f1, s1);
    }
    for (; j + B::size <= n; j += B::size) step(j, f0, s0);
    tail = j;
    return {lane_sum(f0 + f1), lane_sum(s0 + s1)};
}

template <class T>
double plane_sum(const T* p, std::size_t n) {
    using B = xsimd::batch<T>;
    double s = plane_reduce<T>(n, [&](std::size_t j) { return B::load_unaligned(p + j); });
    for (std::size_t j = n - n % B::size; j < n; ++j) s += p[j];
    return s;
}

/// One plane's sum and its sum of squared deviations from its own mean (for Chan et al.'s
/// pairwise combination of variances, which stays exact where sum(x^2) - n mean^2 would
/// cancel). Both come from the deviations d = x - a from a = the plane's float-summed mean:
/// they are small, so sum(d) corrects a's error (float sums of large values are not exact),
/// and sum(d^2) - sum(d)^2 / n is the squared deviation from the exact mean.
struct PlaneMoments {
    double sum, m2;
};
template <class T>
PlaneMoments plane_moments(const T* p, std::size_t n) {
    using B = xsimd::batch<T>;
    const T a = static_cast<T>(plane_sum(p, n) / static_cast<double>(n));
    const B va(a);
    std::size_t j;
    auto [d, d2] = plane_reduce_pair<T>(n, j, [&](std::size_t i, B& sum, B& squares) {
        const B di = B::load_unaligned(p + i) - va;
        sum += di;
        squares = xsimd::fma(di, di, squares);
    });
    for (; j < n; ++j) {
        const double dj = static_cast<double>(p[j] - a);
        d += dj;
        d2 += dj * dj;
    }
    const double count = static_cast<double>(n);
    return {count * static_cast<double>(a) + d, d2 - d * d / count};
}

/// (sum of d, sum of d * (p - mean)) in one pass over both planes.
template <class T>
std::pair<double, double> plane_sum_and_dot_dev(const T* d, const T* p, std::size_t n, T mean) {
    using B = xsimd::batch<T>;
    const B m(mean);
    std::size_t j;
    auto [sum, dot] = plane_reduce_pair<T>(n, j, [&](std::size_t i, B& s, B& t) {
        const B di = B::load_unaligned(d + i);
        s += di;
        t = xsimd::fma(di, B::load_unaligned(p + i) - m, t);
    });
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
        if (mode == Mode::train) batch_statistics(x);
        for (std::size_t c = 0; c < c_; ++c) {
            const double mean = mode == Mode::train ? batch_mean_[c] : double(running_mean_[c]);
            const double var = mode == Mode::train ? batch_var_[c] : double(running_var_[c]);
            const double invstd = 1.0 / std::sqrt(var + eps_);
            mean_[c] = static_cast<T>(mean);
            invstd_[c] = static_cast<T>(invstd);
            eval_affine_[c] = affine(c, mean, invstd);
        }
        const std::size_t threads = thread_pool().size();
        if (track_max_) thread_max_.assign(threads * c_, T(0));
        thread_pool().parallel_for(n, [&](std::size_t b, std::size_t e, std::size_t t) {
            T* max = track_max_ ? thread_max_.data() + t * c_ : nullptr;
            for (std::size_t i = b; i < e; ++i)
                for (std::size_t c = 0; c < c_; ++c) {
                    const std::size_t at = (i * c_ + c) * hw;
                    apply_plane(eval_affine_[c], x.data() + at, y.data() + at, residual ? residual->data() + at : nullptr, hw, relu,
                                max ? max + c : nullptr);
                }
        });
        if (track_max_)
            for (std::size_t t = 0; t < threads; ++t)
                for (std::size_t c = 0; c < c_; ++c) channel_max_[c] = std::max(channel_max_[c], thread_max_[t * c_ + c]);
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
            apply_plane(eval_affine_[c], x + c * hw, y + c * hw, residual ? residual + c * hw : nullptr, hw, relu, nullptr);
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
        grad_sums_.resize(n * c_);
        thread_pool().parallel_for(n, [&](std::size_t b, std::size_t e, std::size_t) {
            for (std::size_t i = b; i < e; ++i)
                for (std::size_t c = 0; c < c_; ++c) {
                    const std::size_t at = (i * c_ + c) * hw;
                    grad_sums_[i * c_ + c] = detail::plane_sum_and_dot_dev(dy.data() + at, x.data() + at, hw, mean_[c]);
                }
        });
        // dx = g (dy - mean(dy) - xhat mean(dy xhat)) = a dy + shift + k (x - mu) per channel
        // (in eval mode the batch statistics are constants: dx = g dy).
        grads_.resize(c_);
        for (std::size_t c = 0; c < c_; ++c) {
            double sum_dy = 0, sum_dy_xhat = 0;
            for (std::size_t i = 0; i < n; ++i) {
                sum_dy += grad_sums_[i * c_ + c].first;
                sum_dy_xhat += grad_sums_[i * c_ + c].second;
            }
            const double invstd = invstd_[c];
            sum_dy_xhat *= invstd;
            grad_weight_[c] = static_cast<T>(sum_dy_xhat);
            grad_bias_[c] = static_cast<T>(sum_dy);
            const double g = weight_[c] * invstd;
            const bool eval = mode_ == Mode::eval;
            grads_[c] = {static_cast<T>(g), eval ? T(0) : static_cast<T>(-g * sum_dy / m),
                         eval ? T(0) : static_cast<T>(-g * invstd * sum_dy_xhat / m), mean_[c]};
        }
        thread_pool().parallel_for(n, [&](std::size_t b, std::size_t e, std::size_t) {
            for (std::size_t i = b; i < e; ++i)
                for (std::size_t c = 0; c < c_; ++c) {
                    const std::size_t at = (i * c_ + c) * hw;
                    const T* p = x.data() + at;
                    const T* d = dy.data() + at;
                    T* q = dx.data() + at;
                    const InputGradient k = grads_[c];
                    if (mode_ == Mode::eval) {
                        for (std::size_t j = 0; j < hw; ++j) q[j] = static_cast<T>(d[j] * k.a);
                    } else {  // one multiply-add per term
                        for (std::size_t j = 0; j < hw; ++j) q[j] = k.a * d[j] + k.shift + k.k * (p[j] - k.mu);
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
    // One H x W plane: q = p * scale + shift (+ r), then the optional ReLU epilogue (Clip-Act
    // limit; the largest output into *max when given).
    void apply_plane(Affine a, const T* p, T* q, const T* r, std::size_t hw, bool relu, T* max) const {
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
        if (max)
            for (std::size_t j = 0; j < hw; ++j) *max = std::max(*max, q[j]);
    }

    // The batch's per-channel mean and biased variance into batch_mean_/batch_var_, and the
    // running statistics updated: per-plane moments in parallel over images, then each
    // channel's planes combined in image order (Chan et al.).
    void batch_statistics(const Tensor<T>& x) {
        const std::size_t n = x.shape()[0], hw = x.shape()[2] * x.shape()[3];
        moments_.resize(n * c_);
        thread_pool().parallel_for(n, [&](std::size_t b, std::size_t e, std::size_t) {
            for (std::size_t i = b; i < e; ++i)
                for (std::size_t c = 0; c < c_; ++c) moments_[i * c_ + c] = detail::plane_moments(x.data() + (i * c_ + c) * hw, hw);
        });
        batch_mean_.resize(c_);
        batch_var_.resize(c_);
        const double m = static_cast<double>(n * hw);
        for (std::size_t c = 0; c < c_; ++c) {
            double s = 0;
            for (std::size_t i = 0; i < n; ++i) s += moments_[i * c_ + c].sum;
            const double mean = s / m;
            double m2 = 0;
            for (std::size_t i = 0; i < n; ++i) {
                const detail::PlaneMoments& p = moments_[i * c_ + c];
                const double shift = p.sum / static_cast<double>(hw) - mean;
                m2 += p.m2 + static_cast<double>(hw) * shift * shift;
            }
            batch_mean_[c] = mean;
            batch_var_[c] = m2 / m;
            running_mean_[c] = static_cast<T>((1 - momentum_) * running_mean_[c] + momentum_ * mean);
            const double unbiased = m > 1 ? m2 / (m - 1) : m2 / m;
            running_var_[c] = static_cast<T>((1 - momentum_) * running_var_[c] + momentum_ * unbiased);
        }
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
    Tensor<T> channel_max_;
    std::vector<Affine> eval_affine_;
    struct InputGradient {
        T a, shift, k, mu;
    };
    std::vector<InputGradient> grads_;
    // Per (image, channel) partial sums: forward's plane moments; backward's (sum of dy, sum
    // of dy (x - mean)).
    std::vector<detail::PlaneMoments> moments_;
    std::vector<std::pair<double, double>> grad_sums_;
    std::vector<double> batch_mean_, batch_var_;
    std::vector<T> thread_max_;  // activation maxima per thread while tracking
    Tensor<T> weight_, bias_, running_mean_, running_var_, grad_weight_, grad_bias_, mean_, invstd_;
};

}  // namespace safnet::nn
