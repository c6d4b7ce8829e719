#include <safnet/fault/run/campaign.hpp>
#include <safnet/fault/run/prefix_cache.hpp>
#include <safnet/nn/resnet.hpp>
#include <safnet/threads.hpp>

#include "support/sanitized.hpp"
#include "support/synthetic.hpp"

#include <catch2/catch.hpp>

#include <malloc.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <numeric>

using namespace safnet;

namespace {

std::vector<float> logits_of(nn::ResNet<float>& m, const nn::Tensor<float>& x, const nn::SegmentPass<float>& pass) {
    const auto& z = m.forward_segments(x, pass);
    return {z.data(), z.data() + z.size()};
}
std::vector<float> logits_of(nn::ResNet<float>& m, const nn::Tensor<float>& x) {
    const auto& z = m.forward(x, nn::Mode::eval);
    return {z.data(), z.data() + z.size()};
}

// Bitwise equality, except that any NaN equals any NaN (scores do not see a NaN's payload or sign).
bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::isnan(a[i]) ? !std::isnan(b[i]) : std::memcmp(&a[i], &b[i], sizeof(float)) != 0) return false;
    return true;
}

// The parameters of segment s (the model's own map), for damaging them.
std::vector<nn::Parameter<float>> segment_parameters(nn::ResNet<float>& m, std::size_t s) {
    std::vector<nn::Parameter<float>> ps;
    for (const auto& p : m.parameters())
        if (m.segment_of(p.value) == s && p.saf) ps.push_back(p);
    return ps;
}

// Every cut of every image of `x`, recorded by a clean segment pass.
std::vector<std::vector<float>> record_all(nn::ResNet<float>& m, const nn::Tensor<float>& x) {
    const auto elems = m.cut_elements(x.shape());
    std::vector<std::vector<float>> cuts(m.segment_count());
    std::vector<float*> record(m.segment_count(), nullptr);
    for (std::size_t c = 1; c < m.segment_count(); ++c) {
        cuts[c].assign(elems[c] * x.shape()[0], -1.0f);
        record[c] = cuts[c].data();
    }
    m.forward_segments(x, {.start = 0, .input = nullptr, .record = std::span<float* const>(record), .nan_exit = false});
    return cuts;
}

nn::Tensor<float> random_batch(nn::Shape s, unsigned seed) {
    nn::Tensor<float> x(s);
    std::uint32_t v = seed;
    for (std::size_t i = 0; i < x.size(); ++i) {
        v = v * 1664525u + 1013904223u;
        x[i] = static_cast<float>(v >> 8) / static_cast<float>(1u << 24) * 2.0f - 1.0f;
    }
    return x;
}

void check_segments_resume_exactly(nn::ResNet<float>& m, const nn::Tensor<float>& x) {
    const auto clean = logits_of(m, x);
    const auto cuts = record_all(m, x);
    REQUIRE(same_bits(logits_of(m, x, {}), clean));
    for (std::size_t start = 1; start < m.segment_count(); ++start) {
        INFO("start segment " << start);
        CHECK(same_bits(logits_of(m, x, {.start = start, .input = cuts[start].data()}), clean));
        // Damage a weight of segment `start`: resuming at its cut equals the full pass, and
        // resuming one cut later (skipping the damaged segment) does not.
        const auto ps = segment_parameters(m, start);
        if (ps.empty()) continue;
        auto& w = *ps.front().value;
        const std::vector<float> saved(w.data(), w.data() + w.size());
        for (std::size_t i = 0; i < w.size(); ++i) w[i] += 0.25f;
        ps.front().saf->refresh();
        const auto damaged = logits_of(m, x);
        CHECK_FALSE(same_bits(damaged, clean));
        CHECK(same_bits(logits_of(m, x, {.start = start, .input = cuts[start].data()}), damaged));
        if (start + 1 < m.segment_count()) CHECK_FALSE(same_bits(logits_of(m, x, {.start = start + 1, .input = cuts[start + 1].data()}), damaged));
        std::copy(saved.begin(), saved.end(), w.data());
        ps.front().saf->refresh();
    }
}

}  // namespace

TEST_CASE("resnet segments: a pass resumed at any cut gives the full pass's logits bit for bit", "[fault][prefix_cache]") {
    for (std::size_t threads : {1u, 3u}) {
        set_threads(threads);
        nn::ResNet<float> cifar({"resnet20", 3, 10, nn::Shortcut::A, Tanh{}});
        cifar.initialize(5);
        check_segments_resume_exactly(cifar, random_batch(nn::Shape{7, 3, 12, 12}, 1));
        nn::ResNet<float> imagenet({"resnet18", 3, 6, nn::Shortcut::B, Identity{}});
        imagenet.initialize(6);
        check_segments_resume_exactly(imagenet, random_batch(nn::Shape{3, 3, 32, 32}, 2));
    }
    set_threads(1);
}

TEST_CASE("resnet segments: cut sizes, costs and the parameter map", "[fault][prefix_cache]") {
    nn::ResNet<float> m({"resnet20", 3, 10, nn::Shortcut::A, Identity{}});
    REQUIRE(m.segment_count() == 11);
    const auto e = m.cut_elements(nn::Shape{1, 3, 32, 32});
    CHECK(e == std::vector<std::size_t>{3 * 1024, 16 * 1024, 16 * 1024, 16 * 1024, 16 * 1024, 32 * 256, 32 * 256, 32 * 256, 64 * 64, 64 * 64, 64});
    const auto c = m.segment_costs(nn::Shape{1, 3, 32, 32});
    CHECK(c[0] == 16.0 * 27 * 1024);
    CHECK(c[1] == 2 * 16.0 * 144 * 1024);
    CHECK(c[4] == (32.0 * 144 + 32.0 * 288) * 256);  // stride 2 into stage 2 (option A: no projection conv)
    CHECK(c[10] == 64.0 * (64 + 10));
    CHECK(m.segment_of(m.parameters().front().value) == 0);
    CHECK(m.segment_of(m.parameters().back().value) == 10);
    for (const auto& p : m.parameters())
        if (p.name.rfind("layer3.1.", 0) == 0) CHECK(m.segment_of(p.value) == 8);
    nn::Tensor<float> stranger(nn::Shape{2});
    CHECK_THROWS_WITH(m.segment_of(&stranger), Catch::Contains("not a parameter"));
    CHECK_THROWS_WITH(m.forward_segments(nn::Tensor<float>(nn::Shape{1, 3, 8, 8}), {.start = 11}), Catch::Contains("does not exist"));
    CHECK_THROWS_WITH(m.forward_segments(nn::Tensor<float>(nn::Shape{1, 3, 8, 8}), {.start = 3}), Catch::Contains("needs its input cut"));
}

TEST_CASE("resnet segments: the NaN exit gives the logits of the full pass", "[fault][prefix_cache]") {
    nn::ResNet<float> m({"resnet20", 3, 10, nn::Shortcut::A, Identity{}});
    m.initialize(7);
    const auto x = random_batch(nn::Shape{6, 3, 12, 12}, 3);
    REQUIRE(m.nan_reaches_logits());
    // A NaN or an infinite weight in each segment in turn: full pass == early-exit pass.
    for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(), 1e30f}) {
        for (std::size_t s = 0; s < m.segment_count(); ++s) {
            INFO("segment " << s << ", value " << bad);
            const auto ps = segment_parameters(m, s);
            if (ps.empty()) continue;
            auto& w = *ps.back().value;
            const float saved = w[w.size() / 2];
            w[w.size() / 2] = bad;
            ps.back().saf->refresh();
            const auto full = logits_of(m, x);
            CHECK(same_bits(logits_of(m, x, {.nan_exit = true}), full));
            if (std::isnan(bad) && s + 1 < m.segment_count()) {  // the claim the exit rests on: every logit NaN
                CHECK(std::all_of(full.begin(), full.end(), [](float v) { return std::isnan(v); }));
            }
            w[w.size() / 2] = saved;
            ps.back().saf->refresh();
        }
    }
    // Clip-Act's limit turns NaN into 0: the exit is no longer exact, and the model says so.
    m.for_each_relu_batchnorm([](auto& bn) { bn.set_activation_limit(2.0f); });
    CHECK_FALSE(m.nan_reaches_logits());
}

TEST_CASE("choose_cuts: greedy by expected saving per byte within the budget", "[fault][prefix_cache]") {
    const std::vector<double> cost{1, 1, 1, 1};
    const std::vector<std::size_t> bytes{0, 100, 10, 1};
    const std::vector<double> late{0, 0, 0.5, 0.5};  // damage only in segments 2 and 3
    CHECK(fault::choose_cuts(cost, bytes, late, 1000) == std::vector<std::size_t>{2, 3});  // cut 1 saves nothing then
    CHECK(fault::choose_cuts(cost, bytes, late, 10) == std::vector<std::size_t>{3});       // 0.5*3 per 1 byte beats 1.0*2 per 10
    CHECK(fault::choose_cuts(cost, bytes, late, 11) == std::vector<std::size_t>{2, 3});
    CHECK(fault::choose_cuts(cost, bytes, late, 0).empty());
    const std::vector<double> uniform{0.25, 0.25, 0.25, 0.25};
    CHECK(fault::choose_cuts(cost, bytes, uniform, 1000) == std::vector<std::size_t>{1, 2, 3});
    CHECK_THROWS(fault::choose_cuts(cost, bytes, std::vector<double>{1.0}, 10));

    const std::vector<std::uint64_t> bits{10, 30, 60};
    const auto one = fault::first_damage_distribution(bits, 1);
    CHECK(one[0] == Approx(0.1));
    CHECK(one[1] == Approx(0.3));
    CHECK(one[2] == Approx(0.6));
    const auto many = fault::first_damage_distribution(bits, 5);
    CHECK(std::accumulate(many.begin(), many.end(), 0.0) == Approx(1.0));
    CHECK(many[0] == Approx(1 - std::pow(0.9, 5)));
    CHECK(many[2] == Approx(std::pow(0.6, 5)));
}

namespace {

struct CampaignCase {
    std::string codec;
    fault::FaultModel fault;
    fault::Protection protection = fault::Protection::none;
    std::vector<std::string> layers{};
};

// Every round's scores with the prefix cache (default budget, and a budget that holds one
// cut only) equal those of full evaluation.
void check_cached_rounds_equal_full(nn::ResNet<float>& m, const train::PreparedSet& test, const CampaignCase& c, bool& saw_nan, bool& saw_late_start) {
    INFO("codec " << c.codec << ", rate " << c.fault.rate << ", count " << c.fault.count.value_or(0) << ", kind " << fault::fault_kind_name(c.fault.kind)
                  << ", mask " << fault::hex_mask(c.fault.bit_mask) << ", protection " << fault::protection_name(c.protection) << ", layers "
                  << (c.layers.empty() ? "*" : c.layers.front()));
    fault::CampaignSpec spec{.codec = codec_from_name(c.codec), .fault = c.fault, .rounds = 6, .seed = 11, .protection = c.protection,
                             .estimator = fault::Estimator::plain, .eval_batch = test.size() / 2};
    spec.selection.patterns = c.layers;
    spec.cache_bytes = 0;
    const auto full = fault::run_campaign(m, test, spec);
    CHECK_FALSE(full.cache.on);
    for (std::size_t budget : {std::size_t{1} << 30, std::size_t{40000}}) {
        spec.cache_bytes = budget;
        const auto cached = fault::run_campaign(m, test, spec);
        CHECK(cached.cache.on);
        CHECK(cached.cache.bytes <= budget);
        CHECK(cached.cache.nan_exit == (c.protection != fault::Protection::clip_activations));
        REQUIRE(cached.rounds.size() == full.rounds.size());
        CHECK(cached.clean.top1 == full.clean.top1);
        for (std::size_t i = 0; i < full.rounds.size(); ++i) {
            const auto& a = cached.rounds[i].eval;
            const auto& b = full.rounds[i].eval;
            INFO("round " << i << ", budget " << budget);
            CHECK(a.top1 == b.top1);
            CHECK(a.top5 == b.top5);
            CHECK(a.nan_images == b.nan_images);
            CHECK(a.inf_images == b.inf_images);
            CHECK(cached.rounds[i].flips == full.rounds[i].flips);
            saw_nan |= b.nan_images > 0;
        }
        saw_late_start |= cached.cache.computed_fraction < 0.5;
    }
}

}  // namespace

TEST_CASE("prefix cache: every round's top-1, top-5, NaN and Inf counts equal full evaluation", "[fault][prefix_cache]") {
    // Two evaluation batches per pass, so the cache's per-batch cuts are exercised.
    const train::PreparedSet test = train::prepare(test::synthetic_dataset(test::full_or_sanitized(48, 16), 1, 8, 4, 9), {});
    const std::vector<CampaignCase> cases = {
        {"fp32", fault::FaultModel::bit_flip(1e-5)},
        {"fp32", fault::FaultModel::bit_flip(3e-4)},
        {"fp32", fault::FaultModel::bit_flip(1e-3), fault::Protection::clip_weights},
        {"fp32", fault::FaultModel::bit_flip(1e-3), fault::Protection::clip_activations},
        {"fp16", fault::FaultModel::bit_flip(1e-4)},
        {"fp16", fault::FaultModel::stuck_at(true, 1e-4)},
        {"q2.5", fault::FaultModel::bit_flip(1e-4)},
        {"q2.5", fault::FaultModel::bit_flip(1e-4), fault::Protection::clip_activations},
        {"fp32", fault::FaultModel::exact_flips(1)},
        {"fp32", fault::FaultModel::exact_flips(2)},
        {"fp16", fault::FaultModel::exact_flips(3)},
        {"q2.5", fault::FaultModel::exact_flips(4)},
        {"fp32", fault::FaultModel::exact_flips(5)},
        {"fp32", fault::FaultModel::exact_flips(1).with_mask(0x40000000)},  // per-bit: the exponent MSB
        {"fp32", fault::FaultModel::bit_flip(1e-3), fault::Protection::none, {"layer3.1.conv2.weight"}},  // per-layer
        {"fp16", fault::FaultModel::exact_flips(2), fault::Protection::none, {"layer2.*"}},
        {"fp32", fault::FaultModel::bit_flip(1e-3), fault::Protection::none, {"fc.weight"}},
    };
    bool saw_nan = false, saw_late_start = false;
    // Every case with 2 threads; the exact-count cases also with 1 and 3 (the sanitized run
    // keeps 3, an uneven split of the images, and drops the single-thread path).
    for (std::size_t threads : {1u, 2u, 3u}) {
        if (test::sanitized && threads == 1) continue;
        set_threads(threads);
        for (AnySaf saf : {AnySaf(Identity{}), AnySaf(Tanh{})}) {
            nn::ResNet<float> m({"resnet20", 1, 4, nn::Shortcut::A, saf});
            m.initialize(3);
            for (const auto& c : cases)
                if (threads == 2 || c.fault.count) check_cached_rounds_equal_full(m, test, c, saw_nan, saw_late_start);
        }
    }
    set_threads(1);
    CHECK(saw_nan);         // the NaN exit was exercised
    CHECK(saw_late_start);  // and rounds that skip most of the network
}

TEST_CASE("prefix cache: a stratified campaign's rounds equal full evaluation", "[fault][prefix_cache]") {
    const train::PreparedSet test = train::prepare(test::synthetic_dataset(32, 1, 8, 4, 9), {});
    nn::ResNet<float> m({"resnet20", 1, 4, nn::Shortcut::A, Identity{}});
    m.initialize(4);
    fault::CampaignSpec spec{.codec = Float32{}, .fault = fault::FaultModel::bit_flip(2e-7), .rounds = 40, .seed = 5,
                             .estimator = fault::Estimator::stratified, .eval_batch = 16};
    spec.cache_bytes = 0;
    const auto full = fault::run_campaign(m, test, spec);
    spec.cache_bytes.reset();
    const auto cached = fault::run_campaign(m, test, spec);
    REQUIRE(cached.rounds.size() == full.rounds.size());
    for (std::size_t i = 0; i < full.rounds.size(); ++i) {
        CHECK(cached.rounds[i].eval.top1 == full.rounds[i].eval.top1);
        CHECK(cached.rounds[i].eval.nan_images == full.rounds[i].eval.nan_images);
    }
    CHECK(cached.top1().mean == full.top1().mean);
    CHECK(cached.cache.computed_fraction < 0.7);
}

namespace {
#if defined(__SANITIZE_ADDRESS__)
constexpr bool plain_allocator = false;  // ASan's allocator (quarantine, shadow memory) decides residency itself
#else
constexpr bool plain_allocator = true;
#endif
std::size_t resident_bytes() {
    ::malloc_trim(0);  // free heap pages of earlier tests would hide a new allocation's pages
    std::ifstream in("/proc/self/status");
    std::string key;
    while (in >> key) {
        if (key == "VmRSS:") {
            std::size_t kib = 0;
            in >> kib;
            return kib * 1024;
        }
        in.ignore(1 << 20, '\n');
    }
    return 0;
}
}  // namespace

TEST_CASE("prefix cache: the cuts fit the budget, in resident memory too; no room means full evaluation", "[fault][prefix_cache]") {
    const train::PreparedSet test = train::prepare(test::synthetic_dataset(400, 1, 16, 4, 2), {});
    nn::ResNet<float> m({"resnet20", 1, 4, nn::Shortcut::A, Identity{}});
    m.initialize(2);
    nn::Tensor<float> x;
    train::evaluate(m, test, 100, x);  // the model's own workspaces first
    const std::vector<double> first_damage = [&] {
        std::vector<std::uint64_t> bits(m.segment_count(), 0);
        for (const auto& p : m.parameters()) bits[m.segment_of(p.value)] += p.value->size();
        return fault::first_damage_distribution(bits, 1);
    }();
    std::size_t all_cuts = 0;
    {
        const std::size_t before = resident_bytes();
        fault::PrefixCache cache(m, test, std::size_t{1} << 32, first_damage);
        cache.build(100, x);
        all_cuts = cache.bytes();
        CHECK(cache.cuts().size() == m.segment_count() - 1);
        if (plain_allocator) CHECK(resident_bytes() - before >= all_cuts * 9 / 10);  // the measurement sees the cache
    }
    REQUIRE(all_cuts > 30'000'000);
    const std::size_t budget = 8'000'000;
    {
        const std::size_t before = resident_bytes();
        fault::PrefixCache cache(m, test, budget, first_damage);
        const auto clean = cache.build(100, x);
        CHECK(cache.bytes() <= budget);
        CHECK(cache.bytes() > budget / 2);
        if (plain_allocator) CHECK(resident_bytes() - std::min(before, resident_bytes()) <= budget + 2'000'000);
        CHECK(cache.note().empty());
        CHECK(cache.evaluate(m.segment_count(), 100, x).top1 == clean.top1);  // no damage: the clean result
    }
    fault::PrefixCache tiny(m, test, 1000, first_damage);
    CHECK(tiny.cuts().empty());
    CHECK_THAT(tiny.note(), Catch::Contains("holds no cut"));
    // Memory enough, but every round damages the first segment: the note says so, not "budget".
    std::vector<double> always_first(first_damage.size(), 0.0);
    always_first[0] = 1.0;
    fault::PrefixCache useless(m, test, std::size_t{1} << 32, always_first);
    CHECK(useless.cuts().empty());
    CHECK_THAT(useless.note(), Catch::Contains("no cut pays off") && Catch::Contains("probability 1,"));
    const auto clean = tiny.build(100, x);
    CHECK(tiny.evaluate(5, 100, x).top1 == clean.top1);
    CHECK(tiny.computed_fraction() == 1.0);
    CHECK_THROWS_WITH(fault::PrefixCache(m, test, 1000, first_damage).evaluate(3, 100, x), Catch::Contains("before build"));
}
