// safnet/fault/stats/ber_curve.hpp — accuracy as a function of the bit error rate, down to rates no
// Monte Carlo campaign at that rate could resolve, from campaigns with exact fault counts.
//
// With N eligible bits and independent faults at rate p, the number of faults K is
// Binomial(N, p) and, given K = k, the faulty bits are k distinct bits chosen uniformly. So
//   E[accuracy](p) = sum_k P(K = k; N, p) m_k,
// where m_k is the mean accuracy with exactly k faults (a `--flips k` campaign, itself stratified
// by its critical count J ~ Hypergeometric where that pays: m_k = sum_j w_kj m_kj, strata.hpp).
// One set of exact-count campaigns k = 0 .. K_max therefore gives the whole curve. At each rate:
//   estimate  sum_{k<=K} w_k m_k + T m_K            (T = P(K > K_max), the truncated tail)
//   band      [L, U + 100 T],  L = sum_{k<=K} w_k m_k - t_df SE_low, U = ... + t_df SE_high,
//             SE_side^2 = sum_{k,j} (w_k w_kj)^2 v_kj / n_kj, v_kj on the side towards the
//             stratum's far end the guarded variance of statistics.hpp (k >= 1: a mode its
//             rounds have not shown still counts), on the other its sample variance (sd at
//             least one test image); k = 0 is the clean network, v_0 = 0;
//             df = min(n_k - 1) over the strata holding >= 1 % of SE^2 (stratified_halfwidth);
//             the tail's accuracy is only known to lie in [0, 100], which is what 100 T bounds.
// A rate whose tail T is not small is reported with its T so the reader sees why the band is wide.
// parse_curve("1e-10:1e-5:31") gives 31 log-spaced rates from 1e-10 to 1e-5.
#pragma once

#include <safnet/checked.hpp>
#include <safnet/error.hpp>
#include <safnet/fault/stats/statistics.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

namespace safnet::fault {

struct CurveSpec {
    double low = 1e-10, high = 1e-5;
    std::size_t points = 31;
    std::size_t k_max = 0;   // 0: the smallest K with P(K > K_max) <= 1e-3 at `high`, at most 40
    std::size_t rounds = 0;  // rounds per exact-count stratum; 0: the sweep's --rounds

    std::vector<double> rates() const {
        std::vector<double> r;
        for (std::size_t i = 0; i < points; ++i)
            r.push_back(points == 1 ? low : std::exp(std::log(low) + (std::log(high) - std::log(low)) * static_cast<double>(i) / static_cast<double>(points - 1)));
        return r;
    }
};

inline CurveSpec parse_curve(const std::string& text) {
    const auto bad = [&](const std::string& why) { return Error("--ber-curve: '" + text + "' " + why + " (expected LO:HI:N, e.g. 1e-10:1e-5:31)"); };
    const auto c1 = text.find(':'), c2 = c1 == std::string::npos ? c1 : text.find(':', c1 + 1);
    if (c2 == std::string::npos) throw bad("is not of the form LO:HI:N");
    const auto number = [&](const std::string& s) {
        try {
            return parse_finite(s, "--ber-curve");
        } catch (const Error&) {
            throw bad("has a bad number '" + s + "'");
        }
    };
    CurveSpec c;
    c.low = number(text.substr(0, c1));
    c.high = number(text.substr(c1 + 1, c2 - c1 - 1));
    const double n = number(text.substr(c2 + 1));
    if (!(c.low > 0 && c.low <= c.high && c.high < 1)) throw bad("needs 0 < LO <= HI < 1");
    if (!(n >= 1 && n <= 1000 && n == std::floor(n))) throw bad("needs a whole number of points from 1 to 1000");
    c.points = static_cast<std::size_t>(n);
    return c;
}

/// Above this P(K > K_max) the curve gives no point estimate (only its [0, 100]-wide band):
/// the unmeasured tail would dominate it.
inline constexpr double curve_tail_limit = 1e-3;

/// The default K_max for `eligible` bits up to rate `high`.
inline std::size_t curve_k_max(const CurveSpec& c, std::uint64_t eligible) {
    if (c.k_max) return c.k_max;
    std::size_t k = 1;
    while (k < 40 && binomial_sf(eligible, k, c.high) > curve_tail_limit) ++k;
    return k;
}

/// The smallest K_max whose exact-count strata reach `rate` (P(K > K_max) <= curve_tail_limit).
inline std::uint64_t curve_k_for(std::uint64_t eligible, double rate) {
    std::uint64_t lo = 0, hi = eligible;  // binomial_sf falls as k grows; at k = eligible it is 0
    while (lo < hi) {
        const std::uint64_t mid = lo + (hi - lo) / 2;
        if (binomial_sf(eligible, mid, rate) <= curve_tail_limit) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

/// The largest rate the strata k = 0 .. k_max reach (P(K > k_max) <= curve_tail_limit), within
/// a relative 1e-6: where the curve has a point estimate and its plot ends.
inline double curve_reach(std::uint64_t eligible, std::uint64_t k_max) {
    if (k_max >= eligible) return 1.0;
    double lo = std::log(1e-300), hi = 0;  // log rates: the tail rises with the rate
    while (hi - lo > 1e-6) {
        const double mid = (lo + hi) / 2;
        if (binomial_sf(eligible, k_max, std::exp(mid)) <= curve_tail_limit) lo = mid;
        else hi = mid;
    }
    return std::exp(lo);
}

struct CurvePoint {
    double rate = 0, mean = 0, low = 0, high = 0, tail = 0;  // mean: NaN where tail > curve_tail_limit
};

/// The rounds of one stratum of an exact-count campaign: its weight within the count (1 for a
/// plain campaign) and its accuracies (percent).
struct CountStratum {
    double weight = 1;
    std::vector<double> accuracies;
};

/// The curve at `rates` from per-k strata: counts[k] holds the strata of the campaign with k
/// faults (by critical count, hypergeometric weights; one stratum of weight 1 when plain).
/// m_k = sum_j w_kj m_kj, and each side of the band sums (w_k w_kj)^2 v_kj / n_kj over every
/// (k, j), v_kj guarded on the side of its far end as a stratified mean's are
/// (UnseenModes::far_end, statistics.hpp), the near side's sd floored at `resolution` (one
/// test image, in points).
inline std::vector<CurvePoint> ber_curve(const std::vector<std::vector<CountStratum>>& counts, std::uint64_t eligible, const std::vector<double>& rates,
                                         double confidence, double resolution) {
    if (counts.empty()) throw Error("ber_curve: no exact-count strata");
    const std::size_t K = counts.size() - 1;
    std::vector<double> m(K + 1, 0.0);
    std::vector<std::vector<double>> v_low(K + 1), v_high(K + 1);  // per (k, j): each side's variance over n_kj
    std::vector<std::size_t> rounds;
    for (std::size_t k = 0; k <= K; ++k) {
        if (counts[k].empty()) throw Error("ber_curve: count k = " + std::to_string(k) + " has no strata");
        for (const CountStratum& st : counts[k]) {
            const auto& a = st.accuracies;
            if (a.empty()) throw Error("ber_curve: a stratum of count k = " + std::to_string(k) + " has no rounds");
            double sum = 0;
            for (double x : a) sum += x;
            const double mean = sum / static_cast<double>(a.size()), n = static_cast<double>(a.size());
            m[k] += st.weight * mean;
            // k = 0 is the clean network, exactly; every other stratum is guarded against unseen modes.
            const SideVariances v = k == 0 ? SideVariances{} : side_variances(a, mean, resolution * resolution);
            v_low[k].push_back(v.low / n);
            v_high[k].push_back(v.high / n);
            rounds.push_back(a.size());
        }
    }
    std::vector<CurvePoint> out;
    for (double p : rates) {
        CurvePoint c;
        c.rate = p;
        c.tail = binomial_sf(eligible, K, p);
        double mean = 0;
        std::vector<double> low_share, high_share;
        for (std::size_t k = 0; k <= K; ++k) {
            const double w = binomial_pmf(eligible, k, p);
            mean += w * m[k];
            for (std::size_t j = 0; j < counts[k].size(); ++j) {
                const double ww = w * w * counts[k][j].weight * counts[k][j].weight;
                low_share.push_back(ww * v_low[k][j]);
                high_share.push_back(ww * v_high[k][j]);
            }
        }
        const double below = stratified_halfwidth(low_share, rounds, confidence), above = stratified_halfwidth(high_share, rounds, confidence);
        c.mean = c.tail <= curve_tail_limit ? mean + c.tail * m[K] : std::numeric_limits<double>::quiet_NaN();
        c.low = std::clamp(mean - below, 0.0, 100.0);
        c.high = std::clamp(mean + above + 100 * c.tail, 0.0, 100.0);
        out.push_back(c);
    }
    return out;
}

/// The same for plain exact-count campaigns: accuracies[k] holds the rounds with k faults.
inline std::vector<CurvePoint> ber_curve(const std::vector<std::vector<double>>& accuracies, std::uint64_t eligible, const std::vector<double>& rates,
                                         double confidence, double resolution) {
    std::vector<std::vector<CountStratum>> counts;
    for (const auto& a : accuracies) counts.push_back({CountStratum{1.0, a}});
    return ber_curve(counts, eligible, rates, confidence, resolution);
}

}  // namespace safnet::fault
