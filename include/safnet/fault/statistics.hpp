// safnet/fault/statistics.hpp — summary statistics of a fault campaign's per-round accuracies.
//
// For n rounds with accuracies a_1..a_n (percent):
//   mean  m = sum a_i / n
//   sd    s = sqrt(sum (a_i - m)^2 / (n - 1))                (0 for n = 1)
//   95 % confidence interval of the mean: m +- t_{0.975, n-1} * s / sqrt(n)  (Student t;
//         the rounds are i.i.d. draws of the fault pattern, so the CLT applies to the mean)
//   median, min, max; chance fraction = share of rounds whose accuracy is at most
//         1.5 x chance (1.5 * 100 / classes): the network is effectively guessing.
// Sample size for statistical fault injection (Leveugle et al., DATE 2009, eq. 4):
//   n = N / (1 + e^2 (N - 1) / (t^2 p (1 - p)))
// with population N (e.g. the number of stored bits for single-fault campaigns; infinite for
// BER sweeps, where it reduces to t^2 p (1 - p) / e^2), margin e, the normal quantile t of the
// confidence level and p = 0.5 (the worst case).
#pragma once

#include <safnet/error.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace safnet::fault {

/// Two-sided Student t quantile t_{1 - alpha/2, df} for alpha = 0.05.
inline double student_t975(std::size_t df) {
    static constexpr double table[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                                       2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                                       2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
    if (df == 0) return std::numeric_limits<double>::infinity();
    if (df <= 30) return table[df - 1];
    // Cornish-Fisher expansion around the normal quantile; error < 1e-4 for df > 30.
    const double z = 1.959963984540054, d = static_cast<double>(df);
    const double z3 = z * z * z, z5 = z3 * z * z, z7 = z5 * z * z;
    return z + (z3 + z) / (4 * d) + (5 * z5 + 16 * z3 + 3 * z) / (96 * d * d) + (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * d * d * d);
}

/// Standard normal quantile for a two-sided confidence level (0.90, 0.95, 0.99 ...).
inline double normal_quantile_two_sided(double confidence) {
    if (!(confidence > 0 && confidence < 1)) throw Error("confidence must be in (0, 1), got " + std::to_string(confidence));
    // Acklam-free route: invert erf by Newton's method on Phi(x) = (1 + erf(x / sqrt 2)) / 2.
    const double target = 0.5 + confidence / 2;
    double x = 1.0;
    for (int i = 0; i < 100; ++i) {
        const double phi = 0.5 * std::erfc(-x / std::sqrt(2.0));
        const double pdf = std::exp(-0.5 * x * x) / std::sqrt(2 * 3.141592653589793);
        const double step = (phi - target) / pdf;
        x -= step;
        if (std::abs(step) < 1e-14) break;
    }
    return x;
}

/// Leveugle et al.'s sample size; population 0 means infinite.
inline std::size_t leveugle_sample_size(double margin, double confidence, double population = 0, double p = 0.5) {
    if (!(margin > 0 && margin < 1)) throw Error("margin must be in (0, 1), got " + std::to_string(margin));
    const double t = normal_quantile_two_sided(confidence);
    const double infinite = t * t * p * (1 - p) / (margin * margin);
    if (population <= 0) return static_cast<std::size_t>(std::ceil(infinite));
    return static_cast<std::size_t>(std::ceil(population / (1 + margin * margin * (population - 1) / (t * t * p * (1 - p)))));
}

struct Summary {
    std::size_t rounds = 0;
    double mean = 0, sd = 0, ci_low = 0, ci_high = 0, median = 0, min = 0, max = 0, chance_fraction = 0;
    double ci_halfwidth() const noexcept { return (ci_high - ci_low) / 2; }
};

inline Summary summarize(std::vector<double> acc, std::size_t classes) {
    Summary s;
    s.rounds = acc.size();
    if (acc.empty()) return s;
    const double n = static_cast<double>(acc.size());
    double sum = 0;
    for (double a : acc) sum += a;
    s.mean = sum / n;
    double sq = 0;
    for (double a : acc) sq += (a - s.mean) * (a - s.mean);
    s.sd = acc.size() > 1 ? std::sqrt(sq / (n - 1)) : 0.0;
    const double half = acc.size() > 1 ? student_t975(acc.size() - 1) * s.sd / std::sqrt(n) : std::numeric_limits<double>::infinity();
    s.ci_low = s.mean - half;
    s.ci_high = s.mean + half;
    const double chance = 150.0 / static_cast<double>(std::max<std::size_t>(classes, 1));
    std::size_t at_chance = 0;
    for (double a : acc) at_chance += a <= chance;
    s.chance_fraction = static_cast<double>(at_chance) / n;
    std::sort(acc.begin(), acc.end());
    s.min = acc.front();
    s.max = acc.back();
    const std::size_t m = acc.size() / 2;
    s.median = acc.size() % 2 ? acc[m] : (acc[m - 1] + acc[m]) / 2;
    return s;
}

}  // namespace safnet::fault
