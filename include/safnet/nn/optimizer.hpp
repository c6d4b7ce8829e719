// safnet/nn/optimizer.hpp — SGD (momentum, Nesterov, weight decay) and AdamW, PyTorch's
// update rules, applied to the raw values of every Parameter (weight decay included: the
// raw SAF weights are what is stored and trained). After a step, SAF-parametrized weights
// are refreshed (tau recomputed once per step). State buffers are created on the first step
// and reused after; they are keyed by parameter order, which a model keeps fixed.
#pragma once

#include <safnet/profile.hpp>
#include <safnet/nn/parameter.hpp>

#include <cmath>
#include <vector>

namespace safnet::nn {

struct SgdOptions {
    double lr = 0.1, momentum = 0.9, weight_decay = 5e-4;
    bool nesterov = false;
};

template <std::floating_point T>
class Sgd {
public:
    explicit Sgd(SgdOptions o) : o_(o) {}
    void set_lr(double lr) noexcept { o_.lr = lr; }
    double lr() const noexcept { return o_.lr; }

    template <class Model>
    void step(Model& model) {
        const profile::Scope scope(profile::Kind::optimizer);
        std::size_t i = 0;
        model.for_each_parameter([&](const Parameter<T>& p) {
            if (velocity_.size() <= i) velocity_.emplace_back(p.value->shape(), T(0));
            Tensor<T>& v = velocity_[i++];
            T* w = p.value->data();
            const T* g = p.grad->data();
            const T mu = static_cast<T>(o_.momentum), wd = static_cast<T>(o_.weight_decay), lr = static_cast<T>(o_.lr);
            for (std::size_t k = 0; k < p.value->size(); ++k) {
                T d = g[k] + wd * w[k];
                if (o_.momentum != 0) {
                    v[k] = mu * v[k] + d;
                    d = o_.nesterov ? d + mu * v[k] : v[k];
                }
                w[k] -= lr * d;
            }
            if (p.saf) p.saf->refresh();
        });
    }
    std::vector<Tensor<T>>& state() noexcept { return velocity_; }

    /// Visits (name, tensor) for every state buffer, creating missing ones: checkpoints save
    /// and restore optimizer state through this (names follow PyTorch: "<param>.momentum_buffer").
    template <class Model, class Visit>
    void for_each_state(Model& model, Visit&& visit) {
        std::size_t i = 0;
        model.for_each_parameter([&](const Parameter<T>& p) {
            if (velocity_.size() <= i) velocity_.emplace_back(p.value->shape(), T(0));
            visit(p.name + ".momentum_buffer", velocity_[i++]);
        });
    }

private:
    SgdOptions o_;
    std::vector<Tensor<T>> velocity_;
};

struct AdamWOptions {
    double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 1e-2;
};

template <std::floating_point T>
class AdamW {
public:
    explicit AdamW(AdamWOptions o) : o_(o) {}
    void set_lr(double lr) noexcept { o_.lr = lr; }
    double lr() const noexcept { return o_.lr; }

    template <class Model>
    void step(Model& model) {
        const profile::Scope scope(profile::Kind::optimizer);
        ++t_;
        const double c1 = 1 - std::pow(o_.beta1, static_cast<double>(t_));
        const double c2 = 1 - std::pow(o_.beta2, static_cast<double>(t_));
        std::size_t i = 0;
        model.for_each_parameter([&](const Parameter<T>& p) {
            if (m_.size() <= i) {
                m_.emplace_back(p.value->shape(), T(0));
                v_.emplace_back(p.value->shape(), T(0));
            }
            Tensor<T>& m = m_[i];
            Tensor<T>& v = v_[i++];
            T* w = p.value->data();
            const T* g = p.grad->data();
            for (std::size_t k = 0; k < p.value->size(); ++k) {
                w[k] *= static_cast<T>(1 - o_.lr * o_.weight_decay);  // decoupled decay
                m[k] = static_cast<T>(o_.beta1 * m[k] + (1 - o_.beta1) * g[k]);
                v[k] = static_cast<T>(o_.beta2 * v[k] + (1 - o_.beta2) * g[k] * g[k]);
                w[k] -= static_cast<T>(o_.lr * (m[k] / c1) / (std::sqrt(v[k] / c2) + o_.eps));
            }
            if (p.saf) p.saf->refresh();
        });
    }

    /// As Sgd::for_each_state: "<param>.exp_avg" and "<param>.exp_avg_sq".
    template <class Model, class Visit>
    void for_each_state(Model& model, Visit&& visit) {
        std::size_t i = 0;
        model.for_each_parameter([&](const Parameter<T>& p) {
            if (m_.size() <= i) {
                m_.emplace_back(p.value->shape(), T(0));
                v_.emplace_back(p.value->shape(), T(0));
            }
            visit(p.name + ".exp_avg", m_[i]);
            visit(p.name + ".exp_avg_sq", v_[i++]);
        });
    }
    /// Steps taken (for bias correction); saved and restored with the state.
    long& step_count() noexcept { return t_; }

private:
    AdamWOptions o_;
    long t_ = 0;
    std::vector<Tensor<T>> m_, v_;
};

}  // namespace safnet::nn
