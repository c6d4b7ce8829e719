// safnet/fault/report/paired.hpp — is defence A better than B on the same faults, and by how much:
// the difference of two configurations' mean top-1 and P(fail) from their rounds paired one to
// one, with an interval.
//
// Common random numbers (a guarantee of the campaign, docs/guides/campaigns.md): round r of a plain
// design draws its faults from stream (seed, r, 0) (at an exact count k, (seed, r, k):
// plain_round_key in campaign.hpp), and round r of stratum s of a stratified design from the
// streams of (seed, r, s), over the store's eligible bits. So two
// configurations with the same seed, the same stored shapes (equal stored bits) and the same
// design (both plain, or the same strata with the same critical mask) see exactly the same
// faults in rounds with the same key — every protection of one model, and every model of one
// architecture whose strata agree, at one format and rate. The difference of such rounds is
// free of the variance the faults share, which is most of it.
//
// paired_difference(a, b, fail_drop, confidence):
//   same_seed: whether a and b ran with the same seed (the caller knows; CampaignResult does not).
//   pairable: both plain with equal stored bits, or both stratified with identical strata
//     (ranges, sign split, weights), critical masks and stored bits; otherwise paired = false,
//     `why` says what differs, and the difference is taken as of independent campaigns (below).
//   Rounds are matched by (stratum, round); rounds only one side ran are left out.
//   plain: d_r = top1_a - top1_b in [-100, 100]; mean and the betting interval (statistics.hpp,
//     time-uniform when either side stopped adaptively) of (d + 100) / 200. P(fail) difference:
//     f_r = fail_a - fail_b in {-1, 0, 1}, the betting interval of (f + 1) / 2. Distribution-free.
//   stratified: sum_s w_s mean_s(d) with the guarded stratified interval (stratified_guarded_mean)
//     on [-100, 100] (every stratum needs 2 pairs); P(fail) likewise on [-1, 1].
//   not pairable ("independent-union"): each side's own interval, as its estimator computes it,
//     at confidence 1 - (1 - confidence) / 2, and [low_a - high_b, high_a - low_b]: both cover
//     with probability >= confidence (the union bound), whatever the dependence between the
//     sides, so the interval is valid though wider than a paired one would be.
//   A round fails when its top-1 is more than fail_drop points below its own configuration's clean top-1.
#pragma once

#include <safnet/fault/run/campaign.hpp>
#include <safnet/fault/stats/statistics.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace safnet::fault {

struct PairedDifference {
    bool paired = false;     // the rounds were matched one to one (same faults)
    bool has_interval = false;  // paired, or independent-union (false: a side lacks rounds)
    std::string why;         // when not paired: what keeps the rounds from pairing
    std::size_t pairs = 0;   // matched rounds
    double mean = 0;         // top-1 of a minus b, points
    Interval ci{-100, 100};
    double fail = 0;         // P(fail) of a minus b
    Interval fail_ci{-1, 1};
    std::string method;      // "betting" | "betting-time-uniform" | "stratified-guarded-t" | "independent-union"
};

namespace detail {

inline bool same_strata(const Estimate& a, const Estimate& b) {
    if (a.strata.size() != b.strata.size()) return false;
    for (std::size_t s = 0; s < a.strata.size(); ++s) {
        const Stratum &x = a.strata[s].stratum, &y = b.strata[s].stratum;
        if (x.k_low != y.k_low || x.k_high != y.k_high || x.negative != y.negative || x.weight != y.weight) return false;
    }
    return true;
}

/// Why a and b cannot be paired ("" when they can).
inline std::string pairing_problem(const CampaignResult& a, const CampaignResult& b) {
    if (a.stored_bits != b.stored_bits)
        return "their stored bits differ (" + std::to_string(a.stored_bits) + " and " + std::to_string(b.stored_bits) + "), so the faults differ";
    if (a.estimate.estimator != b.estimate.estimator) return "one is stratified, the other plain";
    if (a.estimate.estimator == Estimator::stratified && (a.critical_mask != b.critical_mask || !same_strata(a.estimate, b.estimate)))
        return "their strata differ (critical bits or the sign split's weights)";
    return "";
}

/// Interval of the mean of x in [lo, hi] by betting, mapped back.
inline Interval betting_on(const std::vector<double>& x, double lo, double hi, double confidence, bool time_uniform) {
    std::vector<double> u(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) u[i] = std::clamp((x[i] - lo) / (hi - lo), 0.0, 1.0);
    const Interval c = betting_interval(u, confidence, time_uniform);
    return {lo + c.low * (hi - lo), lo + c.high * (hi - lo)};
}

/// A configuration's own intervals of mean top-1 and P(fail), computed as its estimator computes
/// them (estimator.hpp) but at `confidence`; a stratum with fewer than 2 rounds leaves [0, 100]
/// and [0, 1].
struct OwnIntervals {
    Interval top1{0, 100}, fail{0, 1};
};

inline OwnIntervals own_intervals(const CampaignResult& r, double fail_drop, double confidence) {
    const double clean = r.clean.accuracy();
    const auto failed = [&](const RoundResult& x) { return round_failed(x, clean, fail_drop); };
    OwnIntervals o;
    if (r.estimate.estimator != Estimator::stratified) {
        std::vector<double> top1, fails;
        for (const auto& x : r.rounds) {
            top1.push_back(x.eval.accuracy());
            fails.push_back(failed(x) ? 1.0 : 0.0);
        }
        if (top1.size() < 2) return o;
        o.top1 = betting_on(top1, 0, 100, confidence, r.estimate.adaptive);
        o.fail = plain_failure_interval(fails, confidence, r.estimate.adaptive);
        return o;
    }
    const std::size_t S = r.estimate.strata.size();
    std::vector<std::vector<double>> top1(S);
    std::vector<StratumCount> counts(S);
    std::vector<double> w(S);
    for (std::size_t s = 0; s < S; ++s) w[s] = counts[s].weight = r.estimate.strata[s].stratum.weight;
    for (const auto& x : r.rounds) {
        if (x.stratum >= S) continue;
        top1[x.stratum].push_back(x.eval.accuracy());
        counts[x.stratum].events += failed(x);
        ++counts[x.stratum].trials;
    }
    for (const auto& c : counts)
        if (c.trials < 2) return o;
    o.top1 = stratified_top1_interval(top1, w, confidence, train::image_step(r.clean.images));
    o.fail = stratified_proportion(counts, confidence);
    return o;
}

/// The difference of two configurations whose rounds do not pair, by the union bound.
inline void independent_difference(PairedDifference& p, const CampaignResult& a, const CampaignResult& b, double fail_drop, double confidence) {
    const double each = 1 - (1 - confidence) / 2;
    const OwnIntervals x = own_intervals(a, fail_drop, each), y = own_intervals(b, fail_drop, each);
    p.has_interval = true;
    p.mean = a.estimate.top1.mean - b.estimate.top1.mean;
    p.ci = {x.top1.low - y.top1.high, x.top1.high - y.top1.low};
    p.fail = a.estimate.fail_prob - b.estimate.fail_prob;
    p.fail_ci = {x.fail.low - y.fail.high, x.fail.high - y.fail.low};
    p.method = "independent-union";
}

}  // namespace detail

/// `same_seed` false (campaigns of other seeds: their faults are independent draws) takes the
/// difference as independent whatever the designs.
inline PairedDifference paired_difference(const CampaignResult& a, const CampaignResult& b, double fail_drop, double confidence,
                                          bool same_seed = true) {
    PairedDifference p;
    p.why = same_seed ? detail::pairing_problem(a, b) : "they ran with other seeds";
    if (!p.why.empty()) {
        detail::independent_difference(p, a, b, fail_drop, confidence);
        return p;
    }
    const bool stratified = a.estimate.estimator == Estimator::stratified;
    const std::size_t S = stratified ? a.estimate.strata.size() : 1;
    std::map<std::pair<std::size_t, std::size_t>, const RoundResult*> of_b;
    for (const auto& r : b.rounds) of_b[{r.stratum, r.round}] = &r;
    std::vector<std::vector<double>> d(S), f(S);
    const double clean_a = a.clean.accuracy(), clean_b = b.clean.accuracy();
    for (const auto& r : a.rounds) {
        const auto it = of_b.find({r.stratum, r.round});
        if (it == of_b.end() || r.stratum >= S) continue;
        const RoundResult& q = *it->second;
        d[r.stratum].push_back(r.eval.accuracy() - q.eval.accuracy());
        f[r.stratum].push_back((round_failed(r, clean_a, fail_drop) ? 1.0 : 0.0) - (round_failed(q, clean_b, fail_drop) ? 1.0 : 0.0));
        ++p.pairs;
    }
    for (std::size_t s = 0; s < S; ++s)
        if (d[s].size() < 2) {
            p.why = stratified ? "stratum " + std::to_string(s) + " has " + std::to_string(d[s].size()) + " matched rounds (needs 2)"
                               : std::to_string(d[s].size()) + " matched rounds (needs 2)";
            return p;
        }
    p.paired = p.has_interval = true;
    if (!stratified) {
        const bool uniform = a.estimate.adaptive || b.estimate.adaptive;
        double sd = 0, sf = 0;
        for (double v : d[0]) sd += v;
        for (double v : f[0]) sf += v;
        p.mean = sd / static_cast<double>(d[0].size());
        p.fail = sf / static_cast<double>(f[0].size());
        p.ci = detail::betting_on(d[0], -100, 100, confidence, uniform);
        p.fail_ci = detail::betting_on(f[0], -1, 1, confidence, uniform);
        p.method = uniform ? "betting-time-uniform" : "betting";
        return p;
    }
    std::vector<double> w(S);
    for (std::size_t s = 0; s < S; ++s) w[s] = a.estimate.strata[s].stratum.weight;
    const StratifiedMean top1 = stratified_guarded_mean(d, w, -100, 100, confidence), fail = stratified_guarded_mean(f, w, -1, 1, confidence);
    p.mean = top1.mean;
    p.ci = top1.ci;
    p.fail = fail.mean;
    p.fail_ci = fail.ci;
    p.method = "stratified-guarded-t";
    return p;
}

}  // namespace safnet::fault
