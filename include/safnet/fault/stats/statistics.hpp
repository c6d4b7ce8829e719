// safnet/fault/stats/statistics.hpp — the statistics a fault campaign reports, with exact or
// guaranteed intervals.
//
// Special functions (double precision, checked against published values in
// tests/fault/stats/statistics_test.cpp):
//   incomplete_beta(a, b, x)   regularized I_x(a, b), continued fraction (rel. error ~1e-14)
//   beta_quantile(a, b, q)     x with I_x(a, b) = q, by bisection (relative error < 1e-15)
//   student_t_quantile(df, C)  two-sided: P(|T_df| <= t) = C; df = inf gives the normal one
//   binomial_pmf / binomial_sf P(K = k), P(K > k) for K ~ Binomial(n, p), in log space
//   hypergeometric_pmf         P(J = j) for j marked among a uniform draw without replacement
// Intervals (all at a caller-chosen two-sided confidence C):
//   clopper_pearson(x, n, C)   exact binomial interval [B(a/2; x, n-x+1), B(1-a/2; x+1, n-x)],
//                              with a = 1 - C; x = 0 gives [0, 1 - (a/2)^(1/n)].
//   betting_interval(v, C, time_uniform)
//                              mean of values in [0, 1] by betting (Waudby-Smith & Ramdas,
//                              "Estimating means of bounded random variables by betting",
//                              JRSS-B 2024, hedged capital with predictable plug-in bets):
//                                mu_t = (1/2 + sum_{i<=t} x_i)/(t+1),
//                                s2_t = (1/4 + sum_{i<=t} (x_i - mu_i)^2)/(t+1),
//                                lambda_t = sqrt(2 log(2/a) / (s2_{t-1} n))         (fixed n)
//                                         = sqrt(2 log(2/a) / (s2_{t-1} t log(1+t))) (time-uniform)
//                                K(m) = max(K+(m), K-(m)) / 2,
//                                K+-(m) = prod_i (1 +- min(lambda_i, c/m or c/(1-m)) (x_i - m)),
//                                c = 3/4; the interval is {m : K(m) < 1/a}.
//                              Valid for any distribution on [0, 1] (P(mean outside) <= a, no
//                              normality assumed), so it stays inside [0, 1] and stays wide when
//                              a rare catastrophic mode has not been ruled out; the time-uniform
//                              form holds at a data-dependent stopping time (Ville's
//                              inequality), which is what adaptive stopping needs. The price of
//                              assuming nothing: n rounds cannot exclude an unseen mode of
//                              probability ~3/n, so the lower side is at least ~3.7 m/(c n) wide.
//   stratified_proportion(strata, C)
//                              interval of a stratified proportion p = sum w_s x_s / n_s: the
//                              Korn-Graubard effective-size Clopper-Pearson (Korn & Graubard,
//                              Survey Methodology 24, 1998) with guards against a stratum whose
//                              few rounds all agree. Variance from Laplace's p~_s = (x_s + 1) /
//                              (n_s + 2): v_s = w_s^2 p~_s (1 - p~_s) / n_s, v = sum v_s, p~ =
//                              sum w_s p~_s (a 4-of-4 or 0-of-4 stratum still counts as
//                              uncertain); effective rounds n* = p~ (1 - p~) / v (no cap: where
//                              the strata separate failing from passing rounds n* exceeds n and
//                              the interval is narrower than plain Clopper-Pearson at the same
//                              rounds; the coverage matrix, docs/results/coverage-matrix.md,
//                              measures both) times (t_{n-1} / t_df)^2, df = min(n - S,
//                              Satterthwaite's v^2 / sum v_s^2 / (n_s - 1), n_s - 1 of every
//                              stratum holding >= 1 % of v) (so a light stratum of 4 rounds that
//                              holds the variance widens the interval); then
//                              Clopper-Pearson at x* = p n* of n*. One stratum gives exactly
//                              Clopper-Pearson; zero events under proportional allocation about
//                              [0, 1 - (a/2)^(1/n)], plain sampling's bound. Approximate, not
//                              guaranteed: exact coverage over a grid of per-stratum rates in
//                              tests/fault/stats/statistics_test.cpp, Monte Carlo coverage in
//                              tests/fault/stats/estimator_test.cpp (docs/reference/statistics.md).
//   rare_event_rounds(q, C)    rounds that see an event of per-round probability q with
//                              probability >= C: ceil(ln(1 - C) / ln(1 - q)).
// summarize(acc, classes, C, method) — mean, sd, median, min, max, chance fraction (rounds at
// most 1.5 x chance accuracy) and the betting interval of the mean (acc in percent). Fewer
// than two rounds give no interval (has_interval() false, ci_method "none").
// Sample size for statistical fault injection (Leveugle et al., DATE 2009, eq. 4):
//   n = N / (1 + e^2 (N - 1) / (t^2 p (1 - p))), infinite N: t^2 p (1 - p) / e^2.
#pragma once

#include <safnet/error.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace safnet::fault {

inline void check_confidence(double confidence) {
    if (!(confidence > 0 && confidence < 1)) throw Error("confidence must be in (0, 1), got " + std::to_string(confidence));
}

/// Regularized incomplete beta function I_x(a, b), a, b > 0, x in [0, 1].
inline double incomplete_beta(double a, double b, double x) {
    if (!(a > 0 && b > 0)) throw Error("incomplete_beta: a and b must be positive");
    if (!(x > 0)) return 0.0;
    if (!(x < 1)) return 1.0;
    // Continued fraction (modified Lentz), converging fastest for x < (a + 1) / (a + b + 2).
    const auto fraction = [](double p, double q, double y) {
        constexpr double tiny = 1e-300, eps = 1e-16;
        double c = 1, d = 1 - (p + q) * y / (p + 1);
        d = 1 / (std::abs(d) < tiny ? tiny : d);
        double h = d;
        for (int m = 1; m <= 10000; ++m) {
            const double m2 = 2.0 * m;
            for (const double num : {m * (q - m) * y / ((p + m2 - 1) * (p + m2)), -(p + m) * (p + q + m) * y / ((p + m2) * (p + m2 + 1))}) {
                d = 1 + num * d;
                d = 1 / (std::abs(d) < tiny ? tiny : d);
                c = 1 + num / c;
                if (std::abs(c) < tiny) c = tiny;
                h *= d * c;
            }
            if (std::abs(d * c - 1) < eps) break;
        }
        return h;
    };
    const double log_front = std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x);
    if (x < (a + 1) / (a + b + 2)) return std::exp(log_front) * fraction(a, b, x) / a;
    return 1 - std::exp(log_front) * fraction(b, a, 1 - x) / b;
}

/// The q-quantile of Beta(a, b).
inline double beta_quantile(double a, double b, double q) {
    if (!(q >= 0 && q <= 1)) throw Error("beta_quantile: q must be in [0, 1]");
    if (q == 0 || q == 1) return q;
    // The width is relative: a lower bound far below 1e-16 (one failure seen in a light stratum)
    // must come out as itself, not as the tolerance. 1100 halvings reach the smallest subnormal.
    double lo = 0, hi = 1;
    for (int i = 0; i < 1100 && hi - lo > 1e-15 * hi; ++i) {
        const double mid = (lo + hi) / 2;
        (incomplete_beta(a, b, mid) < q ? lo : hi) = mid;
    }
    return (lo + hi) / 2;
}

/// Standard normal quantile for a two-sided confidence level: P(|Z| <= z) = confidence.
inline double normal_quantile_two_sided(double confidence) {
    check_confidence(confidence);
    // Newton's method on Phi(x) = erfc(-x / sqrt 2) / 2.
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

/// Two-sided Student t quantile: P(|T_df| <= t) = confidence. Uses P(|T| > t) = I_{df/(df+t^2)}(df/2, 1/2).
inline double student_t_quantile(double df, double confidence) {
    check_confidence(confidence);
    if (!(df > 0)) return std::numeric_limits<double>::infinity();
    if (std::isinf(df) || df > 1e7) return normal_quantile_two_sided(confidence);
    const double tail = 1 - confidence;
    double lo = 0, hi = 1;
    while (incomplete_beta(df / 2, 0.5, df / (df + hi * hi)) > tail) hi *= 2;
    for (int i = 0; i < 200 && hi - lo > 1e-13 * hi; ++i) {
        const double mid = (lo + hi) / 2;
        (incomplete_beta(df / 2, 0.5, df / (df + mid * mid)) > tail ? lo : hi) = mid;
    }
    return (lo + hi) / 2;
}

/// log P(K = k), K ~ Binomial(n, p).
inline double binomial_log_pmf(std::uint64_t n, std::uint64_t k, double p) {
    if (k > n) return -std::numeric_limits<double>::infinity();
    if (p <= 0) return k == 0 ? 0.0 : -std::numeric_limits<double>::infinity();
    if (p >= 1) return k == n ? 0.0 : -std::numeric_limits<double>::infinity();
    const double nd = static_cast<double>(n), kd = static_cast<double>(k);
    return std::lgamma(nd + 1) - std::lgamma(kd + 1) - std::lgamma(nd - kd + 1) + kd * std::log(p) + (nd - kd) * std::log1p(-p);
}
inline double binomial_pmf(std::uint64_t n, std::uint64_t k, double p) { return std::exp(binomial_log_pmf(n, k, p)); }

/// log P(J = j), J ~ Hypergeometric: j of the `marked` among `total` items in a uniform draw of
/// `drawn` distinct ones (lgamma: relative error ~1e-8 at total ~1e7, ample for stratum weights).
inline double hypergeometric_log_pmf(std::uint64_t total, std::uint64_t marked, std::uint64_t drawn, std::uint64_t j) {
    if (marked > total || drawn > total || j > marked || j > drawn || drawn - j > total - marked) return -std::numeric_limits<double>::infinity();
    const auto lchoose = [](double n, double k) { return std::lgamma(n + 1) - std::lgamma(k + 1) - std::lgamma(n - k + 1); };
    const auto d = [](std::uint64_t v) { return static_cast<double>(v); };
    return lchoose(d(marked), d(j)) + lchoose(d(total - marked), d(drawn - j)) - lchoose(d(total), d(drawn));
}
inline double hypergeometric_pmf(std::uint64_t total, std::uint64_t marked, std::uint64_t drawn, std::uint64_t j) {
    return std::exp(hypergeometric_log_pmf(total, marked, drawn, j));
}

/// P(K > k), K ~ Binomial(n, p), accurate when tiny: P(K >= k + 1) = I_p(k + 1, n - k).
inline double binomial_sf(std::uint64_t n, std::uint64_t k, double p) {
    if (k >= n || p <= 0) return 0.0;
    if (p >= 1) return 1.0;
    return incomplete_beta(static_cast<double>(k) + 1, static_cast<double>(n - k), p);
}

struct Interval {
    double low = 0, high = 0;
    double halfwidth() const noexcept { return (high - low) / 2; }
    bool contains(double v) const noexcept { return low <= v && v <= high; }
};

/// Clopper-Pearson interval of a binomial proportion: x successes in n trials.
inline Interval clopper_pearson(std::uint64_t x, std::uint64_t n, double confidence) {
    check_confidence(confidence);
    if (n == 0) return {0, 1};
    if (x > n) throw Error("clopper_pearson: " + std::to_string(x) + " successes in " + std::to_string(n) + " trials");
    const double a = 1 - confidence, xd = static_cast<double>(x), nd = static_cast<double>(n);
    const double low = x == 0 ? 0.0 : beta_quantile(xd, nd - xd + 1, a / 2);
    const double high = x == n ? 1.0 : beta_quantile(xd + 1, nd - xd, 1 - a / 2);
    return {low, high};
}

/// Events among the trials of one stratum of weight `weight` (the strata's weights sum to 1).
struct StratumCount {
    double weight = 0;
    std::uint64_t events = 0, trials = 0;
};

/// Interval of sum_s weight_s events_s / trials_s (see the header comment). Every stratum
/// needs at least two trials.
inline Interval stratified_proportion(const std::vector<StratumCount>& strata, double confidence) {
    check_confidence(confidence);
    if (strata.empty()) throw Error("stratified proportion: no strata");
    double p = 0, shrunk = 0, v = 0, v_squares = 0, weight = 0, n = 0;
    std::vector<double> share;
    for (const auto& s : strata) {
        if (s.trials < 2) throw Error("stratified proportion: a stratum has " + std::to_string(s.trials) + " trials, needs at least 2");
        if (s.events > s.trials) throw Error("stratified proportion: " + std::to_string(s.events) + " events in " + std::to_string(s.trials) + " trials");
        if (!(s.weight >= 0 && s.weight <= 1)) throw Error("stratified proportion: weight " + std::to_string(s.weight) + " is not in [0, 1]");
        const double t = static_cast<double>(s.trials), x = static_cast<double>(s.events), q = (x + 1) / (t + 2);
        const double vs = s.weight * s.weight * q * (1 - q) / t;
        p += s.weight * x / t;
        shrunk += s.weight * q;
        v += vs;
        share.push_back(vs);
        v_squares += vs * vs / (t - 1);
        weight += s.weight;
        n += t;
    }
    if (!(weight > 0)) throw Error("stratified proportion: every weight is 0");
    p = std::clamp(p, 0.0, 1.0);
    double df = std::min(n - static_cast<double>(strata.size()), v * v / v_squares);
    for (std::size_t i = 0; i < strata.size(); ++i)  // as for the mean: the strata that hold the variance set the tail
        if (share[i] >= 0.01 * v) df = std::min(df, static_cast<double>(strata[i].trials) - 1);
    const double ratio = student_t_quantile(n - 1, confidence) / student_t_quantile(df, confidence);
    const double n_eff = shrunk * (1 - shrunk) / v * ratio * ratio;
    const double a = 1 - confidence, x = p * n_eff;
    const double low = p <= 0 ? 0.0 : beta_quantile(x, n_eff - x + 1, a / 2);
    const double high = p >= 1 ? 1.0 : beta_quantile(x + 1, n_eff - x, 1 - a / 2);
    return {low, high};
}

/// Weight of the pseudo-round that guards a stratum's variance against unseen modes in the
/// stratified estimator and the BER curve. 1 is the smallest of 0.25, 0.5, 1 whose intervals
/// cover at least 94 % in every cell of tests/fault/stats/coverage_matrix.cpp (0.25: 91 %, 0.5: 94 %
/// at adaptive ±0.5, BER 1e-6, 400 seeds).
inline constexpr double unseen_mode_weight = 1.0;

/// The sample variance of accuracies `x` (percent, mean `m`) with a pseudo-round of weight
/// `kappa` added at the end of [0, 100] farthest from m: what a mode of probability about
/// kappa / (n + kappa) that the rounds have not shown would add. Never 0 for kappa > 0, so a
/// stratum whose few rounds all agree still counts in a stratified interval.
inline bool far_end_is_low(double m) noexcept { return m >= 50; }

inline double guarded_variance(const std::vector<double>& x, double m, double kappa) {
    const double n = static_cast<double>(x.size());
    const double far = far_end_is_low(m) ? 0.0 : 100.0, mk = (n * m + kappa * far) / (n + kappa);
    double ss = kappa * (far - mk) * (far - mk);
    for (double v : x) ss += (v - mk) * (v - mk);
    return ss / std::max(n + kappa - 1, 1.0);
}

/// Half-width t_df * SE of a stratified mean whose variance is the sum of share[s] = w_s^2 v_s / n_s
/// over strata sampled rounds[s] times. df = min(n_s - 1) over the strata holding >= 1 % of SE^2:
/// the stratum that carries the variance sets the tail, so a light stratum with few rounds that
/// dominates the SE widens the interval instead of borrowing the heavy strata's rounds.
inline double stratified_halfwidth(const std::vector<double>& share, const std::vector<std::size_t>& rounds, double confidence) {
    double var = 0;
    for (double s : share) var += s;
    if (!(var > 0)) return 0.0;
    double df = std::numeric_limits<double>::infinity();
    for (std::size_t s = 0; s < share.size(); ++s)
        if (share[s] > 0 && share[s] >= 0.01 * var) df = std::min(df, static_cast<double>(rounds[s]) - 1);
    return student_t_quantile(df, confidence) * std::sqrt(var);
}

/// A stratum's variances for the lower and the upper side of a one-sided-guarded interval
/// (UnseenModes::far_end below): its rounds `x` (percent, mean m) guarded (guarded_variance) on
/// the side of their far end of [0, 100], their sample variance, at least `floor_var`, on the
/// other. The one rule the stratified mean and the BER curve's band share.
struct SideVariances {
    double low = 0, high = 0;
};

inline SideVariances side_variances(const std::vector<double>& x, double m, double floor_var) {
    const double guarded = guarded_variance(x, m, unseen_mode_weight), plain = std::max(guarded_variance(x, m, 0), floor_var);
    return far_end_is_low(m) ? SideVariances{guarded, plain} : SideVariances{plain, guarded};
}

/// Where a stratum's unseen mode can lie, so which side of a stratified interval its guard widens.
/// far_end: only at the end of [lo, hi] farthest from the stratum's mean. One configuration's
///   accuracy: what a few rounds miss is a rare catastrophic mode, which can only pull a mean
///   near 100 down (or a mean near 0 up), so the guard widens that side; the other side uses the
///   plain sample variance, at least floor_sd^2 (a stratum whose rounds all agree still counts).
///   An unseen mode cannot make the true mean lie on the near side, and sampled modes show in
///   the sample variance: 95-100 % coverage in every cell of tests/fault/stats/coverage_matrix.cpp,
///   at up to 45 % less width than guarding both sides (docs/reference/statistics.md).
/// both_ends: either end (a difference of two configurations: either one's mode may be unseen).
enum class UnseenModes { far_end, both_ends };

/// Stratified mean sum_s w_s mean(x_s) of values bounded in [lo, hi], and its guarded t interval:
/// each stratum's variance guarded (guarded_variance, in units of a [0, 100] span) against an
/// unseen mode on the side(s) `modes` says, each side's half-width from stratified_halfwidth.
/// An empty stratum leaves the interval [lo, hi]. On [0, 100] the values are used as they are
/// (no rescaling, so no rounding). floor_sd is in the values' units.
struct StratifiedMean {
    double mean = 0;
    Interval ci{0, 1};
};

inline StratifiedMean stratified_guarded_mean(const std::vector<std::vector<double>>& x, const std::vector<double>& w, double lo, double hi,
                                              double confidence, UnseenModes modes = UnseenModes::both_ends, double floor_sd = 0) {
    const bool percent = lo == 0 && hi == 100;
    const double span = hi - lo, unit = span / 100, floor_var = (floor_sd / unit) * (floor_sd / unit);
    StratifiedMean r{0, {lo, hi}};
    std::vector<double> low_share(x.size()), high_share(x.size());
    std::vector<std::size_t> rounds(x.size());
    bool empty = false;
    for (std::size_t s = 0; s < x.size(); ++s) {
        if (x[s].empty()) {
            empty = true;
            continue;
        }
        std::vector<double> scaled = x[s];
        if (!percent)
            for (double& v : scaled) v = 100 * (v - lo) / span;
        double m = 0;
        for (double v : scaled) m += v;
        m /= static_cast<double>(scaled.size());
        rounds[s] = scaled.size();
        r.mean += w[s] * (percent ? m : lo + m * unit);
        const double to_share = w[s] * w[s] * (percent ? 1.0 : unit * unit) / static_cast<double>(rounds[s]);
        if (modes == UnseenModes::both_ends) {
            low_share[s] = high_share[s] = guarded_variance(scaled, m, unseen_mode_weight) * to_share;
            continue;
        }
        const SideVariances v = side_variances(scaled, m, floor_var);
        low_share[s] = v.low * to_share;
        high_share[s] = v.high * to_share;
    }
    if (empty) return r;
    const double below = stratified_halfwidth(low_share, rounds, confidence), above = stratified_halfwidth(high_share, rounds, confidence);
    r.ci = {std::clamp(r.mean - below, lo, hi), std::clamp(r.mean + above, lo, hi)};
    return r;
}

/// The interval of one configuration's stratified mean top-1 (percent): guarded towards each
/// stratum's far end, the near side's sd floored at `resolution` (one test image, in points).
/// The estimator's interval, and the one a difference of unpaired runs combines.
inline Interval stratified_top1_interval(const std::vector<std::vector<double>>& top1, const std::vector<double>& w, double confidence,
                                         double resolution) {
    return stratified_guarded_mean(top1, w, 0, 100, confidence, UnseenModes::far_end, resolution).ci;
}

/// Rounds that observe an event of per-round probability q at least once with probability >= confidence.
inline std::size_t rare_event_rounds(double q, double confidence) {
    check_confidence(confidence);
    if (!(q > 0 && q < 1)) throw Error("rare-event probability must be in (0, 1), got " + std::to_string(q));
    return static_cast<std::size_t>(std::ceil(std::log1p(-confidence) / std::log1p(-q) - 1e-9));
}

/// Betting confidence interval for the mean of values in [0, 1] (see the header comment).
inline Interval betting_interval(const std::vector<double>& x, double confidence, bool time_uniform) {
    check_confidence(confidence);
    const std::size_t n = x.size();
    if (n == 0) return {0, 1};
    for (double v : x)
        if (!(v >= 0 && v <= 1)) throw Error("betting_interval: values must lie in [0, 1], got " + std::to_string(v));
    const double alpha = 1 - confidence, c = 0.75, log_threshold = std::log(1 / alpha);
    // Predictable bets: lambda_i uses the running estimates of the first i - 1 values.
    std::vector<double> lambda(n);
    double sum = 0, sq = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const double t = static_cast<double>(i + 1);
        const double s2 = (0.25 + sq) / t;  // s2_{i}, from values before this one
        const double scale = time_uniform ? t * std::log1p(t) : static_cast<double>(n);
        lambda[i] = std::sqrt(2 * std::log(2 / alpha) / (s2 * scale));
        sum += x[i];
        const double mu = (0.5 + sum) / (t + 1);
        sq += (x[i] - mu) * (x[i] - mu);
    }
    // log of K+(m) (non-increasing in m) and K-(m) (non-decreasing): each side by bisection.
    const auto log_capital = [&](double m, double sign) {
        const double cap = sign > 0 ? c / std::max(m, 1e-300) : c / std::max(1 - m, 1e-300);
        // Factors lie in [1 - c, 1 + lambda]; lambda <= sqrt(8 log(2/a) / log 2) (s2 >= 1/(4t)): products of 16 stay far inside double range.
        double s = 0;
        for (std::size_t i = 0; i < n; i += 16) {
            double prod = 1;
            for (std::size_t j = i; j < std::min(n, i + 16); ++j) prod *= 1 + sign * std::min(lambda[j], cap) * (x[j] - m);
            s += std::log(prod);
        }
        return s;
    };
    const double half = std::log(0.5);
    double lo = 0, hi = 1;  // lower bound: the smallest m with K+(m)/2 < 1/alpha
    if (half + log_capital(0, 1) >= log_threshold) {
        double a = 0, b = 1;
        for (int i = 0; i < 26; ++i) {  // 2^-26: 1.5e-6 points
            const double mid = (a + b) / 2;
            (half + log_capital(mid, 1) >= log_threshold ? a : b) = mid;
        }
        lo = a;
    }
    if (half + log_capital(1, -1) >= log_threshold) {
        double a = 0, b = 1;
        for (int i = 0; i < 26; ++i) {  // 2^-26: 1.5e-6 points
            const double mid = (a + b) / 2;
            (half + log_capital(mid, -1) >= log_threshold ? b : a) = mid;
        }
        hi = b;
    }
    if (lo > hi) std::swap(lo, hi);  // both sides rejected everything: probability < alpha
    return {lo, hi};
}

enum class IntervalKind { none, betting_fixed, betting_time_uniform, stratified_guarded };

inline const char* interval_kind_name(IntervalKind k) noexcept {
    switch (k) {
        case IntervalKind::none: return "none";
        case IntervalKind::betting_fixed: return "betting";
        case IntervalKind::betting_time_uniform: return "betting-time-uniform";
        case IntervalKind::stratified_guarded: return "stratified-guarded-t";
    }
    return "?";
}

struct Summary {
    std::size_t rounds = 0;
    double mean = 0, sd = 0, ci_low = 0, ci_high = 0, median = 0, min = 0, max = 0, chance_fraction = 0;
    double confidence = 0.95;
    IntervalKind ci_method = IntervalKind::none;
    bool has_interval() const noexcept { return ci_method != IntervalKind::none; }
    double ci_halfwidth() const noexcept { return has_interval() ? (ci_high - ci_low) / 2 : std::numeric_limits<double>::infinity(); }
};

/// Share of values at most 1.5 x chance accuracy (percent), the rounds in which the network guesses.
inline double chance_fraction(const std::vector<double>& acc, std::size_t classes) {
    if (acc.empty()) return 0;
    const double chance = 150.0 / static_cast<double>(std::max<std::size_t>(classes, 1));
    std::size_t at = 0;
    for (double a : acc) at += a <= chance;
    return static_cast<double>(at) / static_cast<double>(acc.size());
}

/// Summary of per-round accuracies in percent; `time_uniform` for adaptively stopped samples.
inline Summary summarize(std::vector<double> acc, std::size_t classes, double confidence = 0.95, bool time_uniform = false) {
    Summary s;
    s.rounds = acc.size();
    s.confidence = confidence;
    if (acc.empty()) return s;
    const double n = static_cast<double>(acc.size());
    double sum = 0;
    for (double a : acc) sum += a;
    s.mean = sum / n;
    double sq = 0;
    for (double a : acc) sq += (a - s.mean) * (a - s.mean);
    s.sd = acc.size() > 1 ? std::sqrt(sq / (n - 1)) : 0.0;
    if (acc.size() > 1) {
        std::vector<double> unit(acc.size());
        for (std::size_t i = 0; i < acc.size(); ++i) unit[i] = std::clamp(acc[i] / 100, 0.0, 1.0);
        const Interval ci = betting_interval(unit, confidence, time_uniform);
        s.ci_low = 100 * ci.low;
        s.ci_high = 100 * ci.high;
        s.ci_method = time_uniform ? IntervalKind::betting_time_uniform : IntervalKind::betting_fixed;
    }
    s.chance_fraction = chance_fraction(acc, classes);
    std::sort(acc.begin(), acc.end());
    s.min = acc.front();
    s.max = acc.back();
    const std::size_t m = acc.size() / 2;
    s.median = acc.size() % 2 ? acc[m] : (acc[m - 1] + acc[m]) / 2;
    return s;
}

/// Leveugle et al.'s sample size; population 0 means infinite.
inline std::size_t leveugle_sample_size(double margin, double confidence, double population = 0, double p = 0.5) {
    if (!(margin > 0 && margin < 1)) throw Error("margin must be in (0, 1), got " + std::to_string(margin));
    const double t = normal_quantile_two_sided(confidence);
    const double infinite = t * t * p * (1 - p) / (margin * margin);
    if (population <= 0) return static_cast<std::size_t>(std::ceil(infinite));
    return static_cast<std::size_t>(std::ceil(population / (1 + margin * margin * (population - 1) / (t * t * p * (1 - p)))));
}

}  // namespace safnet::fault
