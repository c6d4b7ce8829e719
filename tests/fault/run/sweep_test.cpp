#include <safnet/fault/report/report.hpp>
#include <safnet/fault/run/sweep.hpp>
#include <safnet/threads.hpp>

#include "support/sanitized.hpp"
#include "support/synthetic.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>

using namespace safnet;
namespace fs = std::filesystem;

namespace {

struct Study {
    nn::ResNet<float> net{{"resnet20", 1, 4, nn::Shortcut::A, Tanh{}}};
    train::PreparedSet test;
    std::vector<fault::SweepModel> models;
    explicit Study(std::size_t images = 40) {
        net.initialize(3);
        test = train::prepare(test::synthetic_dataset(images, 1, 8, 4, 9), {});
        models.push_back({"tiny", "tiny.safetensors", "tanh", &net, &test, nullptr});
    }
};

fs::path scratch(const std::string& name) {
    const auto dir = fs::temp_directory_path() / ("safnet_sweep_test_" + name);
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

std::string read(const fs::path& p) {
    std::ifstream in(p);
    return {std::istreambuf_iterator<char>(in), {}};
}

/// Runs a sweep into `dir` and returns its summary.csv + rounds.csv + strata.csv.
std::string run_into(Study& s, const fault::SweepSpec& spec, const fs::path& dir, bool resume) {
    auto configs = fault::plan_sweep(spec, s.models);
    fault::SweepState state(dir / "campaign-state.json", fault::sweep_identity(spec, s.models, "synthetic", s.test.size()));
    fault::run_sweep(configs, s.models, state, resume);
    return fault::summary_csv(configs, s.models) + fault::rounds_csv(configs, s.models) + fault::strata_csv(configs, s.models);
}

}  // namespace

TEST_CASE("plan_sweep: configurations per analysis, validated before any work", "[fault][sweep]") {
    Study s;
    fault::SweepSpec spec{.dtypes = {"fp32", "q2.5"}, .bers = {1e-5, 1e-4}, .protect = {"none", "clip"}, .per_bit = true, .rounds = 4};
    const auto configs = fault::plan_sweep(spec, s.models);
    // per dtype and rate: 2 protections + one per stored bit (32 for fp32, 8 for q2.5)
    CHECK(configs.size() == 2 * (2 + 32) + 2 * (2 + 8));
    spec.dtypes = {"fp16"};
    spec.bit_mask = 0x7F800000u;  // fp32's exponent: nothing of fp16's 16 bits
    spec.per_bit = false;
    CHECK_THROWS_WITH(fault::plan_sweep(spec, s.models), Catch::Contains("no stored bit is eligible") && Catch::Contains("fp16"));
    spec.dtypes = {"fp12"};
    CHECK_THROWS_WITH(fault::plan_sweep(spec, s.models), Catch::Contains("fp12"));
    fault::SweepSpec curve{.rounds = 3, .curve = fault::CurveSpec{.low = 1e-9, .high = 1e-6, .points = 4, .k_max = 5}};
    const auto counted = fault::plan_sweep(curve, s.models);
    CHECK(counted.size() == 1 + 6);  // the BER configuration and k = 0..5
    CHECK(counted[1].spec.rounds == 1);  // k = 0 has no faults: one round
    CHECK(counted[2].spec.rounds == 3);
}

TEST_CASE("sweep files: identical for any thread count and after a resume", "[fault][sweep]") {
    Study s(test::full_or_sanitized(40, 12));
    const fault::SweepSpec spec{.dtypes = {"fp32", "fp16"}, .bers = {2e-6}, .protect = {"none"}, .rounds = 16, .seed = 2,
                                .curve = fault::CurveSpec{.low = 1e-8, .high = 1e-6, .points = 3, .k_max = 2, .rounds = 2}};
    set_threads(1);
    const auto dir1 = scratch("one");
    const std::string one = run_into(s, spec, dir1, false);
    set_threads(3);
    const auto dir3 = scratch("three");
    const std::string three = run_into(s, spec, dir3, false);
    set_threads(2);
    CHECK(one == three);
    CHECK(one.find("stratified") != std::string::npos);
    // Keep only the first configuration in the state file: the rerun loads it and computes the rest.
    auto state = nlohmann::json::parse(read(dir1 / "campaign-state.json"));
    auto& done = state["done"];
    while (done.size() > 1) done.erase(std::prev(done.end()));
    io::write_file_atomic((dir1 / "campaign-state.json").string(), state.dump());
    CHECK(run_into(s, spec, dir1, true) == one);
    // A state saved by another design (an earlier version's allocation): the kept configuration
    // lacks a round this design plans and holds one it does not. The resume runs the missing
    // round only, drops the other, and saves what it used: the files are a fresh run's.
    state = nlohmann::json::parse(read(dir1 / "campaign-state.json"));
    auto& kept = state["done"].begin().value()["rounds"];
    REQUIRE(kept.size() == 16);
    auto extra = kept.back();
    extra[0] = 999;  // a round number no 16-round design reaches
    kept.erase(kept.size() - 1);
    kept.push_back(extra);
    io::write_file_atomic((dir1 / "campaign-state.json").string(), state.dump());
    CHECK(run_into(s, spec, dir1, true) == one);
    const auto rewritten = nlohmann::json::parse(read(dir1 / "campaign-state.json"));
    CHECK(rewritten["done"].begin().value()["rounds"].size() == 16);
    CHECK(rewritten["done"].begin().value()["rounds"].dump().find("999") == std::string::npos);
}

TEST_CASE("sweep state: resuming needs the same options; corrupt states are named", "[fault][sweep]") {
    Study s;
    fault::SweepSpec spec{.bers = {1e-4}, .rounds = 2};
    const auto dir = scratch("state");
    run_into(s, spec, dir, false);
    fault::SweepSpec other = spec;
    other.seed = 7;
    CHECK_THROWS_WITH(run_into(s, other, dir, true), Catch::Contains("'seed' was 1, now 7"));
    {  // the same path retrained: other weights, so the saved rounds are stale
        Study retrained;
        retrained.net.initialize(4);
        CHECK_THROWS_WITH(run_into(retrained, spec, dir, true), Catch::Contains("'models' was") && Catch::Contains("digest"));
    }
    const auto path = dir / "campaign-state.json";
    auto state = nlohmann::json::parse(read(path));
    auto& first = *state["done"].begin();
    first["rounds"][0][2][1] = 1000;  // top-1 above the image count
    io::write_file_atomic(path.string(), state.dump());
    CHECK_THROWS_WITH(run_into(s, spec, dir, true), Catch::Contains("inconsistent"));
    first["rounds"][0][2][1] = 1e300;
    io::write_file_atomic(path.string(), state.dump());
    CHECK_THROWS_WITH(run_into(s, spec, dir, true), Catch::Contains("not a whole number"));
    io::write_file_atomic(path.string(), "{\"identity\": ");
    CHECK_THROWS_WITH(run_into(s, spec, dir, true), Catch::Contains("corrupt campaign state") && Catch::Contains(path.string()));
}

TEST_CASE("BER curve: exact mixture of per-count means, tail bounded", "[fault][sweep]") {
    // m_k = 90 - 10 k in 10 identical rounds each: the curve is exactly sum_k P(K = k) m_k plus the
    // tail; the band's lower side is the guard's alone (k >= 1: one pseudo-round at 0 beside the
    // 10 rounds; k = 0, the clean network, none), its upper side the one-image floor (sd 0.1 here,
    // 1000 images), both with t at df 9.
    std::vector<std::vector<double>> acc;
    for (int k = 0; k <= 4; ++k) acc.push_back(std::vector<double>(10, 90.0 - 10 * k));
    const std::uint64_t n = 1000;
    const auto points = fault::ber_curve(acc, n, {1e-5, 1e-3, 1e-2}, 0.95, 0.1);
    for (const auto& p : points) {
        double expect = 0, var = 0, var_high = 0;
        for (int k = 0; k <= 4; ++k) {
            const double w = fault::binomial_pmf(n, k, p.rate), m = 90 - 10 * k, mk = 10 * m / 11;
            expect += w * m;
            if (k > 0) var += w * w * (10 * (m - mk) * (m - mk) + mk * mk) / 10 / 10;  // the guarded variance over n_k = 10
            if (k > 0) var_high += w * w * 0.1 * 0.1 / 10;
        }
        const double t = fault::student_t_quantile(9, 0.95), half = t * std::sqrt(var), half_high = t * std::sqrt(var_high);
        CHECK(p.tail == Approx(fault::binomial_sf(n, 4, p.rate)).epsilon(1e-9));
        if (p.tail <= fault::curve_tail_limit)
            CHECK(p.mean == Approx(expect + p.tail * 50).epsilon(1e-9));
        else
            CHECK(std::isnan(p.mean));  // the unmeasured tail would dominate: no point estimate
        CHECK(p.low == Approx(std::clamp(expect - half, 0.0, 100.0)).epsilon(1e-9));
        CHECK(p.high == Approx(std::clamp(expect + half_high + 100 * p.tail, 0.0, 100.0)).epsilon(1e-9));
    }
    CHECK(points[0].tail < 1e-11);  // lambda^5 / 5! = 8e-13
    CHECK(points[2].tail > 0.9);  // lambda = 10 >> K_max: the band says the curve knows nothing there
    const auto c = fault::parse_curve("1e-10:1e-5:31");
    CHECK(c.rates().size() == 31);
    CHECK(c.rates().front() == Approx(1e-10));
    CHECK(c.rates()[6] == Approx(1e-9));  // six points a decade
    CHECK(c.rates().back() == Approx(1e-5));
    CHECK_THROWS_WITH(fault::parse_curve("1e-5:1e-10:3"), Catch::Contains("LO <= HI"));
    CHECK_THROWS_WITH(fault::parse_curve("1e-10:1e-5"), Catch::Contains("LO:HI:N"));
    CHECK_THROWS_WITH(fault::parse_curve("1e-10:1e-5:2.5"), Catch::Contains("whole number"));
}

TEST_CASE("BER curve reach: the strata k <= K_max leave a tail of at most 1e-3 exactly up to curve_reach", "[fault][sweep]") {
    const std::uint64_t n = 8'600'000;  // a ResNet20's fp32 bits
    for (std::uint64_t k : {1, 20, 40, 1000}) {
        const double reach = fault::curve_reach(n, k);
        INFO("K_max " << k << ": reach " << reach);
        CHECK(fault::binomial_sf(n, k, reach) <= fault::curve_tail_limit);
        CHECK(fault::binomial_sf(n, k, reach * 1.001) > fault::curve_tail_limit);
        // The K_max curve_k_for names for that reach is this one (at a rate a hair below it, it could be one less).
        CHECK(fault::curve_k_for(n, reach) == k);
    }
    // 40 strata (the default's ceiling) reach 2.8e-6, not 1e-4; 1e-4
    // needs a K_max near n p + 3.1 sd = 860 + 91.
    CHECK(fault::curve_reach(n, 40) < 3e-6);
    const std::uint64_t needed = fault::curve_k_for(n, 1e-4);
    CHECK(needed > 900);
    CHECK(needed < 1000);
    CHECK(fault::binomial_sf(n, needed, 1e-4) <= fault::curve_tail_limit);
    CHECK(fault::binomial_sf(n, needed - 1, 1e-4) > fault::curve_tail_limit);
    CHECK(fault::curve_reach(10, 10) == 1.0);  // every bit counted: nothing is left in the tail
}

TEST_CASE("BER curve over stratified counts: each m_k is its strata's weighted mean", "[fault][sweep]") {
    // k = 1 in two strata (0.9 at 90, 0.1 at 10: m_1 = 82), k = 0 the clean 92: at a rate where
    // the tail is negligible the estimate is exactly P(K=0) 92 + P(K=1) 82 + P(K>1) ... m_K.
    const std::vector<std::vector<fault::CountStratum>> counts = {{{1.0, {92}}}, {{0.9, std::vector<double>(6, 90)}, {0.1, std::vector<double>(6, 10)}}};
    const std::uint64_t n = 1000;
    const double p = 1e-5;
    const auto pts = fault::ber_curve(counts, n, {p}, 0.95, 0.01);
    const double w0 = fault::binomial_pmf(n, 0, p), w1 = fault::binomial_pmf(n, 1, p), tail = fault::binomial_sf(n, 1, p);
    CHECK(pts[0].mean == Approx(w0 * 92 + w1 * 82 + tail * 82).epsilon(1e-12));
    CHECK(pts[0].low <= pts[0].mean);
    CHECK(pts[0].high >= pts[0].mean);
}
