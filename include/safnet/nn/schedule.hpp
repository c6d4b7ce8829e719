// safnet/nn/schedule.hpp — learning-rate schedules as pure functions of the step.
//
// lr(step) for step in [0, total): an optional linear warm-up over the first `warmup`
// steps (from lr/warmup up to lr), then cosine annealing to `min_lr` or step decay by
// `gamma` every `step_size` steps (counted after warm-up).
#pragma once

#include <safnet/error.hpp>

#include <cmath>
#include <string>

namespace safnet::nn {

struct Schedule {
    enum class Kind { constant, cosine, step } kind = Kind::cosine;
    double lr = 0.1, min_lr = 0.0, gamma = 0.1;
    long total = 1, warmup = 0, step_size = 1;

    double operator()(long step) const {
        if (warmup > 0 && step < warmup) return lr * static_cast<double>(step + 1) / static_cast<double>(warmup);
        const long s = step - warmup;
        const long span = std::max(1L, total - warmup);
        switch (kind) {
            case Kind::constant: return lr;
            case Kind::cosine:
                return min_lr + 0.5 * (lr - min_lr) * (1 + std::cos(3.141592653589793 * static_cast<double>(std::min(s, span)) / static_cast<double>(span)));
            case Kind::step: return lr * std::pow(gamma, static_cast<double>(s / std::max(1L, step_size)));
        }
        return lr;
    }

    static Kind kind_from_name(const std::string& name) {
        if (name == "cosine") return Kind::cosine;
        if (name == "step") return Kind::step;
        if (name == "constant") return Kind::constant;
        throw Error("unknown schedule '" + name + "'; valid: cosine, step, constant");
    }
};

}  // namespace safnet::nn
