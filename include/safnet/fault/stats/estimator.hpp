// safnet/fault/stats/estimator.hpp — how many rounds a fault campaign runs, in which strata, and
// what it concludes from them: plain Monte Carlo or stratified sampling by critical-bit count,
// with a fixed budget or adaptive stopping, mean accuracy and failure probability with intervals.
//
// The design is a pure function of the rounds already finished: next_batch(done) lists the
// next work items (stratum, round), planned batch by batch from the results of complete
// batches only, in plan order (never from whichever round finished first), so a
// campaign is the same for any thread count, any execution order inside a batch, any split of
// a batch across processes, and any resume point. finish(done) turns the rounds into an
// Estimate. run_estimator() drives it with a sampling function.
//
// Plain (spec.rounds = R): rounds first_round .. first_round + R - 1, each of its own stream
// (plain_round_key in campaign.hpp: (seed, round, 0) at a rate, keyed by the count at an exact count).
//   mean: the sample mean; interval: betting (statistics.hpp), fixed-n, or time-uniform when
//   stopping adaptively. P(fail): Clopper-Pearson, or when stopping adaptively the
//   time-uniform betting interval of the failure indicators (valid at the stopping time).
// Stratified (CriticalStrata, weights w_s):
//   mean = sum_s w_s m_s, interval [mean - t_df SE_low, mean + t_df SE_high] clipped to
//   [0, 100] (stratified_top1_interval, statistics.hpp), SE_side^2 = sum_s w_s^2 v_s / n_s,
//   df = min(n_s - 1) over the strata holding >= 1 % of SE_side^2. On the side of the end of
//   [0, 100] farthest from the stratum's mean, v_s is its *guarded* variance: its rounds'
//   variance with one pseudo-round (unseen_mode_weight) added at that end; on the other, the
//   sample variance (sd at least one test image). Why: a light stratum whose few rounds all
//   agree has sample variance 0; with the plain sample variance it dropped out of SE and df,
//   and when its rare catastrophic mode had not shown, the interval shrank around a biased
//   mean (65 % coverage at BER 1e-7, 100 rounds, on the ResNet20-shaped store of
//   tests/fault/stats/coverage_matrix.cpp). The guard makes an unseen mode of probability ~1/n_s
//   count, and it shrinks as 1/n_s once the stratum is sampled; an unseen mode can only move
//   the mean towards the far end, so the other side does without it (up to 1.8x narrower):
//   94-100 % coverage in every cell of that matrix (docs/reference/statistics.md). An approximate
//   interval, not a distribution-free one like plain sampling's betting interval.
//   P(fail) = sum_s w_s f_s / n_s with stratified_proportion's interval (statistics.hpp, an
//   effective-size Clopper-Pearson): 96.5-100 % coverage in the synthetic campaigns of
//   tests/fault/stats/estimator_test.cpp. The union bound of per-stratum exact intervals it replaced
//   covered 99-100 % at 2-5 times the width (no failure in 100 rounds: [0, 0.375] against
//   about [0, 0.04]). A run with a stratum of fewer than 2 rounds keeps that union bound.
//   Fixed budget R: a pilot of n0 = clamp(R / (2S), min_stratum_rounds, 10) rounds per stratum
//   (fault/stats/design.hpp never plans more strata than R / (2 min_stratum_rounds)), the other
//   R - S n0 by a defensive allocation from the pilot, n_s ~ R (3 w_s / 4 + Neyman share / 4)
//   (Neyman: ~ w_s max(guarded sd_s, resolution)), by largest remainders. Neyman alone starves
//   a bimodal stratum whose short pilot saw one mode: 82 % coverage and a bias of half an sd
//   with 4-round pilots in tests/fault/stats/estimator_test.cpp (this mix: 94 %, a tenth of an sd);
//   the proportional part bounds the variance by 4/3 of proportional allocation's.
// Adaptive stopping (stopping.ci_halfwidth > 0; spec.rounds is then the cap): stop at the
//   first check where the interval's half-width is below the target and the floor is met.
//   Floor (the rule that keeps a rare failure mode from hiding): at least min_rounds rounds,
//   and enough rounds that a failure mode of per-round probability q = rare_failure is seen
//   with probability >= C: plain ceil(ln(1-C)/ln(1-q)) rounds (299 for q = 1 %, C = 95 %);
//   stratified, per stratum with w_s > q, ceil(ln(1-C)/ln(1-q/w_s)) (a mode inside stratum s
//   has conditional probability q/w_s there), and at least the pilot elsewhere.
//   Plain checks every max(check_every, n/20) rounds with the time-uniform betting interval
//   (so the overshoot is at most 5 % and the checks cost O(n log n) in all); stratified
//   grows each stratum towards its Neyman share of the rounds the target needs, at most
//   doubling per batch.
// Failure: a round fails when its top-1 is more than fail_drop points below the clean top-1.
#pragma once

#include <safnet/error.hpp>
#include <safnet/fault/stats/strata.hpp>
#include <safnet/fault/stats/statistics.hpp>
#include <safnet/train/evaluate.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace safnet::fault {

enum class Estimator { plain, stratified, automatic };

inline const char* estimator_name(Estimator e) noexcept {
    return e == Estimator::plain ? "plain" : e == Estimator::stratified ? "stratified" : "auto";
}
inline Estimator estimator_from_name(const std::string& s) {
    if (s == "plain") return Estimator::plain;
    if (s == "stratified") return Estimator::stratified;
    if (s == "auto") return Estimator::automatic;
    throw Error("unknown estimator '" + s + "'; valid: plain, stratified, auto");
}

struct Stopping {
    double ci_halfwidth = 0;      // target half-width in points; 0 = run the fixed budget
    std::size_t min_rounds = 30;  // never stop adaptively before this many rounds
    double rare_failure = 0.01;   // a failure mode of this per-round probability is seen with probability >= confidence
    std::size_t check_every = 10; // plain: rounds between stopping checks (at least; n/20 once n > 200)
};

struct EstimateSpec {
    std::size_t rounds = 100;       // the budget, or the cap when stopping adaptively
    std::size_t first_round = 0;    // plain: first round number
    double confidence = 0.95;
    double fail_drop = 10;          // points below clean top-1 that make a round a failure
    double resolution = 0.01;       // smallest accuracy step in points (100 / test images): Neyman's sd floor
    Stopping stopping{};
};

struct RoundResult {
    std::size_t round = 0;
    train::EvalResult eval;
    std::uint64_t flips = 0;     // bits changed
    std::size_t stratum = 0;     // 0 for plain rounds
    std::uint64_t critical = 0;  // selected critical bits (stratified rounds)
};

struct WorkItem {
    std::size_t stratum = 0;
    std::uint32_t round = 0;
    friend bool operator==(const WorkItem&, const WorkItem&) = default;
};

struct StratumSummary {
    Stratum stratum;
    std::size_t rounds = 0, failures = 0;
    double mean = 0, sd = 0, top5_mean = 0;
};

struct Estimate {
    Estimator estimator = Estimator::plain;
    std::size_t rounds = 0;
    bool adaptive = false, stopped_adaptively = false;
    double clean = 0;
    Summary top1, top5;              // top1.mean / ci_*: the estimator's; median/min/max/chance of the rounds
    double fail_prob = 0;
    Interval fail_ci{0, 1};
    double expected_loss = 0;
    Interval loss_ci{0, 100};
    std::vector<StratumSummary> strata;  // stratified only
    std::string design_note;             // why the design is plain or coarser than asked (EstimatorDesign::why)
};

namespace detail {

inline std::size_t plain_floor(const EstimateSpec& spec) {
    return std::max({spec.stopping.min_rounds, rare_event_rounds(spec.stopping.rare_failure, spec.confidence), std::size_t{2}});
}

inline double mean_of(const std::vector<double>& v) {
    return v.empty() ? 0.0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}
inline double variance_of(const std::vector<double>& v) {
    if (v.size() < 2) return 0.0;
    const double m = mean_of(v);
    double s = 0;
    for (double x : v) s += (x - m) * (x - m);
    return s / static_cast<double>(v.size() - 1);
}

/// Median of values with weights (sum > 0): the smallest value whose cumulative weight reaches half.
inline double weighted_median(std::vector<std::pair<double, double>> vw) {
    std::sort(vw.begin(), vw.end());
    double total = 0;
    for (const auto& [v, w] : vw) total += w;
    double cum = 0;
    for (const auto& [v, w] : vw) {
        cum += w;
        if (cum >= total / 2) return v;
    }
    return vw.empty() ? 0.0 : vw.back().first;
}

}  // namespace detail

/// The sampling plan of one configuration (see the header comment).
/// Whether a round failed: its top-1 more than `fail_drop` points below its configuration's clean top-1.
inline bool round_failed(const RoundResult& r, double clean, double fail_drop) { return r.eval.accuracy() < clean - fail_drop; }

/// P(fail)'s interval from plain rounds' failure indicators (1 = failed): Clopper-Pearson at a
/// fixed budget, the time-uniform betting interval when the run stopped adaptively (a
/// data-dependent n, where Clopper-Pearson's fixed n does not hold).
inline Interval plain_failure_interval(const std::vector<double>& fails, double confidence, bool adaptive) {
    if (adaptive && !fails.empty()) return betting_interval(fails, confidence, true);
    std::size_t failures = 0;
    for (double f : fails) failures += f > 0;
    return clopper_pearson(failures, fails.size(), confidence);
}

class EstimatorDesign {
public:
    /// Plain design.
    explicit EstimatorDesign(const EstimateSpec& spec) : spec_(spec) { validate(); }
    /// Stratified design over `strata`.
    EstimatorDesign(const EstimateSpec& spec, CriticalStrata strata) : spec_(spec), strata_(std::move(strata)) {
        validate();
        if (spec_.rounds < 2 * min_stratum_rounds * strata_->size())
            throw Error("stratified estimator: " + std::to_string(strata_->size()) + " strata need at least " +
                        std::to_string(2 * min_stratum_rounds * strata_->size()) + " rounds, got " + std::to_string(spec_.rounds));
    }

    /// Why this design and not a finer one (empty: nothing was given up); see fault/stats/design.hpp.
    const std::string& why() const noexcept { return why_; }
    EstimatorDesign& because(std::string reason) {
        why_ = std::move(reason);
        return *this;
    }

    bool stratified() const noexcept { return strata_.has_value(); }
    /// What a saved round's faults depend on besides its seed, stratum and round: plain, or the
    /// strata's critical-count ranges and sign splits. A round saved under another fingerprint
    /// (a resume with another budget that changed the design) is another draw, not reusable.
    std::string fingerprint() const {
        if (!stratified()) return "plain";
        std::string f = "stratified";
        for (std::size_t s = 0; s < strata_->size(); ++s) {
            const Stratum& st = (*strata_)[s];
            f += " " + std::to_string(st.k_low) + "-" + std::to_string(st.k_high) + "/" + st.negative_label();
        }
        return f;
    }
    const CriticalStrata& strata() const { return *strata_; }
    const EstimateSpec& spec() const noexcept { return spec_; }
    bool adaptive() const noexcept { return spec_.stopping.ci_halfwidth > 0; }

    /// The work items to run next, given every finished round (in any order); empty: done.
    std::vector<WorkItem> next_batch(const std::vector<RoundResult>& done) const { return replay(done).missing; }

    /// The estimate from the finished rounds of complete batches, taken in plan order.
    Estimate finish(const std::vector<RoundResult>& done, double clean_top1, std::size_t classes) const {
        const Replay r = replay(done);
        Estimate e = stratified() ? finish_stratified(r.complete, clean_top1, classes) : finish_plain(r.complete, clean_top1, classes);
        e.adaptive = adaptive();
        e.design_note = why_;
        e.stopped_adaptively = adaptive() && r.missing.empty() && e.rounds < spec_.rounds;
        e.expected_loss = clean_top1 - e.top1.mean;
        e.loss_ci = e.top1.has_interval() ? Interval{clean_top1 - e.top1.ci_high, clean_top1 - e.top1.ci_low} : Interval{clean_top1 - 100, clean_top1};
        return e;
    }

    /// The rounds of `done` ordered as planned (batch by batch, in each batch by stratum and round).
    std::vector<RoundResult> in_plan_order(const std::vector<RoundResult>& done) const { return replay(done).complete; }

    struct Replay {
        std::vector<RoundResult> complete;  // rounds of the complete batches, in plan order
        std::vector<WorkItem> batch;        // the first incomplete batch (empty: finished)
        std::vector<WorkItem> missing;      // what of it is still to run
        bool planned = false;
    };

    // Plans batch after batch from the complete ones only, so partial progress inside a batch
    // (a kill, another process's share) never changes the plan.
    Replay replay(const std::vector<RoundResult>& done) const {
        Replay r;
        return advance(std::move(r), done);
    }

    /// Continues `r` (a replay of an earlier `done`) with the rounds finished since.
    Replay advance(Replay r, const std::vector<RoundResult>& done) const {
        std::vector<const RoundResult*> index(done.size());
        for (std::size_t i = 0; i < done.size(); ++i) index[i] = &done[i];
        const auto less = [](const RoundResult* a, const RoundResult* b) { return a->stratum != b->stratum ? a->stratum < b->stratum : a->round < b->round; };
        std::sort(index.begin(), index.end(), less);
        const auto find = [&](const WorkItem& it) -> const RoundResult* {
            RoundResult key;
            key.stratum = it.stratum;
            key.round = it.round;
            const auto at = std::lower_bound(index.begin(), index.end(), &key, less);
            return at != index.end() && (*at)->stratum == it.stratum && (*at)->round == it.round ? *at : nullptr;
        };
        for (bool planned = r.planned;; planned = false) {
            if (!planned) r.batch = stratified() ? next_stratified(r.complete) : next_plain(r.complete);
            r.planned = true;
            r.missing.clear();
            if (r.batch.empty()) return r;
            for (const auto& it : r.batch)
                if (!find(it)) r.missing.push_back(it);
            if (!r.missing.empty()) return r;
            for (const auto& it : r.batch) r.complete.push_back(*find(it));
        }
    }

private:

    void validate() const {
        if (spec_.rounds == 0) throw Error("fault campaign: rounds must be positive");
        if (spec_.rounds > std::numeric_limits<std::uint32_t>::max())
            throw Error("fault campaign: at most 4294967295 rounds per configuration, got " + std::to_string(spec_.rounds));
        if (spec_.first_round + spec_.rounds - 1 > std::numeric_limits<std::uint32_t>::max())
            throw Error("fault campaign: round numbers must fit 32 bits");
        check_confidence(spec_.confidence);
        if (!(spec_.fail_drop >= 0 && spec_.fail_drop <= 100)) throw Error("fail drop must be in [0, 100] points, got " + std::to_string(spec_.fail_drop));
        if (!(spec_.stopping.ci_halfwidth >= 0) || !std::isfinite(spec_.stopping.ci_halfwidth))
            throw Error("CI half-width must be a finite number >= 0, got " + std::to_string(spec_.stopping.ci_halfwidth));
        if (adaptive()) rare_event_rounds(spec_.stopping.rare_failure, spec_.confidence);  // validates q
        if (spec_.stopping.check_every == 0) throw Error("stopping check interval must be positive");
    }

    bool failed(const RoundResult& r, double clean) const { return round_failed(r, clean, spec_.fail_drop); }

    // --- plain ---------------------------------------------------------------------------
    std::vector<WorkItem> next_plain(const std::vector<RoundResult>& done) const {
        const std::size_t n = done.size();
        if (n >= spec_.rounds) return {};
        std::size_t upto = spec_.rounds;
        if (adaptive()) {
            const std::size_t floor = std::min(detail::plain_floor(spec_), spec_.rounds);
            if (n >= floor && plain_halfwidth(done) < spec_.stopping.ci_halfwidth) return {};
            upto = std::min(spec_.rounds, std::max(floor, n + std::max(spec_.stopping.check_every, n / 20)));
        }
        std::vector<WorkItem> items;
        for (std::size_t i = n; i < upto; ++i) items.push_back({0, static_cast<std::uint32_t>(spec_.first_round + i)});
        return items;
    }

    double plain_halfwidth(const std::vector<RoundResult>& done) const {
        std::vector<double> acc;
        for (const auto& r : done) acc.push_back(r.eval.accuracy());
        return summarize(acc, 10, spec_.confidence, true).ci_halfwidth();
    }

    Estimate finish_plain(const std::vector<RoundResult>& done, double clean, std::size_t classes) const {
        Estimate e;
        e.estimator = Estimator::plain;
        e.rounds = done.size();
        e.clean = clean;
        std::vector<double> top1, top5, fails;
        std::size_t failures = 0;
        for (const auto& r : done) {
            top1.push_back(r.eval.accuracy());
            top5.push_back(r.eval.top5_accuracy());
            const bool f = failed(r, clean);
            fails.push_back(f ? 1.0 : 0.0);
            failures += f;
        }
        e.top1 = summarize(top1, classes, spec_.confidence, adaptive());
        e.top5 = summarize(top5, classes, spec_.confidence, adaptive());
        e.fail_prob = done.empty() ? 0.0 : static_cast<double>(failures) / static_cast<double>(done.size());
        e.fail_ci = plain_failure_interval(fails, spec_.confidence, adaptive());
        return e;
    }

    // --- stratified ----------------------------------------------------------------------
    std::size_t pilot() const {
        return std::clamp<std::size_t>(spec_.rounds / (2 * strata_->size()), min_stratum_rounds, 10);
    }

    std::vector<std::size_t> counts(const std::vector<RoundResult>& done) const {
        std::vector<std::size_t> n(strata_->size(), 0);
        for (const auto& r : done) ++n.at(r.stratum);
        return n;
    }

    std::vector<double> neyman_scores(const std::vector<RoundResult>& done) const {
        const std::size_t S = strata_->size();
        std::vector<std::vector<double>> acc(S);
        for (const auto& r : done) acc[r.stratum].push_back(r.eval.accuracy());
        std::vector<double> score(S);
        for (std::size_t s = 0; s < S; ++s)
            score[s] = (*strata_)[s].weight * std::max(std::sqrt(guarded_variance(acc[s], detail::mean_of(acc[s]))), spec_.resolution);
        return score;
    }

    /// Three quarters the proportional share (the weight), one quarter Neyman's (from the pilot's
    /// sd): a pilot that saw one mode of a bimodal stratum (sd 0) can no longer starve it, and the
    /// less the allocation leans on the pilot, the less the pilot's rounds, reused in the estimate,
    /// bias it (docs/reference/statistics.md). The variance is at most 4/3 of proportional allocation's.
    std::vector<double> defensive_shares(const std::vector<double>& score) const {
        const double sum = std::accumulate(score.begin(), score.end(), 0.0);
        std::vector<double> share(score.size());
        for (std::size_t s = 0; s < score.size(); ++s) share[s] = 0.75 * (*strata_)[s].weight + 0.25 * score[s] / sum;
        return share;
    }

    std::vector<std::size_t> floors() const {
        const std::size_t S = strata_->size();
        std::vector<std::size_t> f(S, pilot());
        if (!adaptive()) return f;
        const double q = spec_.stopping.rare_failure;
        for (std::size_t s = 0; s < S; ++s) {
            const double w = (*strata_)[s].weight;
            if (w > q) f[s] = std::max(f[s], rare_event_rounds(std::min(q / w, 0.999999), spec_.confidence));
        }
        return f;
    }

    std::vector<WorkItem> items_to(const std::vector<std::size_t>& have, const std::vector<std::size_t>& want) const {
        std::vector<WorkItem> items;
        for (std::size_t s = 0; s < have.size(); ++s)
            for (std::size_t r = have[s]; r < want[s]; ++r) items.push_back({s, static_cast<std::uint32_t>(r)});
        return items;
    }

    /// Distributes `extra` rounds over the strata in proportion to `score` (largest remainders, ties to the lower index).
    static std::vector<std::size_t> apportion(const std::vector<double>& score, std::size_t extra) {
        const double total = std::accumulate(score.begin(), score.end(), 0.0);
        std::vector<std::size_t> add(score.size(), 0);
        if (extra == 0 || !(total > 0)) return add;
        std::vector<std::pair<double, std::size_t>> rest;
        std::size_t given = 0;
        for (std::size_t s = 0; s < score.size(); ++s) {
            const double share = static_cast<double>(extra) * score[s] / total;
            add[s] = static_cast<std::size_t>(std::floor(share));
            given += add[s];
            rest.push_back({-(share - std::floor(share)), s});
        }
        std::sort(rest.begin(), rest.end());
        for (std::size_t i = 0; given < extra; ++i, ++given) ++add[rest[i % rest.size()].second];
        return add;
    }

    std::vector<WorkItem> next_stratified(const std::vector<RoundResult>& done) const {
        const std::size_t S = strata_->size();
        const auto have = counts(done);
        const std::size_t total = std::accumulate(have.begin(), have.end(), std::size_t{0});
        std::vector<std::size_t> want(S);
        const std::size_t n0 = pilot();
        const bool piloted = std::all_of(have.begin(), have.end(), [&](std::size_t n) { return n >= n0; });
        if (!piloted) {
            for (std::size_t s = 0; s < S; ++s) want[s] = std::max(have[s], n0);
            return items_to(have, want);
        }
        const auto score = neyman_scores(done);
        if (!adaptive()) {
            if (total >= spec_.rounds) return {};
            // Defensive shares of the whole budget, less what each stratum has; the rest by largest remainders.
            const auto share = defensive_shares(score);
            std::vector<double> deficit(S);
            for (std::size_t s = 0; s < S; ++s) deficit[s] = std::max(0.0, static_cast<double>(spec_.rounds) * share[s] - static_cast<double>(have[s]));
            const auto add = apportion(std::any_of(deficit.begin(), deficit.end(), [](double d) { return d > 0; }) ? deficit : share,
                                       spec_.rounds - total);
            for (std::size_t s = 0; s < S; ++s) want[s] = have[s] + add[s];
            return items_to(have, want);
        }
        // Adaptive: stop when the floors are met and the interval is narrow enough.
        const auto floor = floors();
        bool floors_met = total >= spec_.stopping.min_rounds;
        for (std::size_t s = 0; s < S; ++s) floors_met = floors_met && have[s] >= floor[s];
        if (total >= spec_.rounds) return {};
        if (floors_met && stratified_interval(done).halfwidth() < spec_.stopping.ci_halfwidth) return {};
        const double sum = std::accumulate(score.begin(), score.end(), 0.0);
        const double z = normal_quantile_two_sided(spec_.confidence);
        const double needed = std::max(static_cast<double>(spec_.stopping.min_rounds), std::pow(z * sum / spec_.stopping.ci_halfwidth, 2));
        std::size_t planned = 0;
        for (std::size_t s = 0; s < S; ++s) {
            const auto neyman = static_cast<std::size_t>(std::ceil(std::min(needed * score[s] / sum, 4e9)));
            want[s] = std::min(std::max(floor[s], neyman), 2 * have[s]);
            want[s] = std::max(want[s], have[s]);
            planned += want[s];
        }
        if (planned == total) {  // the estimates say "enough" but the interval disagrees: one more round where it helps most
            std::size_t best = 0;
            for (std::size_t s = 1; s < S; ++s)
                if (score[s] / static_cast<double>(have[s] + 1) > score[best] / static_cast<double>(have[best] + 1)) best = s;
            ++want[best];
            ++planned;
        }
        // Respect the cap: trim the newest additions from the highest strata down.
        for (std::size_t s = S; planned > spec_.rounds && s-- > 0;) {
            const std::size_t cut = std::min(want[s] - have[s], planned - spec_.rounds);
            want[s] -= cut;
            planned -= cut;
        }
        return items_to(have, want);
    }

    struct StratumData {
        std::vector<double> top1, top5;
        std::size_t failures = 0;
    };

    std::vector<StratumData> by_stratum(const std::vector<RoundResult>& done, double clean) const {
        std::vector<StratumData> d(strata_->size());
        for (const auto& r : done) {
            auto& x = d.at(r.stratum);
            x.top1.push_back(r.eval.accuracy());
            x.top5.push_back(r.eval.top5_accuracy());
            x.failures += failed(r, clean);
        }
        return d;
    }

    static double guarded_variance(const std::vector<double>& x, double m) { return fault::guarded_variance(x, m, unseen_mode_weight); }

    Interval stratified_interval(const std::vector<RoundResult>& done) const {
        auto d = by_stratum(done, 0);
        std::vector<std::vector<double>> top1(d.size());
        std::vector<double> w(d.size());
        for (std::size_t s = 0; s < d.size(); ++s) {
            top1[s] = std::move(d[s].top1);
            w[s] = (*strata_)[s].weight;
        }
        return stratified_top1_interval(top1, w, spec_.confidence, spec_.resolution);
    }

    Estimate finish_stratified(const std::vector<RoundResult>& done, double clean, std::size_t classes) const {
        Estimate e;
        e.estimator = Estimator::stratified;
        e.rounds = done.size();
        e.clean = clean;
        const auto d = by_stratum(done, clean);
        const std::size_t S = d.size();
        const double a_each = (1 - spec_.confidence) / static_cast<double>(S);
        std::vector<std::pair<double, double>> weighted;
        const bool all_sampled = std::all_of(d.begin(), d.end(), [](const StratumData& x) { return x.top1.size() >= 2; });
        double mean = 0, mean5 = 0, chance = 0, fail = 0, fail_lo = 0, fail_hi = 0;
        double lo = std::numeric_limits<double>::infinity(), hi = -lo;
        for (std::size_t s = 0; s < S; ++s) {
            const double w = (*strata_)[s].weight;
            StratumSummary ss{(*strata_)[s], d[s].top1.size(), d[s].failures, detail::mean_of(d[s].top1),
                              std::sqrt(detail::variance_of(d[s].top1)), detail::mean_of(d[s].top5)};
            e.strata.push_back(ss);
            if (d[s].top1.empty()) {  // unsampled (an incomplete run): bounded by [0, 100]
                fail_hi += w;
                continue;
            }
            const double n = static_cast<double>(d[s].top1.size());
            mean += w * ss.mean;
            mean5 += w * ss.top5_mean;
            chance += w * chance_fraction(d[s].top1, classes);
            fail += w * static_cast<double>(d[s].failures) / n;
            if (!all_sampled) {  // the union bound (see the header comment)
                const Interval ci = clopper_pearson(d[s].failures, d[s].top1.size(), 1 - a_each);
                fail_lo += w * ci.low;
                fail_hi += w * ci.high;
            }
            for (double v : d[s].top1) {
                weighted.push_back({v, w / n});
                lo = std::min(lo, v);
                hi = std::max(hi, v);
            }
        }
        e.top1.rounds = e.top5.rounds = done.size();
        e.top1.confidence = e.top5.confidence = spec_.confidence;
        e.top1.mean = mean;
        e.top5.mean = mean5;
        e.top1.chance_fraction = chance;
        if (!weighted.empty()) {
            e.top1.median = detail::weighted_median(weighted);
            e.top1.min = lo;
            e.top1.max = hi;
        }
        double between = 0;  // sd of a single round under the unconditional law (total variance)
        for (std::size_t s = 0; s < S; ++s)
            between += (*strata_)[s].weight * (e.strata[s].sd * e.strata[s].sd + (e.strata[s].mean - mean) * (e.strata[s].mean - mean));
        e.top1.sd = std::sqrt(between);
        if (all_sampled) {
            const Interval ci = stratified_interval(done);
            e.top1.ci_low = ci.low;
            e.top1.ci_high = ci.high;
            e.top1.ci_method = IntervalKind::stratified_guarded;
        }
        e.fail_prob = fail;
        e.fail_ci = {std::clamp(fail_lo, 0.0, 1.0), std::clamp(fail_hi, 0.0, 1.0)};
        if (all_sampled) {
            std::vector<StratumCount> counts;
            for (std::size_t s = 0; s < S; ++s) counts.push_back({(*strata_)[s].weight, d[s].failures, d[s].top1.size()});
            e.fail_ci = stratified_proportion(counts, spec_.confidence);
        }
        return e;
    }

    EstimateSpec spec_;
    std::optional<CriticalStrata> strata_;
    std::string why_;
};

/// Runs the work items of one batch: out[j] = sample(items[j]) for every j (`out` is resized).
/// Empty: run them here, in order. A distributed runner (fault/run/mpi.hpp) splits them over
/// processes and gathers every result on every process, so all of them plan the same next batch.
using BatchRunner = std::function<void(std::span<const WorkItem> items, const std::function<RoundResult(const WorkItem&)>& sample,
                                       std::vector<RoundResult>& out)>;

/// Runs `design` to completion: sample(item) -> RoundResult for each work item of each batch,
/// appended to `done` (which may hold the rounds of an interrupted run); `on_round` sees each.
template <class Sample>
void run_design(const EstimatorDesign& design, Sample&& sample, std::vector<RoundResult>& done,
                const std::function<void(const RoundResult&)>& on_round = {}, const BatchRunner& runner = {}) {
    std::vector<RoundResult> batch;
    for (auto r = design.replay(done); !r.missing.empty(); r = design.advance(std::move(r), done)) {
        if (!runner) {
            for (const WorkItem& item : r.missing) {
                done.push_back(sample(item));
                if (on_round) on_round(done.back());
            }
            continue;
        }
        runner(std::span<const WorkItem>(r.missing), [&](const WorkItem& item) { return sample(item); }, batch);
        if (batch.size() != r.missing.size()) throw Error("batch runner: returned " + std::to_string(batch.size()) + " results for " +
                                                          std::to_string(r.missing.size()) + " work items");
        for (const RoundResult& rr : batch) {
            done.push_back(rr);
            if (on_round) on_round(done.back());
        }
    }
}

}  // namespace safnet::fault
