// The estimators on a synthetic "model" whose accuracy is a known function of the faults, so
// the truth is computed exactly by enumeration.
#include <safnet/fault/bitflip.hpp>
#include <safnet/fault/estimator.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

using namespace safnet;

namespace {

// 60 eight-bit words; bit 7 of each word is critical (N_c = 60), the other 7 x 60 = 420 bits
// are not. Accuracy of a round with c critical and o other faults:
//   f(c, o) = 88 - 0.5 o           if c = 0
//             12 + 6 [o is even]   if c >= 1   (a catastrophic, still noisy, outcome)
// truncated to 0.01 points (10000 test images).
constexpr std::size_t words = 60;
constexpr std::uint64_t critical_mask = 0x80;

double accuracy(std::uint64_t c, std::uint64_t o) {
    const double f = c == 0 ? std::max(0.0, 88 - 0.5 * static_cast<double>(o)) : 12 + 6.0 * (o % 2 == 0);
    return std::floor(f * 100) / 100;
}

double truth(double p) {
    double e = 0;
    for (std::uint64_t c = 0; c <= words; ++c)
        for (std::uint64_t o = 0; o <= 7 * words; ++o)
            e += fault::binomial_pmf(words, c, p) * fault::binomial_pmf(7 * words, o, p) * accuracy(c, o);
    return e;
}

/// P(fail) for a 10-point drop below clean (88): every catastrophic round and c = 0 with o > 20.
double truth_fail(double p) {
    double e = 0;
    for (std::uint64_t c = 0; c <= words; ++c)
        for (std::uint64_t o = 0; o <= 7 * words; ++o)
            e += fault::binomial_pmf(words, c, p) * fault::binomial_pmf(7 * words, o, p) * (accuracy(c, o) < 78);
    return e;
}

train::EvalResult eval_of(double acc) {
    return {10000, static_cast<std::size_t>(std::llround(acc * 100)), 10000, 0, 0};
}

/// Draws a round of `design` for item `it` with the same streams the campaign uses.
struct Synthetic {
    Synthetic(const fault::EstimatorDesign& d, std::uint64_t s, double rate) : design(d), seed(s), p(rate) {}
    const fault::EstimatorDesign& design;
    std::uint64_t seed;
    double p;
    std::vector<std::uint8_t> store = std::vector<std::uint8_t>(words, 0);
    std::vector<fault::BitFault> changed;

    fault::RoundResult operator()(const fault::WorkItem& it) {
        const auto model = fault::FaultModel::bit_flip(p);
        fault::RoundResult r;
        r.round = it.round;
        r.stratum = it.stratum;
        if (design.stratified()) {
            r.critical = design.strata().draw_count(it.stratum, seed, it.round);
            fault::inject_conditional(std::span<std::uint8_t>(store), 8, model, critical_mask, r.critical,
                                      fault::CriticalStrata::critical_key(seed, it.round, it.stratum),
                                      fault::CriticalStrata::other_key(seed, it.round, it.stratum), changed);
        } else {
            fault::inject(std::span<std::uint8_t>(store), 8, model, {seed, it.round, 0}, changed);
        }
        std::uint64_t c = 0;
        for (const auto& f : changed) c += f.bit == 7;
        r.flips = changed.size();
        r.eval = eval_of(accuracy(c, changed.size() - c));
        fault::restore(std::span<std::uint8_t>(store), std::span<const fault::BitFault>(changed));
        return r;
    }
};

fault::Estimate run(const fault::EstimatorDesign& design, std::uint64_t seed, double p, std::vector<fault::RoundResult>* out = nullptr) {
    Synthetic s{design, seed, p};
    std::vector<fault::RoundResult> done;
    fault::run_design(design, s, done);
    if (out) *out = done;
    return design.finish(done, 88, 10);
}

}  // namespace

TEST_CASE("strata: exact binomial weights that sum to one, tail mass bounded", "[fault][estimator]") {
    const auto s = fault::CriticalStrata::plan(270000, 1e-6, 1e-3, 12);  // lambda = 0.27
    double total = 0;
    for (const auto& st : s.strata()) total += st.weight;
    CHECK(total == Approx(1).epsilon(1e-8));  // lgamma(270001) ~ 3e6 carries ~1e-10 absolute error
    REQUIRE(s.size() == 5);  // 0, 1, 2, 3 and > 3
    CHECK(s[0].weight == Approx(std::exp(-0.27)).epsilon(1e-5));
    CHECK(s[4].is_tail());
    CHECK(s[4].weight < 1e-3);
    CHECK(s[4].label() == ">3");
    // A capped plan keeps the mass in its tail stratum.
    const auto capped = fault::CriticalStrata::plan(270000, 1e-4, 1e-3, 6);
    CHECK(capped.size() == 6);
    CHECK(capped[5].weight > 0.99);
    CHECK_THROWS_WITH(fault::CriticalStrata::plan(0, 1e-6), Catch::Contains("no eligible bits"));
}

TEST_CASE("conditional law inside a stratum: exactly k critical faults, the rest Bernoulli(p)", "[fault][estimator]") {
    const double p = 0.01;
    const auto model = fault::FaultModel::bit_flip(p);
    std::vector<std::uint16_t> store(500, 0);
    std::vector<fault::BitFault> changed;
    const std::uint64_t critical = 0xC000;  // bits 14, 15: 1000 critical bits, 7000 others
    std::vector<std::size_t> per_position(16, 0);
    const std::size_t rounds = 2000;
    std::size_t others = 0;
    for (std::uint32_t r = 0; r < rounds; ++r) {
        fault::inject_conditional(std::span<std::uint16_t>(store), 16, model, critical, 3, {9, r, 1}, {9, r, 2}, changed);
        std::size_t c = 0;
        for (const auto& f : changed) {
            ++per_position[f.bit];
            c += (critical >> f.bit) & 1u;
        }
        REQUIRE(c == 3);
        REQUIRE(std::is_sorted(changed.begin(), changed.end(), [](auto& a, auto& b) { return a.word != b.word ? a.word < b.word : a.bit < b.bit; }));
        others += changed.size() - c;
        fault::restore(std::span<std::uint16_t>(store), std::span<const fault::BitFault>(changed));
        REQUIRE(std::all_of(store.begin(), store.end(), [](auto w) { return w == 0; }));
    }
    // Other faults: Binomial(7000 x rounds, p) in total; z-test at 4 sd.
    const double n = 7000.0 * rounds, mean = n * p, sd = std::sqrt(n * p * (1 - p));
    CHECK(std::abs(static_cast<double>(others) - mean) < 4 * sd);
    // Critical faults split evenly between bits 14 and 15 (3 x rounds in total): chi-square, 1 df, < 10.8 (p = 0.001).
    const double half = 1.5 * rounds;
    const double chi = std::pow(per_position[14] - half, 2) / half + std::pow(per_position[15] - half, 2) / half;
    CHECK(chi < 10.8);
    // Each non-critical position: Binomial(500 x rounds, p); chi-square over 14 positions, 14 df, < 36.1 (p = 0.001).
    double chi_other = 0;
    const double expected = 500.0 * rounds * p;
    for (int b = 0; b < 14; ++b) chi_other += std::pow(static_cast<double>(per_position[b]) - expected, 2) / expected;
    CHECK(chi_other < 36.1);
}

TEST_CASE("tail stratum draws K_c from the truncated binomial", "[fault][estimator]") {
    const auto s = fault::CriticalStrata::plan(60, 0.02, 0.05, 12);  // lambda = 1.2
    const std::size_t tail = s.size() - 1;
    REQUIRE(s[tail].is_tail());
    const std::uint64_t k0 = s[tail].k_low;
    std::vector<double> seen(61, 0);
    const std::uint32_t n = 20000;
    for (std::uint32_t r = 0; r < n; ++r) {
        const auto k = s.draw_count(tail, 3, r);
        REQUIRE(k >= k0);
        seen[k] += 1;
    }
    for (std::uint64_t k = k0; k < k0 + 3; ++k) {
        const double expect = fault::binomial_pmf(60, k, 0.02) / s[tail].weight * n;
        CHECK(std::abs(seen[k] - expect) < 4 * std::sqrt(expect));
    }
}

TEST_CASE("stratified and plain estimates: unbiased, intervals cover the exact truth", "[fault][estimator]") {
    const double p = 0.004;  // lambda_c = 0.24: 21 % catastrophic rounds
    const double mu = truth(p), fail = truth_fail(p);
    const auto strata = fault::CriticalStrata::plan(words, p, 1e-3, 12);
    const fault::EstimateSpec spec{.rounds = 60, .confidence = 0.95};
    const fault::EstimatorDesign stratified(spec, strata), plain(spec);
    const std::size_t seeds = 1000;
    std::size_t covered_s = 0, covered_p = 0, fail_s = 0, fail_p = 0;
    double sum_s = 0, sum_p = 0, sq_s = 0, sq_p = 0;
    for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
        const auto es = run(stratified, seed, p), ep = run(plain, seed, p);
        REQUIRE(es.rounds == 60);
        REQUIRE(ep.rounds == 60);
        covered_s += es.top1.ci_low <= mu && mu <= es.top1.ci_high;
        covered_p += ep.top1.ci_low <= mu && mu <= ep.top1.ci_high;
        fail_s += es.fail_ci.contains(fail);
        fail_p += ep.fail_ci.contains(fail);
        sum_s += es.top1.mean;
        sum_p += ep.top1.mean;
        sq_s += es.top1.mean * es.top1.mean;
        sq_p += ep.top1.mean * ep.top1.mean;
    }
    const double n = seeds, mean_s = sum_s / n, mean_p = sum_p / n;
    const double sd_s = std::sqrt(sq_s / n - mean_s * mean_s), sd_p = std::sqrt(sq_p / n - mean_p * mean_p);
    INFO("truth " << mu << "; stratified mean " << mean_s << " (sd " << sd_s << "), coverage " << covered_s / n << ", P(fail) coverage "
                  << fail_s / n << "; plain mean " << mean_p << " (sd " << sd_p << "), coverage " << covered_p / n << ", P(fail) coverage "
                  << fail_p / n);
    CHECK(std::abs(mean_s - mu) < 4 * sd_s / std::sqrt(n));
    CHECK(std::abs(mean_p - mu) < 4 * sd_p / std::sqrt(n));
    CHECK(covered_s / n >= 0.92);
    CHECK(covered_s / n <= 0.99);
    CHECK(covered_p / n >= 0.92);
    CHECK(fail_s / n >= 0.95);  // conservative by construction
    CHECK(fail_p / n >= 0.95);
    CHECK(sd_s < sd_p / 4);  // the point of stratifying: the catastrophic share is known exactly
}

TEST_CASE("adaptive stopping: floors, target half-width, coverage at the stopping time", "[fault][estimator]") {
    const double p = 0.004, mu = truth(p);
    const fault::EstimateSpec spec{.rounds = 20000, .confidence = 0.95, .stopping = {.ci_halfwidth = 1.5, .min_rounds = 30, .rare_failure = 0.01}};
    const fault::EstimatorDesign stratified(spec, fault::CriticalStrata::plan(words, p, 1e-3, 12)), plain(spec);
    std::size_t covered_s = 0, covered_p = 0, rounds_s = 0, rounds_p = 0;
    const std::size_t seeds = 100;
    for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
        std::vector<fault::RoundResult> done;
        const auto es = run(stratified, seed, p, &done);
        const auto ep = run(plain, seed, p);
        REQUIRE(es.stopped_adaptively);
        REQUIRE(ep.stopped_adaptively);
        REQUIRE(es.top1.ci_halfwidth() < 1.5);
        REQUIRE(ep.top1.ci_halfwidth() < 1.5);
        REQUIRE(ep.rounds >= 299);  // the rare-event floor
        REQUIRE(std::string(fault::interval_kind_name(ep.top1.ci_method)) == "betting-time-uniform");
        // Stratum floors: stratum 0 (w = 0.786) needs ceil(ln(0.05) / ln(1 - 0.01 / 0.786)) = 235 rounds.
        REQUIRE(es.strata[0].rounds >= 235);
        REQUIRE(fault::rare_event_rounds(0.01 / es.strata[0].stratum.weight, 0.95) == 235);
        covered_s += es.top1.ci_low <= mu && mu <= es.top1.ci_high;
        covered_p += ep.top1.ci_low <= mu && mu <= ep.top1.ci_high;
        rounds_s += es.rounds;
        rounds_p += ep.rounds;
    }
    INFO("stratified: coverage " << covered_s / double(seeds) << ", mean rounds " << rounds_s / double(seeds) << "; plain: coverage "
                                 << covered_p / double(seeds) << ", mean rounds " << rounds_p / double(seeds));
    CHECK(covered_s >= static_cast<std::size_t>(0.90 * seeds));
    CHECK(covered_p >= static_cast<std::size_t>(0.90 * seeds));
    CHECK(rounds_s * 4 < rounds_p);
}

TEST_CASE("the design depends only on finished rounds: any order, any resume point", "[fault][estimator]") {
    const double p = 0.004;
    const fault::EstimateSpec spec{.rounds = 400, .stopping = {.ci_halfwidth = 1.5, .min_rounds = 30}};
    const fault::EstimatorDesign design(spec, fault::CriticalStrata::plan(words, p, 1e-3, 12));
    std::vector<fault::RoundResult> reference;
    const auto a = run(design, 4, p, &reference);
    // Reversed execution inside every batch, and a resume after every 7th round.
    Synthetic s{design, 4, p};
    std::vector<fault::RoundResult> done;
    for (auto batch = design.next_batch(done); !batch.empty(); batch = design.next_batch(done)) {
        std::reverse(batch.begin(), batch.end());
        for (const auto& item : batch) {
            done.push_back(s(item));
            if (done.size() % 7 == 0) break;  // "killed": the next call plans from what finished
        }
    }
    const auto b = design.finish(done, 88, 10);
    CHECK(a.rounds == b.rounds);
    CHECK(a.top1.mean == b.top1.mean);
    CHECK(a.top1.ci_low == b.top1.ci_low);
    CHECK(a.fail_ci.high == b.fail_ci.high);
    auto key = [](const fault::RoundResult& r) { return std::pair(r.stratum, r.round); };
    std::vector<std::pair<std::size_t, std::size_t>> ka, kb;
    for (const auto& r : reference) ka.push_back(key(r));
    for (const auto& r : done) kb.push_back(key(r));
    std::sort(ka.begin(), ka.end());
    std::sort(kb.begin(), kb.end());
    CHECK(ka == kb);
}

TEST_CASE("fixed budgets: Neyman allocation spends exactly the budget; bad specs are refused", "[fault][estimator]") {
    const double p = 0.004;
    const fault::EstimatorDesign design({.rounds = 100}, fault::CriticalStrata::plan(words, p, 1e-3, 12));
    const auto e = run(design, 2, p);
    CHECK(e.rounds == 100);
    std::size_t sum = 0;
    for (const auto& st : e.strata) {
        CHECK(st.rounds >= 2);
        sum += st.rounds;
    }
    CHECK(sum == 100);
    CHECK(e.strata[1].rounds > e.strata[2].rounds);
    CHECK_THROWS_WITH(fault::EstimatorDesign({.rounds = 5}, fault::CriticalStrata::plan(words, p, 1e-3, 12)), Catch::Contains("need at least"));
    CHECK_THROWS_WITH(fault::EstimatorDesign({.rounds = 10, .confidence = 1.5}), Catch::Contains("confidence"));
    CHECK_THROWS_WITH(fault::EstimatorDesign({.rounds = 10, .fail_drop = -1}), Catch::Contains("fail drop"));
    CHECK_THROWS_WITH(fault::EstimatorDesign({.rounds = 2, .first_round = 4294967295u}), Catch::Contains("fit 32 bits"));  // round numbers were cast to 32 bits
    // Zero failures in n plain rounds report the exact upper bound, not 0.
    const fault::EstimatorDesign plain({.rounds = 100, .fail_drop = 100});
    const auto none = run(plain, 1, p);
    CHECK(none.fail_prob == 0);
    CHECK(none.fail_ci.high == Approx(0.0362).epsilon(1e-3));
}
