#include <safnet/random/philox.hpp>
#include <safnet/fault/stats/statistics.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

using namespace safnet;

namespace {

/// Student t interval of the mean (the method safnet used before): for comparison only.
fault::Interval student_interval(const std::vector<double>& x, double confidence) {
    const double n = static_cast<double>(x.size());
    double m = 0, s = 0;
    for (double v : x) m += v / n;
    for (double v : x) s += (v - m) * (v - m);
    const double half = fault::student_t_quantile(n - 1, confidence) * std::sqrt(s / (n - 1) / n);
    return {m - half, m + half};
}

/// A bimodal round: 0.92 + noise with probability 0.95, 0.05 ("catastrophic") otherwise.
double bimodal(random::PhiloxStream& rng) {
    if (rng.next_open0() <= 0.05) return 0.05;
    return 0.92 + 0.01 * (rng.next_open0() - 0.5);
}
constexpr double bimodal_mean = 0.95 * 0.92 + 0.05 * 0.05;

/// Exact coverage of stratified_proportion for independent Binomial(n_s, p_s) strata, minimum
/// and mean over a grid of per-stratum rates (denser near 0 and 1): every outcome's interval
/// is computed once, then each grid point sums the probabilities of the outcomes it covers.
struct ExactCoverage {
    double min = 1, mean = 0;
};
ExactCoverage exact_coverage(const std::vector<double>& w, const std::vector<std::uint64_t>& n, int grid) {
    const std::size_t S = w.size();
    std::size_t outcomes = 1;
    for (auto k : n) outcomes *= k + 1;
    std::vector<std::vector<std::uint64_t>> x(outcomes, std::vector<std::uint64_t>(S));
    std::vector<fault::Interval> ci(outcomes);
    for (std::size_t o = 0; o < outcomes; ++o) {
        std::vector<fault::StratumCount> counts;
        for (std::size_t s = 0, r = o; s < S; r /= n[s] + 1, ++s) {
            x[o][s] = r % (n[s] + 1);
            counts.push_back({w[s], x[o][s], n[s]});
        }
        ci[o] = fault::stratified_proportion(counts, 0.95);
    }
    std::size_t points = 1;
    for (std::size_t s = 0; s < S; ++s) points *= static_cast<std::size_t>(grid) + 1;
    ExactCoverage c;
    std::vector<std::vector<double>> pmf(S);
    for (std::size_t g = 0; g < points; ++g) {
        double truth = 0;
        for (std::size_t s = 0, r = g; s < S; r /= static_cast<std::size_t>(grid) + 1, ++s) {
            const double u = static_cast<double>(r % (static_cast<std::size_t>(grid) + 1)) / grid, p = u * u * (3 - 2 * u);
            truth += w[s] * p;
            pmf[s].clear();
            for (std::uint64_t k = 0; k <= n[s]; ++k) pmf[s].push_back(fault::binomial_pmf(n[s], k, p));
        }
        double covered = 0;
        for (std::size_t o = 0; o < outcomes; ++o) {
            if (!ci[o].contains(truth)) continue;
            double prob = 1;
            for (std::size_t s = 0; s < S; ++s) prob *= pmf[s][x[o][s]];
            covered += prob;
        }
        c.min = std::min(c.min, covered);
        c.mean += covered / static_cast<double>(points);
    }
    return c;
}

}  // namespace

TEST_CASE("incomplete beta and its quantile against closed forms", "[fault][statistics]") {
    // I_x(a, b) for integer a, b is a binomial tail: I_x(2, 3) = P(Binomial(4, x) >= 2).
    for (double x : {0.01, 0.2, 0.5, 0.77, 0.99}) {
        double tail = 0;
        for (int j = 2; j <= 4; ++j) tail += std::tgamma(5) / std::tgamma(j + 1) / std::tgamma(5 - j) * std::pow(x, j) * std::pow(1 - x, 4 - j);
        CHECK(fault::incomplete_beta(2, 3, x) == Approx(tail).epsilon(1e-12));
        CHECK(fault::beta_quantile(2, 3, tail) == Approx(x).epsilon(1e-10));
    }
    // Quantiles far below 1e-16 (Clopper-Pearson lower bounds of rare events) to relative
    // precision: I_x(1, b) = 1 - (1 - x)^b, so x = -expm1(log1p(-q) / b).
    for (const double q : {1e-10, 1e-20, 1e-40, 1e-300})
        for (const double b : {1.0, 3.5, 200.0})
            CHECK(fault::beta_quantile(1, b, q) == Approx(-std::expm1(std::log1p(-q) / b)).epsilon(1e-12));
    CHECK(fault::beta_quantile(2, 3, 0) == 0);
    CHECK(fault::beta_quantile(2, 3, 1) == 1);
    CHECK(fault::incomplete_beta(0.5, 0.5, 0.25) == Approx(2 / 3.141592653589793 * std::asin(0.5)).epsilon(1e-12));  // arcsine law
    CHECK(fault::incomplete_beta(3, 4, 0) == 0);
    CHECK(fault::incomplete_beta(3, 4, 1) == 1);
}

TEST_CASE("Student t and normal quantiles against published tables", "[fault][statistics]") {
    CHECK(fault::student_t_quantile(1, 0.95) == Approx(12.7062).epsilon(1e-5));
    CHECK(fault::student_t_quantile(10, 0.95) == Approx(2.22814).epsilon(1e-5));
    CHECK(fault::student_t_quantile(30, 0.95) == Approx(2.04227).epsilon(1e-5));
    CHECK(fault::student_t_quantile(5, 0.99) == Approx(4.03214).epsilon(1e-5));
    CHECK(fault::student_t_quantile(2.5, 0.90) == Approx(2.55822).epsilon(1e-5));  // fractional df (numerical integration of the density)
    CHECK(fault::student_t_quantile(std::numeric_limits<double>::infinity(), 0.95) == Approx(1.959964).epsilon(1e-6));
    CHECK(fault::normal_quantile_two_sided(0.99) == Approx(2.575829).epsilon(1e-6));
    CHECK_THROWS_WITH(fault::student_t_quantile(3, 1.0), Catch::Contains("confidence"));
}

TEST_CASE("binomial pmf and upper tail, exhaustively for n = 40", "[fault][statistics]") {
    for (double p : {1e-9, 0.01, 0.3, 0.9}) {
        double sum = 0;
        for (std::uint64_t k = 0; k <= 40; ++k) sum += fault::binomial_pmf(40, k, p);
        CHECK(sum == Approx(1).epsilon(1e-12));
        for (std::uint64_t k = 0; k <= 40; ++k) {
            double tail = 0;
            for (std::uint64_t j = k + 1; j <= 40; ++j) tail += fault::binomial_pmf(40, j, p);
            CHECK(fault::binomial_sf(40, k, p) == Approx(tail).epsilon(1e-9).margin(1e-300));
        }
    }
    // A tail far below double rounding of 1 - cdf: P(K > 3), n = 270000, p = 1e-9.
    const double lambda = 270000 * 1e-9;
    CHECK(fault::binomial_sf(270000, 3, 1e-9) == Approx(std::pow(lambda, 4) / 24).epsilon(1e-3));
}

TEST_CASE("Clopper-Pearson: published values and exact coverage >= nominal", "[fault][statistics]") {
    const auto zero = fault::clopper_pearson(0, 100, 0.95);
    CHECK(zero.low == 0);
    CHECK(zero.high == Approx(0.0362).epsilon(1e-3));  // 1 - 0.025^(1/100)
    const auto five = fault::clopper_pearson(5, 100, 0.95);
    CHECK(five.low == Approx(0.0164).epsilon(2e-3));
    CHECK(five.high == Approx(0.1128).epsilon(2e-3));
    CHECK(fault::clopper_pearson(100, 100, 0.95).high == 1);
    // Exact coverage for n = 30: sum of P(X = x) over the x whose interval holds p.
    for (double p = 0.005; p < 1; p += 0.01) {
        double covered = 0;
        for (std::uint64_t x = 0; x <= 30; ++x)
            if (fault::clopper_pearson(x, 30, 0.95).contains(p)) covered += fault::binomial_pmf(30, x, p);
        INFO("p = " << p);
        CHECK(covered >= 0.95 - 1e-12);
    }
    CHECK_THROWS_WITH(fault::clopper_pearson(5, 4, 0.95), Catch::Contains("5 successes in 4"));
}

TEST_CASE("stratified proportion: one stratum is Clopper-Pearson, zero failures cost what plain sampling's do", "[fault][statistics]") {
    for (std::uint64_t x : {0, 1, 7, 50, 99, 100}) {
        const auto one = fault::stratified_proportion({{1.0, x, 100}}, 0.95), cp = fault::clopper_pearson(x, 100, 0.95);
        INFO("x = " << x);
        CHECK(one.low == Approx(cp.low).margin(1e-12));
        CHECK(one.high == Approx(cp.high).margin(1e-12));
    }
    // Proportional allocation of 100 rounds over four strata, no failure anywhere: near the bound
    // a plain 100-round campaign gives, 0.036 (a union of per-stratum exact bounds gave about ten
    // times it). 0.046 here: the 10-round stratum holds a quarter of the guarded variance, so it
    // sets df = 9, the price of the exact coverage below on strata whose few rounds all pass.
    const auto none = fault::stratified_proportion({{0.4, 0, 40}, {0.3, 0, 30}, {0.2, 0, 20}, {0.1, 0, 10}}, 0.95);
    const double plain = 1 - std::pow(0.025, 1.0 / 100);
    CHECK(none.low == 0);
    CHECK(none.high >= plain);
    CHECK(none.high <= 1.3 * plain);
    // Over-sampling a light stratum does not shrink the bound below its constant-rate value.
    const auto skewed = fault::stratified_proportion({{0.9, 0, 50}, {0.1, 0, 50}}, 0.95);
    CHECK(skewed.high >= 1 - std::pow(0.025, 1.0 / (1 / (0.81 / 50 + 0.01 / 50))) - 1e-12);
    const auto all = fault::stratified_proportion({{0.5, 20, 20}, {0.5, 30, 30}}, 0.95);
    CHECK(all.high == 1);
    CHECK(all.low > 0.9);
    CHECK_THROWS_WITH(fault::stratified_proportion({{1.0, 0, 1}}, 0.95), Catch::Contains("needs at least 2"));
    CHECK_THROWS_WITH(fault::stratified_proportion({{1.0, 5, 4}}, 0.95), Catch::Contains("5 events in 4"));
    CHECK_THROWS_WITH(fault::stratified_proportion({{1.5, 0, 4}}, 0.95), Catch::Contains("not in [0, 1]"));
    CHECK_THROWS_WITH(fault::stratified_proportion({}, 0.95), Catch::Contains("no strata"));
}

TEST_CASE("stratified proportion: exact coverage over per-stratum rates, including strata whose few rounds agree", "[fault][coverage][statistics]") {
    // Exact enumeration of every outcome. Plain Korn-Graubard (sample variance, capped at n)
    // covers 0.845 at p = (1, 0.6) with (0.9, 96), (0.1, 4): the light stratum's 4 rounds agree
    // with probability 0.13, its variance reads 0, and the interval shrinks to [0.96, 1].
    struct Design {
        std::vector<double> w;
        std::vector<std::uint64_t> n;
        int grid;
    };
    const Design designs[] = {{{0.8, 0.2}, {80, 20}, 20},
                              {{0.9, 0.1}, {96, 4}, 20},
                              {{0.95, 0.05}, {50, 50}, 20},
                              {{0.5, 0.5}, {20, 20}, 20},
                              {{0.7, 0.25, 0.05}, {40, 15, 5}, 8}};
    for (const auto& d : designs) {
        const auto c = exact_coverage(d.w, d.n, d.grid);
        INFO("weights " << d.w[0] << ", " << d.w[1] << "; rounds " << d.n[0] << ", " << d.n[1] << ": min coverage " << c.min << ", mean " << c.mean);
        CHECK(c.min >= 0.94);
        CHECK(c.mean >= 0.96);
    }
}

TEST_CASE("stratified guarded mean: the far-end guard widens only the side an unseen mode could move the mean to", "[fault][statistics]") {
    // Two strata near 100 (unseen modes can only pull them down): their lower side is guarded as
    // with both_ends, exactly; the upper side is t_df sqrt(sum w^2 max(s^2, floor^2) / n).
    const std::vector<std::vector<double>> x = {{92.0, 92.1, 91.9, 92.0, 92.2, 91.8, 92.0, 92.1, 91.9, 92.0}, std::vector<double>(6, 90.0)};
    const std::vector<double> w = {0.9, 0.1};
    const auto both = fault::stratified_guarded_mean(x, w, 0, 100, 0.95, fault::UnseenModes::both_ends);
    const auto far = fault::stratified_guarded_mean(x, w, 0, 100, 0.95, fault::UnseenModes::far_end, 0.01);
    CHECK(far.mean == both.mean);
    CHECK(far.ci.low == both.ci.low);
    const double s0 = fault::guarded_variance(x[0], (far.mean - 0.1 * 90) / 0.9, 0);
    const std::vector<double> share = {0.81 * s0 / 10, 0.01 * 0.01 * 0.01 / 6};
    CHECK(far.ci.high == Approx(far.mean + fault::stratified_halfwidth(share, {10, 6}, 0.95)).epsilon(1e-12));
    CHECK(far.ci.high - far.mean < (both.ci.high - both.mean) / 10);
    // Mirrored values (strata near 0: an unseen mode pulls them up) mirror the interval, so the
    // guard follows each stratum's far end, whichever side that is.
    std::vector<std::vector<double>> mirror = x;
    for (auto& s : mirror)
        for (double& v : s) v = 100 - v;
    const auto far_mirror = fault::stratified_guarded_mean(mirror, w, 0, 100, 0.95, fault::UnseenModes::far_end, 0.01);
    CHECK(far_mirror.ci.low == Approx(100 - far.ci.high).epsilon(1e-12));
    CHECK(far_mirror.ci.high == Approx(100 - far.ci.low).epsilon(1e-12));
    // A floor in the values' units on another span: [-1, 1] scales to [0, 100] and back.
    std::vector<std::vector<double>> unit = x;
    for (auto& s : unit)
        for (double& v : s) v = v / 50 - 1;
    const auto far_unit = fault::stratified_guarded_mean(unit, w, -1, 1, 0.95, fault::UnseenModes::far_end, 0.01 / 50);
    CHECK(far_unit.ci.low == Approx(far.ci.low / 50 - 1).epsilon(1e-9));
    CHECK(far_unit.ci.high == Approx(far.ci.high / 50 - 1).epsilon(1e-9));
}

TEST_CASE("rare-event floor: rounds that see a 1 % failure mode with 95 % probability", "[fault][statistics]") {
    CHECK(fault::rare_event_rounds(0.01, 0.95) == 299);  // 0.99^298 = 0.0500 > 0.05 >= 0.99^299
    CHECK(std::pow(0.99, 299) <= 0.05);
    CHECK(std::pow(0.99, 298) > 0.05);
    CHECK(fault::rare_event_rounds(0.05, 0.95) == 59);
    CHECK_THROWS(fault::rare_event_rounds(0, 0.95));
}

TEST_CASE("betting interval covers the mean of bimodal rounds; Student t does not", "[fault][statistics]") {
    // 30 rounds with a 5 % catastrophic mode: 21 % of samples contain no catastrophic round,
    // and an interval that trusts them (Student t) then excludes the mean.
    std::size_t betting = 0, student = 0, inside = 0;
    const std::size_t seeds = 1000;
    for (std::uint32_t seed = 0; seed < seeds; ++seed) {
        random::PhiloxStream rng({77, seed, 0});
        std::vector<double> x(30);
        for (double& v : x) v = bimodal(rng);
        const auto b = fault::betting_interval(x, 0.95, false);
        betting += b.contains(bimodal_mean);
        student += student_interval(x, 0.95).contains(bimodal_mean);
        inside += b.low >= 0 && b.high <= 1;
    }
    const double coverage = static_cast<double>(betting) / seeds, t_coverage = static_cast<double>(student) / seeds;
    INFO("betting coverage " << coverage << ", Student t coverage " << t_coverage);
    CHECK(coverage >= 0.95 - 0.03);
    CHECK(t_coverage < 0.90);
    CHECK(inside == seeds);
}

TEST_CASE("betting interval: narrow for well-behaved data, nominal coverage on a uniform law", "[fault][statistics]") {
    std::size_t covered = 0;
    double width = 0;
    for (std::uint32_t seed = 0; seed < 500; ++seed) {
        random::PhiloxStream rng({5, seed, 0});
        std::vector<double> x(100);
        for (double& v : x) v = 0.88 + 0.02 * rng.next_open0();  // uniform on (0.88, 0.90]
        const auto b = fault::betting_interval(x, 0.95, false);
        covered += b.contains(0.89);
        width += (b.high - b.low) / 500;
    }
    INFO("coverage " << covered / 500.0 << ", mean width " << width);
    CHECK(covered >= 470);
    // sd 0.0058, n = 100: Student t would give 0.0023, but no valid interval for arbitrary laws on
    // [0, 1] can: an unseen mode at 0 of probability 3 % is compatible with these rounds, so the
    // lower side must reach about 0.89 - 0.03 x 0.89. Betting measured 0.08 in all.
    CHECK(width < 0.1);
    CHECK(width > 0.89 * 0.02);
}

TEST_CASE("time-uniform betting interval stays valid under adaptive stopping", "[fault][coverage][statistics]") {
    // Stop at the first check (n >= 10, every max(5, n/20) rounds) whose half-width is below 0.02;
    // coverage at the stopping time.
    std::size_t covered = 0;
    const std::size_t seeds = 400;
    for (std::uint32_t seed = 0; seed < seeds; ++seed) {
        random::PhiloxStream rng({91, seed, 0});
        std::vector<double> x;
        fault::Interval ci{0, 1};
        while (x.size() < 3000) {
            x.push_back(bimodal(rng));
            if (x.size() >= 10 && x.size() % std::max<std::size_t>(5, x.size() / 20) == 0) {
                ci = fault::betting_interval(x, 0.95, true);
                if (ci.halfwidth() < 0.02) break;
            }
        }
        covered += ci.contains(bimodal_mean);
    }
    INFO("coverage at the stopping time " << static_cast<double>(covered) / seeds);
    CHECK(covered >= static_cast<std::size_t>(0.92 * seeds));
}

TEST_CASE("summary: statistics of the rounds; one round has no interval", "[fault][statistics]") {
    const auto s = fault::summarize({10, 20, 30, 40, 100}, 10);
    CHECK(s.mean == Approx(40));
    CHECK(s.sd == Approx(std::sqrt(1250.0)));  // squared deviations 900 + 400 + 100 + 0 + 3600 = 5000, / 4
    CHECK(s.median == 30);
    CHECK(s.min == 10);
    CHECK(s.max == 100);
    CHECK(s.chance_fraction == Approx(0.2));  // only 10 <= 15
    CHECK(s.has_interval());
    CHECK(s.ci_low >= 0);
    CHECK(s.ci_high <= 100);
    CHECK(s.ci_low < 40);
    CHECK(s.ci_high > 40);
    CHECK(fault::summarize({1, 2, 3, 4}, 10).median == 2.5);
    const auto one = fault::summarize({55}, 10);
    CHECK_FALSE(one.has_interval());
    CHECK(std::string(fault::interval_kind_name(one.ci_method)) == "none");
    CHECK(std::isinf(one.ci_halfwidth()));
    // Tighter confidence, wider interval.
    CHECK(fault::summarize({80, 81, 82, 83, 84, 85}, 10, 0.99).ci_halfwidth() > fault::summarize({80, 81, 82, 83, 84, 85}, 10, 0.9).ci_halfwidth());
}

TEST_CASE("Leveugle sample size", "[fault][statistics]") {
    CHECK(fault::leveugle_sample_size(0.05, 0.95) == 385);
    CHECK(fault::leveugle_sample_size(0.01, 0.99) == 16588);
    CHECK(fault::leveugle_sample_size(0.05, 0.95, 1000) == 278);
    CHECK_THROWS_WITH(fault::leveugle_sample_size(0, 0.95), Catch::Contains("margin"));
}
