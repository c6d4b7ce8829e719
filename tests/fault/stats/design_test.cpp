// fault/stats/design.hpp: which design a configuration runs, and why; and the guarded stratified
// interval on hand-made rounds (the coverage study is tests/fault/stats/coverage_matrix.cpp).
#include <safnet/fault/stats/design.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

using namespace safnet;

namespace {

// The ResNet20-shaped store of coverage_matrix.cpp: 268,336 critical bits, 146,186 negative.
fault::DesignRequest resnet20(double rate, std::size_t rounds) {
    fault::DesignRequest q;
    q.estimate.rounds = rounds;
    q.rate = rate;
    q.critical_bits = 268336;
    q.negative_critical_bits = 146186;
    return q;
}

fault::RoundResult round_of(std::size_t stratum, std::uint32_t round, double accuracy) {
    fault::RoundResult r;
    r.stratum = stratum;
    r.round = round;
    r.eval = {10000, static_cast<std::size_t>(accuracy * 100 + 0.5), 10000, 0, 0};
    return r;
}

}  // namespace

TEST_CASE("design: a budget that cannot pilot two strata with 5 rounds each runs plain and says why", "[fault][design]") {
    const auto d = fault::plan_design(resnet20(1e-6, 10));
    CHECK_FALSE(d.stratified());
    CHECK_THAT(d.why(), Catch::Contains("10 rounds cannot pilot 2 strata"));
    auto forced = resnet20(1e-6, 10);
    forced.estimator = fault::Estimator::stratified;
    CHECK_THROWS_WITH(fault::plan_design(forced), Catch::Contains("needs at least 20 rounds"));
}

TEST_CASE("design: small budgets merge strata instead of piloting them with 2 rounds", "[fault][design]") {
    // BER 1e-6: K_c ~ Poisson(0.27), five count strata (0..3, >3); 20 rounds pilot only two.
    const auto d = fault::plan_design(resnet20(1e-6, 20));
    REQUIRE(d.stratified());
    REQUIRE(d.strata().size() == 2);
    CHECK(d.strata()[1].is_tail());
    CHECK(d.strata()[1].weight == Approx(1 - std::exp(-0.268336)).epsilon(1e-4));
    CHECK_THAT(d.why(), Catch::Contains("strata merged to 2"));
    std::vector<fault::RoundResult> none;
    for (const auto& it : d.next_batch(none)) CHECK(it.round < fault::min_stratum_rounds);
    CHECK(d.next_batch(none).size() == 2 * fault::min_stratum_rounds);
    // 100 rounds: every count stratum, no note.
    const auto full = fault::plan_design(resnet20(1e-6, 100));
    CHECK(full.strata().size() == 5);
    CHECK(full.why().empty());
    // 240: the sign split (every sub-stratum piloted with 10 rounds).
    CHECK(fault::plan_design(resnet20(1e-6, 240)).strata().split_by_sign());
}

TEST_CASE("design: plain where nothing can be stratified, with the reason", "[fault][design]") {
    auto q = resnet20(1e-6, 100);
    q.exact_count = true;
    q.eligible_bits = 8'600'000;
    CHECK_THAT(fault::plan_design(q).why(), Catch::Contains("0 flips"));
    q = resnet20(0, 100);
    CHECK_THAT(fault::plan_design(q).why(), Catch::Contains("BER 0"));
    q = resnet20(1e-4, 1000);  // K_c ~ Poisson(27): 12 strata leave most of the law in the tail
    CHECK_FALSE(fault::plan_design(q).stratified());
    CHECK_THAT(fault::plan_design(q).why(), Catch::Contains("in the tail"));
    q.estimator = fault::Estimator::plain;
    CHECK(fault::plan_design(q).why().empty());
}

TEST_CASE("guarded variance: a stratum whose rounds all agree still counts, and less as it grows", "[fault][design][statistics]") {
    const std::vector<double> ten(10, 92.0), hundred(100, 92.0);
    // One pseudo-round at 0: mean 92 * 10 / 11, sum of squares 10 (92 / 11)^2 + (920 / 11)^2, over 10.
    const double m = 920.0 / 11;
    CHECK(fault::guarded_variance(ten, 92, 1) == Approx((10 * (92 - m) * (92 - m) + m * m) / 10).epsilon(1e-12));
    CHECK(fault::guarded_variance(ten, 92, 0) == 0);
    CHECK(fault::guarded_variance(hundred, 92, 1) < fault::guarded_variance(ten, 92, 1) / 9);
    // The far end is 100 for a mean below 50.
    const std::vector<double> low(10, 10.0);
    CHECK(fault::guarded_variance(low, 10, 1) == Approx(fault::guarded_variance(std::vector<double>(10, 90.0), 90, 1)));
}

TEST_CASE("stratified interval: a light stratum that showed no failure still widens it", "[fault][design][estimator]") {
    // Two strata: 0 (weight 0.98) with clean rounds around 92, and a light stratum (0.02) whose
    // rounds all scored 92 although it may hide a catastrophic mode. With the plain sample
    // variance the light stratum added nothing and the interval was the heavy stratum's alone.
    fault::CriticalStrata strata = fault::CriticalStrata::plan(100000, 2e-7, 0.5, 2);
    REQUIRE(strata.size() == 2);
    const double w1 = strata[1].weight;
    const fault::EstimatorDesign d({.rounds = 20}, strata);
    std::vector<fault::RoundResult> done;
    fault::run_design(d, [](const fault::WorkItem& it) { return round_of(it.stratum, it.round, it.stratum == 0 ? 92 + 0.01 * (it.round % 3) : 92); }, done);
    const auto e = d.finish(done, 92.02, 10);
    REQUIRE(e.rounds == 20);
    const std::size_t n1 = e.strata[1].rounds;
    REQUIRE(n1 >= fault::min_stratum_rounds);
    CHECK(std::string(fault::interval_kind_name(e.top1.ci_method)) == "stratified-guarded-t");
    // The light stratum alone: t_{n1-1} w1 sqrt(g / n1), g its guarded variance.
    const double g1 = fault::guarded_variance(std::vector<double>(n1, 92.0), 92, fault::unseen_mode_weight);
    const double n = static_cast<double>(n1);
    CHECK(e.top1.ci_halfwidth() >= fault::student_t_quantile(n - 1, 0.95) * w1 * std::sqrt(g1 / n) * 0.999);
    CHECK(e.top1.ci_halfwidth() > 0.3);  // the heavy stratum's spread alone: about 0.01
}

TEST_CASE("adaptive plain P(fail): the time-uniform betting interval, valid at the stopping time", "[fault][design][estimator]") {
    // Clopper-Pearson assumes n fixed in advance; an adaptive run stops when the data say so.
    const fault::EstimatorDesign d({.rounds = 2000, .stopping = {.ci_halfwidth = 3, .min_rounds = 30, .rare_failure = 0.05}});
    std::vector<fault::RoundResult> done;
    fault::run_design(d, [](const fault::WorkItem& it) { return round_of(0, it.round, it.round % 7 == 3 ? 20 : 90 + 0.01 * (it.round % 5)); }, done);
    const auto e = d.finish(done, 90.02, 10);
    REQUIRE(e.stopped_adaptively);
    std::vector<double> fails;
    for (const auto& r : d.in_plan_order(done)) fails.push_back(r.eval.accuracy() < 90.02 - 10 ? 1.0 : 0.0);
    const auto expected = fault::betting_interval(fails, 0.95, true);
    CHECK(e.fail_ci.low == expected.low);
    CHECK(e.fail_ci.high == expected.high);
    CHECK(e.fail_ci.high > fault::clopper_pearson(static_cast<std::uint64_t>(e.fail_prob * static_cast<double>(e.rounds) + 0.5), e.rounds, 0.95).high);
}

TEST_CASE("exact-count strata: hypergeometric weights, the tail's draws follow the conditional law", "[fault][design]") {
    // N = 50 bits, C = 10 critical, 8 faults: K_c ~ Hypergeometric(50, 10, 8).
    const auto s = fault::CriticalStrata::plan_exact(10, 50, 8, 1e-3, 3);
    REQUIRE(s.size() == 3);  // K_c = 0, 1 and the tail >= 2
    double total = 0;
    for (const auto& st : s.strata()) total += st.weight;
    CHECK(total == Approx(1).epsilon(1e-12));
    // C(10,0) C(40,8) / C(50,8) and C(10,1) C(40,7) / C(50,8), by hand: 76904685 / 536878650 and 10 x 18643560 / 536878650.
    CHECK(s[0].weight == Approx(76904685.0 / 536878650.0).epsilon(1e-9));
    CHECK(s[1].weight == Approx(186435600.0 / 536878650.0).epsilon(1e-9));
    CHECK(s[2].k_low == 2);
    CHECK(s[2].k_high == 8);
    std::vector<double> seen(9, 0);
    const int rounds = 40000;
    for (int r = 0; r < rounds; ++r) {
        const std::uint64_t k = s.draw_count(2, 5, static_cast<std::uint32_t>(r));
        REQUIRE(k >= 2);
        REQUIRE(k <= 8);
        ++seen[k];
    }
    for (std::uint64_t k = 2; k <= 8; ++k) {
        const double p = fault::hypergeometric_pmf(50, 10, 8, k) / s[2].weight;
        INFO("K_c = " << k << ": " << seen[k] / rounds << " drawn, " << p << " exact");
        CHECK(std::abs(seen[k] - rounds * p) <= 5 * std::sqrt(rounds * p * (1 - p)) + 1);
    }
    // The sign split at an exact count: given K_c = 1 the hit is negative with probability N_- / C.
    auto split = fault::CriticalStrata::plan_exact(10, 50, 8, 1e-3, 12);
    split.split_by_sign(4, 100);  // room for every sub-stratum (the split is all or nothing)
    REQUIRE(split.split_by_sign());
    double one = 0, one_negative = 0;
    for (const auto& st : split.strata())
        if (st.k_low == 1 && !st.is_tail()) one += st.weight, one_negative += st.negative == 1 ? st.weight : 0;
    CHECK(one == Approx(s[1].weight).epsilon(1e-12));
    CHECK(one_negative / one == Approx(0.4).epsilon(1e-12));
}

TEST_CASE("design at an exact count: stratified by critical count where the budget pilots it", "[fault][design]") {
    auto q = resnet20(0, 20);
    q.exact_count = true;
    q.count = 1;
    q.eligible_bits = 8'600'000;
    const auto d = fault::plan_design(q);
    REQUIRE(d.stratified());
    REQUIRE(d.strata().size() == 2);  // K_c = 0 and K_c = 1: the single fault misses or hits a critical bit
    CHECK(d.strata()[1].weight == Approx(268336.0 / 8'600'000).epsilon(1e-7));  // lgamma at N ~ 1e7: ~1e-8 relative
    CHECK(d.strata().exact_count() == std::optional<std::uint64_t>(1));
    q.estimate.rounds = 10;  // cannot pilot two strata: plain, with the reason
    CHECK_FALSE(fault::plan_design(q).stratified());
}
