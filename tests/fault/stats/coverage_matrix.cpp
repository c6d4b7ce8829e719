// Coverage of the campaign estimators' 95 % intervals on a synthetic ResNet20-shaped fp32 store
// with a closed-form truth: the hardest shapes a real network shows, planned exactly as a
// campaign plans them (fault/stats/design.hpp), run through run_design / finish.
//
// Store: N+ = 122,150 positive and N- = 146,186 negative words with a critical bit (bit 30 of
// the conv weights of ResNet20), and B = 5,013 "bad" bits among the 8.3 M others whose hit is
// catastrophic (a non-critical catastrophic mode of 0.5 % per round at BER 1e-6, scaling with
// the rate). 10,000 test images, clean 92.28 %, fail drop 10 points.
// A round: K+ and K- critical hits (their law given by the stratum, or binomial for plain
// rounds), a hit on a positive word is catastrophic with probability 0.97, on a negative one
// with probability c- (0.10 or 0.05), a bad-bit hit always. A catastrophic round scores
// U(5, 15) %, any other 92.28 - 0.3 (K+ + K-) - U(0, 0.2) % (to the 0.01 resolution).
// Truth (E[a^K K] = N p a (1 - (1 - a) p)^(N - 1) for K ~ Binomial(N, p)):
//   P0 = (1 - 0.97 p)^N+ (1 - c- p)^N- (1 - p)^B                          (no catastrophe)
//   E[top-1] = P0 (92.28 - 0.1) - 0.3 E[(1 - C) K] + (1 - P0) 10
//   P(fail) = 1 - P0 (a mild round fails only past 33 hits: < 1e-30 at these rates)
//
//   safnet_coverage_matrix [--seeds N] [--cells reduced|full] [--threads T] [--rate P (only this BER)]
// prints one row per cell (coverage of the mean's interval, its misses above and below the truth, the
// coverage of P(fail)'s interval, mean half-widths of both, beside P(fail)'s the half-width of
// plain sampling's Clopper-Pearson interval at the same rounds and estimate, mean rounds, the
// estimators used) and exits 1 when a cell's mean or P(fail) interval covers less than 94 %.
#include <safnet/fault/stats/design.hpp>
#include <safnet/fault/report/paired.hpp>
#include <safnet/fault/report/report.hpp>
#include <safnet/random/philox.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

using namespace safnet;
using namespace safnet::fault;

namespace {

constexpr double n_pos = 122150, n_neg = 146186, n_bad = 5013, clean = 92.28;

struct Shape {
    double neg_cat;          // probability that a hit on a negative critical word is catastrophic
    double pos_cat = 0.97;   // ... on a positive one
    bool bad_bits = true;    // whether a hit on one of the n_bad other bits is catastrophic
};

double truth_mean(double p, Shape sh) {
    const double pos_cat = sh.pos_cat;
    const double a_pos = std::pow(1 - pos_cat * p, n_pos), a_neg = std::pow(1 - sh.neg_cat * p, n_neg), a_bad = sh.bad_bits ? std::pow(1 - p, n_bad) : 1.0;
    const double p0 = a_pos * a_neg * a_bad;
    const double k_pos = n_pos * p * (1 - pos_cat) * std::pow(1 - pos_cat * p, n_pos - 1) * a_neg * a_bad;
    const double k_neg = n_neg * p * (1 - sh.neg_cat) * std::pow(1 - sh.neg_cat * p, n_neg - 1) * a_pos * a_bad;
    return p0 * (clean - 0.1) - 0.3 * (k_pos + k_neg) + (1 - p0) * 10;
}

double truth_fail(double p, Shape sh) {
    return 1 - std::pow(1 - sh.pos_cat * p, n_pos) * std::pow(1 - sh.neg_cat * p, n_neg) * (sh.bad_bits ? std::pow(1 - p, n_bad) : 1.0);
}

/// K ~ Binomial(n, p) by inversion (n p is at most a few here).
std::uint64_t binomial(random::PhiloxStream& rng, double n, double p) {
    const double u = rng.next_open0();
    const auto N = static_cast<std::uint64_t>(n);
    double pmf = std::pow(1 - p, n), cum = pmf;
    std::uint64_t k = 0;
    while (cum < u && k < N) {
        pmf *= (n - static_cast<double>(k)) / static_cast<double>(k + 1) * p / (1 - p);
        ++k;
        cum += pmf;
        if (pmf == 0) break;
    }
    return k;
}

struct Synthetic {
    const EstimatorDesign& design;
    std::uint64_t seed;
    double p;
    Shape shape;

    RoundResult operator()(const WorkItem& it) const {
        random::PhiloxStream rng({seed, it.round, 0x20000000u + static_cast<std::uint32_t>(it.stratum)});
        std::uint64_t pos = 0, neg = 0;
        if (!design.stratified()) {
            pos = binomial(rng, n_pos, p);
            neg = binomial(rng, n_neg, p);
        } else {
            const Stratum& st = design.strata()[it.stratum];
            const std::uint64_t k = design.strata().draw_count(it.stratum, seed, it.round);
            if (st.is_split()) {
                neg = st.negative;
            } else {  // hypergeometric split of k hits over the negative and positive words
                double left_neg = n_neg, left = n_neg + n_pos;
                for (std::uint64_t i = 0; i < k; ++i, left -= 1)
                    if (rng.next_open0() * left <= left_neg) ++neg, left_neg -= 1;
            }
            pos = k - neg;
        }
        // Every draw is made whatever the shape, so two shapes see the same faults (common random numbers).
        bool catastrophic = (rng.next_open0() < -std::expm1(n_bad * std::log1p(-p))) && shape.bad_bits;
        for (std::uint64_t i = 0; i < pos; ++i) catastrophic = (rng.next_open0() < shape.pos_cat) || catastrophic;
        for (std::uint64_t i = 0; i < neg; ++i) catastrophic = (rng.next_open0() < shape.neg_cat) || catastrophic;
        const double u = rng.next_open0();
        const double score = catastrophic ? 5 + 10 * u : clean - 0.3 * static_cast<double>(pos + neg) - 0.2 * u;
        RoundResult r;
        r.round = it.round;
        r.stratum = it.stratum;
        r.critical = pos + neg;
        const auto correct = static_cast<std::size_t>(std::llround(std::floor(score * 100)));
        r.eval = {10000, correct, 10000, 0, 0};
        return r;
    }
};

struct Cell {
    double rate;
    std::size_t rounds;  // the budget; with halfwidth > 0 the adaptive cap
    double halfwidth;
    Shape shape;
};

/// What every cell counts over its seeds.
struct Tally {
    std::size_t covered = 0, fail_covered = 0, seeds = 0;
    double width = 0;
    void add(const Tally& o) {
        covered += o.covered;
        fail_covered += o.fail_covered;
        seeds += o.seeds;
        width += o.width;
    }
};

struct CellResult : Tally {
    std::size_t above = 0, below = 0;
    double rounds = 0, fail_width = 0, cp_width = 0;
    std::map<std::string, std::size_t> kinds;
    void merge(const CellResult& o) {
        add(o);
        above += o.above;
        below += o.below;
        rounds += o.rounds;
        fail_width += o.fail_width;
        cp_width += o.cp_width;
        for (const auto& [k, n] : o.kinds) kinds[k] += n;
    }
};

EstimatorDesign design_for(const Cell& c) {
    DesignRequest q;
    q.estimate.rounds = c.rounds;
    q.estimate.resolution = 0.01;
    q.estimate.stopping.ci_halfwidth = c.halfwidth;
    q.rate = c.rate;
    q.critical_bits = static_cast<std::uint64_t>(n_pos + n_neg);
    q.negative_critical_bits = static_cast<std::uint64_t>(n_neg);
    return plan_design(q);
}

/// Seeds 1 .. seeds over `threads` threads: body(seed, part) fills each thread's part, merge adds the parts up.
template <class Result, class Body, class Merge>
Result over_seeds(std::size_t seeds, unsigned threads, Body body, Merge merge) {
    std::vector<Result> part(threads);
    std::atomic<std::size_t> next{1};
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t)
        pool.emplace_back([&, t] {
            for (std::size_t seed; (seed = next++) <= seeds;) body(seed, part[t]);
        });
    for (auto& th : pool) th.join();
    Result all;
    for (const auto& r : part) merge(all, r);
    return all;
}

CellResult run_cell(const Cell& c, std::size_t seeds, unsigned threads) {
    const EstimatorDesign design = design_for(c);
    const double mu = truth_mean(c.rate, c.shape), pf = truth_fail(c.rate, c.shape);
    const auto body = [&](std::size_t seed, CellResult& r) {
        std::vector<RoundResult> done;
        run_design(design, Synthetic{design, seed, c.rate, c.shape}, done);
        const Estimate e = design.finish(done, clean, 10);
        ++r.seeds;
        r.covered += e.top1.ci_low <= mu && mu <= e.top1.ci_high;
        r.above += e.top1.ci_low > mu;
        r.below += e.top1.ci_high < mu;
        r.fail_covered += e.fail_ci.low <= pf && pf <= e.fail_ci.high;
        r.width += e.top1.ci_halfwidth();
        r.rounds += static_cast<double>(e.rounds);
        // P(fail)'s width against plain sampling's Clopper-Pearson at the same rounds and estimate.
        r.fail_width += (e.fail_ci.high - e.fail_ci.low) / 2;
        const auto events = static_cast<std::uint64_t>(std::llround(e.fail_prob * static_cast<double>(e.rounds)));
        r.cp_width += clopper_pearson(events, e.rounds, 0.95).halfwidth();
        ++r.kinds[std::string(estimator_name(e.estimator)) + "/" + interval_kind_name(e.top1.ci_method)];
    };
    return over_seeds<CellResult>(seeds, threads, body, [](CellResult& all, const CellResult& r) { all.merge(r); });
}

/// The same store under exact fault counts, for the BER curve: a round of count k has j of its
/// k faults on critical words (the stratum's, or Hypergeometric(N, critical, k) when plain), the
/// others on the rest of the N bits, n_bad of which are catastrophic.
constexpr double n_bits = 8600000, n_critical = n_pos + n_neg;

struct SyntheticCount {
    const EstimatorDesign& design;
    std::uint64_t seed, k;
    Shape shape;

    RoundResult operator()(const WorkItem& it) const {
        random::PhiloxStream rng({seed, it.round, 0x30000000u + static_cast<std::uint32_t>(k << 6) + static_cast<std::uint32_t>(it.stratum)});
        std::uint64_t j = 0, neg = 0;
        if (design.stratified()) {
            const Stratum& st = design.strata()[it.stratum];
            j = design.strata().draw_count(it.stratum, seed ^ (k << 32), it.round);
            if (st.is_split()) neg = st.negative;
            else neg = split(rng, j);
        } else {
            for (std::uint64_t i = 0; i < k; ++i) j += rng.next_open0() * (n_bits - static_cast<double>(i)) <= n_critical - static_cast<double>(j);
            neg = split(rng, j);
        }
        const std::uint64_t pos = j - neg;
        double clear = 1;  // P(no catastrophic bit among the k - j others)
        for (std::uint64_t i = 0; i < k - j; ++i) clear *= 1 - n_bad / (n_bits - n_critical - static_cast<double>(i));
        bool catastrophic = (rng.next_open0() < 1 - clear) && shape.bad_bits;
        for (std::uint64_t i = 0; i < pos; ++i) catastrophic = (rng.next_open0() < shape.pos_cat) || catastrophic;
        for (std::uint64_t i = 0; i < neg; ++i) catastrophic = (rng.next_open0() < shape.neg_cat) || catastrophic;
        const double u = rng.next_open0();
        // k = 0 is the clean network itself (the curve takes it as exact); any fault costs U(0, 0.2).
        const double score = k == 0 ? clean : catastrophic ? 5 + 10 * u : clean - 0.3 * static_cast<double>(j) - 0.2 * u;
        RoundResult r;
        r.round = it.round;
        r.stratum = it.stratum;
        r.critical = j;
        r.eval = {10000, static_cast<std::size_t>(std::llround(std::floor(score * 100))), 10000, 0, 0};
        return r;
    }
    /// Of j hits on critical words, how many land on negative ones (hypergeometric, sequentially).
    static std::uint64_t split(random::PhiloxStream& rng, std::uint64_t j) {
        double left_neg = n_neg, left = n_critical;
        std::uint64_t neg = 0;
        for (std::uint64_t i = 0; i < j; ++i, left -= 1)
            if (rng.next_open0() * left <= left_neg) ++neg, left_neg -= 1;
        return neg;
    }
};

/// The design of count k's campaign with `rounds` rounds (k = 0: one plain round), as plan_sweep asks for it.
EstimatorDesign count_design(std::uint64_t k, std::size_t rounds, bool stratify) {
    DesignRequest q;
    q.estimate.rounds = k == 0 ? 1 : rounds;
    q.estimate.resolution = 0.01;
    q.estimator = k == 0 || !stratify ? Estimator::plain : Estimator::automatic;
    q.exact_count = true;
    q.count = k;
    q.eligible_bits = static_cast<std::uint64_t>(n_bits);
    q.critical_bits = static_cast<std::uint64_t>(n_critical);
    q.negative_critical_bits = static_cast<std::uint64_t>(n_neg);
    return plan_design(q);
}

/// The curve's truth: as truth_mean, except that a round without any fault (probability
/// (1 - p)^n_bits) scores the clean accuracy itself instead of clean - U(0, 0.2) on average.
double truth_curve(double p, Shape sh) { return truth_mean(p, sh) + 0.1 * std::pow(1 - p, n_bits); }

/// Coverage of the curve's band at each rate against the closed-form truth, over seeds.
struct CurveResult {
    std::vector<std::size_t> covered;
    std::vector<double> width;
    std::size_t seeds = 0;
    void merge(const CurveResult& o) {
        covered.resize(o.covered.size());
        width.resize(o.width.size());
        for (std::size_t i = 0; i < o.covered.size(); ++i) covered[i] += o.covered[i], width[i] += o.width[i];
        seeds += o.seeds;
    }
};

CurveResult run_curve(std::uint64_t k_max, std::size_t rounds, bool stratify, const std::vector<double>& rates, Shape shape, std::size_t seeds,
                      unsigned threads) {
    std::vector<EstimatorDesign> designs;
    for (std::uint64_t k = 0; k <= k_max; ++k) designs.push_back(count_design(k, rounds, stratify));
    const auto body = [&](std::size_t seed, CurveResult& r) {
        std::vector<std::vector<CountStratum>> counts;
        for (std::uint64_t k = 0; k <= k_max; ++k) {
            std::vector<RoundResult> done;
            run_design(designs[k], SyntheticCount{designs[k], seed, k, shape}, done);
            CampaignResult c;
            c.estimate = designs[k].finish(done, clean, 10);
            c.rounds = designs[k].in_plan_order(done);
            counts.push_back(count_strata(c));
        }
        const auto points = ber_curve(counts, static_cast<std::uint64_t>(n_bits), rates, 0.95, 0.01);
        r.covered.resize(rates.size());
        r.width.resize(rates.size());
        for (std::size_t i = 0; i < rates.size(); ++i) {
            const double truth = truth_curve(rates[i], shape);
            r.covered[i] += points[i].low <= truth && truth <= points[i].high;
            r.width[i] += (points[i].high - points[i].low) / 2;
        }
        ++r.seeds;
    };
    return over_seeds<CurveResult>(seeds, threads, body, [](CurveResult& all, const CurveResult& r) { all.merge(r); });
}

/// Paired differences: shape a against shape b on the same faults (the same design, seeds and
/// streams), their interval against the closed-form difference of the truths.
struct PairedResult : Tally {
    std::size_t paired = 0;
    void merge(const PairedResult& o) {
        add(o);
        paired += o.paired;
    }
};

fault::CampaignResult as_result(const EstimatorDesign& design, std::vector<RoundResult> done, std::uint64_t stored_bits = 8600000) {
    fault::CampaignResult r;
    r.clean = {10000, 9228, 10000, 0, 0};
    r.estimate = design.finish(done, clean, 10);
    r.rounds = design.in_plan_order(done);
    r.stored_bits = stored_bits;  // the same store on both sides unless a test says otherwise
    r.critical_mask = design.stratified() ? 0x40000000u : 0;
    return r;
}

PairedResult run_paired(const Cell& c, Shape b, std::size_t seeds, unsigned threads) {
    const EstimatorDesign design = design_for(c);
    const double mu = truth_mean(c.rate, c.shape) - truth_mean(c.rate, b), pf = truth_fail(c.rate, c.shape) - truth_fail(c.rate, b);
    const auto body = [&](std::size_t seed, PairedResult& r) {
        std::vector<RoundResult> da, db;
        run_design(design, Synthetic{design, seed, c.rate, c.shape}, da);
        run_design(design, Synthetic{design, seed, c.rate, b}, db);
        const auto d = fault::paired_difference(as_result(design, da), as_result(design, db), 10, 0.95);
        ++r.seeds;
        r.paired += d.paired;
        r.covered += d.ci.contains(mu);
        r.fail_covered += d.fail_ci.contains(pf);
        r.width += d.ci.halfwidth();
    };
    return over_seeds<PairedResult>(seeds, threads, body, [](PairedResult& all, const PairedResult& r) { all.merge(r); });
}

/// Differences of campaigns whose rounds do not pair: the unprotected shape (stratified, as
/// planned) against the protected one run on other streams, either plain (b_plain) or with the
/// same strata but another store (so the designs refuse to pair), by the union bound.
PairedResult run_independent(const Cell& c, Shape b, bool b_plain, std::size_t seeds, unsigned threads) {
    const EstimatorDesign design = design_for(c);
    EstimateSpec plain_spec;
    plain_spec.rounds = c.rounds;
    plain_spec.resolution = 0.01;
    const EstimatorDesign plain(plain_spec);
    const EstimatorDesign& other = b_plain ? plain : design;
    const double mu = truth_mean(c.rate, c.shape) - truth_mean(c.rate, b), pf = truth_fail(c.rate, c.shape) - truth_fail(c.rate, b);
    const auto body = [&](std::size_t seed, PairedResult& r) {
        std::vector<RoundResult> da, db;
        run_design(design, Synthetic{design, seed, c.rate, c.shape}, da);
        run_design(other, Synthetic{other, seed + 1000000007, c.rate, b}, db);
        const auto d = fault::paired_difference(as_result(design, da), as_result(other, db, 8600001), 10, 0.95);
        ++r.seeds;
        r.paired += d.paired;
        r.covered += d.has_interval && d.ci.contains(mu);
        r.fail_covered += d.has_interval && d.fail_ci.contains(pf);
        r.width += d.ci.halfwidth();
    };
    return over_seeds<PairedResult>(seeds, threads, body, [](PairedResult& all, const PairedResult& r) { all.merge(r); });
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t seeds = 1000;
    std::string cells = "full";
    double only_rate = 0;
    unsigned threads = std::max(1u, std::thread::hardware_concurrency());
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--seeds")) seeds = std::strtoull(argv[i + 1], nullptr, 10);
        else if (!std::strcmp(argv[i], "--cells")) cells = argv[i + 1];
        else if (!std::strcmp(argv[i], "--rate")) only_rate = std::strtod(argv[i + 1], nullptr);
        else if (!std::strcmp(argv[i], "--threads")) threads = static_cast<unsigned>(std::strtoul(argv[i + 1], nullptr, 10));
        else {
            std::fprintf(stderr, "usage: %s [--seeds N] [--cells reduced|full] [--threads T] [--rate P]\n", argv[0]);
            return 2;
        }
    }
    if (seeds == 0 || threads == 0 || (cells != "full" && cells != "reduced")) {
        std::fprintf(stderr, "safnet_coverage_matrix: --seeds and --threads must be positive, --cells reduced or full\n");
        return 2;
    }
    // reduced: the cells where the old ± t·SE interval failed (BER 1e-7 at 100 rounds: 65 %;
    // adaptive at 1e-7 and 1e-6), small budgets, and 1e-5 at a fixed budget.
    std::vector<Cell> matrix;
    if (cells == "full") {
        for (const Shape sh : {Shape{0.10}, Shape{0.05}})
            for (const double p : {1e-7, 1e-6, 1e-5}) {
                for (const std::size_t b : {10, 20, 100, 240}) matrix.push_back({p, b, 0, sh});
                matrix.push_back({p, 20000, 0.5, sh});
            }
    } else {
        for (const double p : {1e-7, 1e-6}) {
            for (const std::size_t b : {20, 100}) matrix.push_back({p, b, 0, {0.10}});
            matrix.push_back({p, 20000, 0.5, {0.10}});
        }
        matrix.push_back({1e-5, 100, 0, {0.10}});
    }
    std::erase_if(matrix, [&](const Cell& c) { return only_rate > 0 && c.rate != only_rate; });
    std::printf("Generated by `safnet_coverage_matrix --cells %s --seeds %zu` (tests/fault/stats/coverage_matrix.cpp; c-: the probability that a hit "
                "on a negative critical word is catastrophic; misses above / below: intervals entirely above / below the truth).\n\n",
                cells.c_str(), seeds);
    std::printf("| c- | BER | rounds | truth | coverage | misses above / below | P(fail) coverage | mean half-width | P(fail) half-width (plain CP at the same rounds) "
                "| mean rounds | estimator/interval (seeds) |\n"
                "|---|---|---|---|---|---|---|---|---|---|---|\n");
    bool ok = true;
    for (const Cell& c : matrix) {
        const CellResult r = run_cell(c, seeds, threads);
        const double n = static_cast<double>(r.seeds), cover = static_cast<double>(r.covered) / n;
        std::string kinds;
        for (const auto& [k, m] : r.kinds) kinds += (kinds.empty() ? "" : ", ") + k + " " + std::to_string(m);
        const std::string budget = c.halfwidth > 0 ? "adaptive ±" + std::to_string(c.halfwidth).substr(0, 3) : std::to_string(c.rounds);
        const double fail_cover = static_cast<double>(r.fail_covered) / n;
        std::printf("| %.2f | %.0e | %s | %.3f | %.1f %% | %zu / %zu | %.1f %% | %.3f | %.4f (%.4f) | %.0f | %s |\n", c.shape.neg_cat, c.rate, budget.c_str(),
                    truth_mean(c.rate, c.shape), 100 * cover, r.above, r.below, 100 * fail_cover, r.width / n, r.fail_width / n, r.cp_width / n, r.rounds / n,
                    kinds.c_str());
        std::fflush(stdout);
        ok = ok && cover >= 0.94 && fail_cover >= 0.94;
    }
    // Paired: the unprotected shape against a protected one (no critical hit is catastrophic),
    // both exposed to the same non-critical catastrophic mode.
    const Shape protected_shape{0.0, 0.0, true};
    std::vector<Cell> pairs;
    for (const double p : {1e-7, 1e-6, 1e-5}) {
        if (cells == "reduced" && p == 1e-7) continue;
        for (const std::size_t b : cells == "full" ? std::vector<std::size_t>{10, 100, 240} : std::vector<std::size_t>{10, 100})
            pairs.push_back({p, b, 0, {0.10}});
    }
    std::erase_if(pairs, [&](const Cell& c) { return only_rate > 0 && c.rate != only_rate; });
    std::printf("\nPaired differences, unprotected minus protected on the same faults (c- 0.10 against no catastrophic critical hit):\n\n"
                "| BER | rounds | true difference | coverage | P(fail) difference coverage | mean half-width | paired |\n|---|---|---|---|---|---|---|\n");
    for (const Cell& c : pairs) {
        const PairedResult r = run_paired(c, protected_shape, seeds, threads);
        const double n = static_cast<double>(r.seeds), cover = static_cast<double>(r.covered) / n, fail_cover = static_cast<double>(r.fail_covered) / n;
        std::printf("| %.0e | %zu | %.3f | %.1f %% | %.1f %% | %.3f | %zu of %zu |\n", c.rate, c.rounds,
                    truth_mean(c.rate, c.shape) - truth_mean(c.rate, protected_shape), 100 * cover, 100 * fail_cover, r.width / n, r.paired, r.seeds);
        std::fflush(stdout);
        ok = ok && cover >= 0.94 && fail_cover >= 0.94 && r.paired == r.seeds;
    }
    std::printf("\nIndependent differences (the rounds do not pair: other streams, and b plain or on another store), unprotected minus protected, "
                "union bound of each side's interval at 97.5 %%:\n\n"
                "| BER | rounds | b | true difference | coverage | P(fail) difference coverage | mean half-width |\n|---|---|---|---|---|---|---|\n");
    for (const Cell& c : pairs)
        for (const bool b_plain : {true, false}) {
            const PairedResult r = run_independent(c, protected_shape, b_plain, seeds, threads);
            const double n = static_cast<double>(r.seeds), cover = static_cast<double>(r.covered) / n, fail_cover = static_cast<double>(r.fail_covered) / n;
            std::printf("| %.0e | %zu | %s | %.3f | %.1f %% | %.1f %% | %.3f |\n", c.rate, c.rounds, b_plain ? "plain" : "stratified",
                        truth_mean(c.rate, c.shape) - truth_mean(c.rate, protected_shape), 100 * cover, 100 * fail_cover, r.width / n);
            std::fflush(stdout);
            ok = ok && cover >= 0.94 && fail_cover >= 0.94 && r.paired == 0;
        }
    // The BER curve from exact-count campaigns k = 0..20, 20 rounds each (the CIFAR-10 study's
    // budget), against the closed-form truth at each rate; plain counts beside, as they ran before.
    if (only_rate == 0) {
        const std::vector<double> rates = {1e-9, 1e-8, 1e-7, 3e-7, 1e-6, 2e-6, 1e-5};
        std::printf("\nBER curve from exact counts k = 0..20, 20 rounds each (c- 0.10): coverage of the band (mean half-width)\n\n| counts |");
        for (double r : rates) std::printf(" %.0e |", r);
        std::printf("\n|---|");
        for (std::size_t i = 0; i < rates.size(); ++i) std::printf("---|");
        std::printf("\n");
        for (const bool stratify : {true, false}) {
            const CurveResult r = run_curve(20, 20, stratify, rates, {0.10}, cells == "full" ? seeds : seeds / 4, threads);
            std::printf("| %s |", stratify ? "stratified by critical count" : "plain");
            for (std::size_t i = 0; i < rates.size(); ++i) {
                const double cover = static_cast<double>(r.covered[i]) / static_cast<double>(r.seeds);
                std::printf(" %.1f %% (%.3f) |", 100 * cover, r.width[i] / static_cast<double>(r.seeds));
                if (stratify) ok = ok && cover >= 0.94;  // the plain row is the before: it is reported, not required
            }
            std::printf("\n");
            std::fflush(stdout);
        }
    }
    std::printf(ok ? "coverage matrix: every cell covers at least 94 %%\n" : "coverage matrix: FAILED, a cell covers less than 94 %%\n");
    return ok ? 0 : 1;
}
