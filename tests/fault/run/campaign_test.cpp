#include <safnet/fault/run/campaign.hpp>
#include <safnet/nn/resnet.hpp>
#include <safnet/threads.hpp>

#include "support/sanitized.hpp"
#include "support/synthetic.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

using namespace safnet;

namespace {

struct Fixture {
    nn::ResNet<float> model;
    train::PreparedSet test;
    explicit Fixture(AnySaf saf, std::size_t images = 64) : model({"resnet20", 1, 4, nn::Shortcut::A, saf}) {
        model.initialize(3);
        test = train::prepare(test::synthetic_dataset(images, 1, 8, 4, 9), {});
    }
};

std::vector<float> effective_weights(nn::ResNet<float>& m) {
    std::vector<float> v;
    m.for_each_parameter([&](const nn::Parameter<float>& p) {
        const auto& t = p.saf ? p.saf->effective() : *p.value;
        v.insert(v.end(), t.data(), t.data() + t.size());
    });
    return v;
}

std::vector<float> raw_values(nn::ResNet<float>& m) {
    std::vector<float> v;
    m.for_each_parameter([&](const nn::Parameter<float>& p) { v.insert(v.end(), p.value->data(), p.value->data() + p.value->size()); });
    return v;
}

bool same_eval(const train::EvalResult& a, const train::EvalResult& b) {
    return a.images == b.images && a.top1 == b.top1 && a.top5 == b.top5 && a.nan_images == b.nan_images && a.inf_images == b.inf_images;
}

}  // namespace

TEST_CASE("stored weights: inject + restore returns the exact clean state; destruction the original", "[fault][campaign]") {
    Fixture f(Tanh{});
    const auto original_raw = raw_values(f.model), original_eff = effective_weights(f.model);
    {
        fault::StoredWeights store(f.model, Float16{}, fault::Selection{}, fault::Protection::none);
        const auto stored_eff = effective_weights(f.model);
        CHECK(stored_eff != original_eff);  // fp16 rounding of the raw weights
        for (std::uint32_t r = 0; r < 5; ++r) {
            CHECK(store.inject(fault::FaultModel::bit_flip(1e-3), {7, r, 0}) > 0);
            CHECK(effective_weights(f.model) != stored_eff);
            // A second inject before restore would lose the first one's record.
            CHECK_THROWS_WITH(store.inject(fault::FaultModel::bit_flip(1e-3), {8, r, 0}), Catch::Contains("restore() first"));
            store.restore();
            CHECK(effective_weights(f.model) == stored_eff);
        }
    }
    CHECK(raw_values(f.model) == original_raw);
    CHECK(effective_weights(f.model) == original_eff);
}

TEST_CASE("a campaign round equals decoding every word and recomputing every tau", "[fault][campaign]") {
    for (const std::string codec_name : {"fp32", "fp16", "q2.5"}) {
        Fixture f(Softsign{});
        fault::CampaignSpec spec{.codec = codec_from_name(codec_name), .fault = fault::FaultModel::bit_flip(2e-4), .rounds = 4, .seed = 11};
        const auto result = fault::run_campaign(f.model, f.test, spec);
        REQUIRE(result.rounds.size() == 4);
        // Reference: the naive O(n) path, round by round.
        std::visit([&](const auto& codec) {
            using Word = typename std::remove_cvref_t<decltype(codec)>::word_type;
            std::vector<nn::Parameter<float>> targets;
            f.model.for_each_parameter([&](const nn::Parameter<float>& p) {
                if (p.saf) targets.push_back(p);
            });
            std::vector<float> clean;
            for (const auto& t : targets) clean.insert(clean.end(), t.value->data(), t.value->data() + t.value->size());
            for (const auto& rr : result.rounds) {
                std::vector<Word> words(clean.size());
                codec.encode(std::span<const float>(clean), std::span<Word>(words));
                const auto flips = fault::inject(std::span<Word>(words), codec.bits_per_value(), spec.fault,
                                                 {spec.seed, static_cast<std::uint32_t>(rr.round), 0});
                CHECK(flips.size() == rr.flips);
                std::vector<float> values(words.size());
                codec.decode(std::span<const Word>(words), std::span<float>(values));
                std::size_t at = 0;
                for (const auto& t : targets) {
                    std::copy(values.begin() + static_cast<long>(at), values.begin() + static_cast<long>(at + t.value->size()), t.value->data());
                    at += t.value->size();
                    t.saf->refresh();
                }
                INFO(codec_name << " round " << rr.round);
                CHECK(same_eval(train::evaluate(f.model, f.test, spec.eval_batch), rr.eval));
                for (std::size_t k = 0, a = 0; k < targets.size(); a += targets[k].value->size(), ++k)
                    std::copy(clean.begin() + static_cast<long>(a), clean.begin() + static_cast<long>(a + targets[k].value->size()), targets[k].value->data());
                f.model.refresh_weights();
            }
        }, spec.codec);
    }
}

TEST_CASE("campaign results are identical for any thread count and any order of rounds", "[fault][campaign]") {
    Fixture f(Tanh{}, test::full_or_sanitized(64, 20));
    fault::CampaignSpec spec{.codec = Float32{}, .fault = fault::FaultModel::bit_flip(1e-4), .rounds = 6, .seed = 5};
    set_threads(2);
    const auto two = fault::run_campaign(f.model, f.test, spec);
    set_threads(1);
    const auto one = fault::run_campaign(f.model, f.test, spec);
    set_threads(3);
    auto late = spec, early = spec;
    late.first_round = 3;
    late.rounds = 3;
    early.rounds = 3;
    const auto second_half = fault::run_campaign(f.model, f.test, late);
    const auto first_half = fault::run_campaign(f.model, f.test, early);
    set_threads(2);
    for (std::size_t r = 0; r < 6; ++r) {
        CHECK(same_eval(two.rounds[r].eval, one.rounds[r].eval));
        CHECK(two.rounds[r].flips == one.rounds[r].flips);
        const auto& other = r < 3 ? first_half.rounds[r] : second_half.rounds[r - 3];
        CHECK(other.round == r);
        CHECK(same_eval(two.rounds[r].eval, other.eval));
    }
    CHECK(two.estimate.top1.mean == one.estimate.top1.mean);
}

TEST_CASE("NaN weights: a SAF maps them to 0, the baseline's NaN logits are counted as misses", "[fault][campaign]") {
    // Stuck-at-1 on every fp32 exponent bit turns every weight into NaN or Inf.
    const auto all_exponents = fault::FaultModel::stuck_at(true, 1.0).with_mask(0x7F800000u);
    Fixture plain(Identity{});
    const auto broken = fault::run_campaign(plain.model, plain.test, {.fault = all_exponents, .rounds = 1});
    CHECK(broken.rounds[0].eval.nan_images == 64);
    CHECK(broken.rounds[0].eval.top1 == 0);
    CHECK(broken.rounds_with_nan == 1);
    Fixture safe(Tanh{});
    const auto bounded = fault::run_campaign(safe.model, safe.test, {.fault = all_exponents, .rounds = 1});
    CHECK(bounded.nan_images == 0);
    CHECK(bounded.inf_images == 0);
    // Hard clipping at read also removes the NaNs.
    const auto clipped = fault::run_campaign(plain.model, plain.test, {.fault = all_exponents, .rounds = 1, .protection = fault::Protection::clip_weights});
    CHECK(clipped.nan_images == 0);
}

TEST_CASE("selection by kind and name pattern; bad specs are rejected", "[fault][campaign]") {
    Fixture f(Tanh{});
    fault::Selection layer3{.patterns = {"layer3.*"}};
    fault::StoredWeights s3(f.model, Float32{}, layer3, fault::Protection::none);
    CHECK(s3.tensors() == 6);  // 3 blocks x 2 convs
    for (const auto& t : s3.targets()) CHECK(t.name.rfind("layer3.", 0) == 0);
    fault::StoredWeights all(f.model, Float32{}, fault::Selection{.weights = true, .biases = true, .batchnorm = true, .patterns = {}}, fault::Protection::none);
    CHECK(all.values() == f.model.parameter_count());
    fault::StoredWeights bn(f.model, Float32{}, fault::Selection{.weights = false, .biases = false, .batchnorm = true, .patterns = {}}, fault::Protection::none);
    CHECK(bn.tensors() == 2 * 19);  // weight + bias of 19 BN layers
    CHECK(bn.stored_bits(0xFFu) == 8 * bn.values());
    CHECK_THROWS_WITH(fault::StoredWeights(f.model, Float32{}, fault::Selection{.patterns = {"nope*"}}, fault::Protection::none),
                      Catch::Contains("no parameter matches"));
    CHECK_THROWS_WITH(fault::run_campaign(f.model, f.test, {.fault = fault::FaultModel::bit_flip(std::nan(""))}), Catch::Contains("nan"));
    CHECK_THROWS_WITH(fault::run_campaign(f.model, f.test, {.fault = fault::FaultModel::bit_flip(1.5)}), Catch::Contains("[0, 1]"));
    CHECK_THROWS_WITH(fault::run_campaign(f.model, f.test, {.rounds = 0}), Catch::Contains("rounds"));
}

TEST_CASE("adaptive stopping: stops once narrow, never before its floor, and says so", "[fault][campaign]") {
    Fixture f(Tanh{});
    fault::CampaignSpec spec{.fault = fault::FaultModel::bit_flip(1e-6), .rounds = 400, .estimator = fault::Estimator::plain,
                             .stopping = {.ci_halfwidth = 5, .min_rounds = 4, .rare_failure = 0.1}};
    const auto r = fault::run_campaign(f.model, f.test, spec);
    // ~9 flips per round into tanh-bounded weights barely move the accuracy: the floor decides.
    CHECK(r.rounds.size() >= fault::rare_event_rounds(0.1, 0.95));  // 29
    CHECK(r.rounds.size() < 400);
    CHECK(r.estimate.stopped_adaptively);
    CHECK(r.estimate.top1.ci_halfwidth() < 5);
    CHECK(std::string(fault::interval_kind_name(r.estimate.top1.ci_method)) == "betting-time-uniform");
}

TEST_CASE("stratified campaigns: the critical class is the fp32 exponent MSB; same results for any thread count", "[fault][campaign]") {
    Fixture f(Identity{}, test::full_or_sanitized(64, 20));
    fault::CampaignSpec spec{.fault = fault::FaultModel::bit_flip(2e-5), .rounds = 24, .seed = 3, .estimator = fault::Estimator::stratified};
    set_threads(1);
    const auto one = fault::run_campaign(f.model, f.test, spec);
    set_threads(3);
    const auto three = fault::run_campaign(f.model, f.test, spec);
    set_threads(2);
    CHECK(one.critical_mask == 0x40000000u);
    CHECK(one.critical_bits == one.values);
    REQUIRE(one.rounds.size() == 24);
    REQUIRE(three.rounds.size() == 24);
    for (std::size_t i = 0; i < 24; ++i) {
        CHECK(one.rounds[i].stratum == three.rounds[i].stratum);
        CHECK(one.rounds[i].critical == three.rounds[i].critical);
        CHECK(one.rounds[i].flips == three.rounds[i].flips);
        CHECK(same_eval(one.rounds[i].eval, three.rounds[i].eval));
    }
    CHECK(one.estimate.top1.mean == three.estimate.top1.mean);
    CHECK(one.estimate.estimator == fault::Estimator::stratified);
    // Resuming from any prefix of the rounds gives the same estimate.
    std::vector<fault::RoundResult> prefix(one.rounds.begin(), one.rounds.begin() + 9);
    const auto resumed = fault::run_campaign(f.model, f.test, spec, {}, prefix);
    CHECK(resumed.estimate.top1.mean == one.estimate.top1.mean);
    CHECK(resumed.estimate.fail_ci.high == one.estimate.fail_ci.high);
    // Complete rounds with their clean pass: rebuilt without evaluating (the clean given is
    // taken as is, and no cache is built); incomplete ones ignore it and evaluate.
    const auto reopened = fault::run_campaign(f.model, f.test, spec, {}, one.rounds, {}, one.clean);
    CHECK(reopened.estimate.top1.mean == one.estimate.top1.mean);
    CHECK(reopened.estimate.fail_ci.high == one.estimate.fail_ci.high);
    CHECK(reopened.rounds.size() == one.rounds.size());
    train::EvalResult marked = one.clean;
    marked.top5 = marked.top1 = 1;
    const auto trusted = fault::run_campaign(f.model, f.test, spec, {}, one.rounds, {}, marked);
    CHECK(same_eval(trusted.clean, marked));
    CHECK_FALSE(trusted.cache.on);
    const auto partial = fault::run_campaign(f.model, f.test, spec, {}, prefix, {}, marked);
    CHECK(same_eval(partial.clean, one.clean));
    CHECK(partial.estimate.top1.mean == one.estimate.top1.mean);
    // A tanh model's critical class is the same bit: its flips are bounded but still the largest change.
    Fixture t(Tanh{});
    const auto bounded = fault::run_campaign(t.model, t.test, spec);
    CHECK(bounded.critical_mask == 0x40000000u);
}

TEST_CASE("empty fault spaces are refused, naming the codec and mask", "[fault][campaign]") {
    Fixture f(Tanh{});
    const fault::CampaignSpec fp16_exponent{.codec = Float16{}, .fault = fault::FaultModel::bit_flip(1e-3).with_mask(0x7F800000u)};
    CHECK_THROWS_WITH(fault::run_campaign(f.model, f.test, fp16_exponent), Catch::Contains("no stored bit is eligible") && Catch::Contains("fp16") &&
                                                                                 Catch::Contains("0x7f800000"));
    const fault::CampaignSpec too_many{.codec = codec_from_name("q2.5"), .fault = fault::FaultModel::exact_flips(1u << 30)};
    CHECK_THROWS_WITH(fault::run_campaign(f.model, f.test, too_many), Catch::Contains("exceed") && Catch::Contains("q2.5"));
    const fault::CampaignSpec no_critical{.fault = fault::FaultModel::bit_flip(1e-4).with_mask(0xFFu), .estimator = fault::Estimator::stratified,
                                          .critical_bits = 0x40000000u};
    CHECK_THROWS_WITH(fault::run_campaign(f.model, f.test, no_critical), Catch::Contains("critical class") && Catch::Contains("0x40000000"));
}

TEST_CASE("auto estimator: BER 0 and budgets too small to pilot strata are plain; explicit stratified at BER 0 is refused", "[fault][campaign]") {
    Fixture f(Identity{});
    for (const auto& [rate, rounds] : {std::pair{0.0, std::size_t{1}}, std::pair{0.0, std::size_t{40}}, std::pair{2e-5, std::size_t{1}}}) {
        const fault::CampaignSpec spec{.fault = fault::FaultModel::bit_flip(rate), .rounds = rounds, .seed = 3};
        const auto r = fault::run_campaign(f.model, f.test, spec);
        CHECK(r.estimate.estimator == fault::Estimator::plain);
        CHECK(r.rounds.size() == rounds);
        if (rate == 0)
            for (const auto& round : r.rounds) CHECK(round.flips == 0);
    }
    const fault::CampaignSpec zero{.fault = fault::FaultModel::bit_flip(0.0), .rounds = 4, .estimator = fault::Estimator::stratified};
    CHECK_THROWS_WITH(fault::run_campaign(f.model, f.test, zero), Catch::Contains("BER 0") && Catch::Contains("fp32"));
}

TEST_CASE("activation clipping baseline: calibrated bounds, no effect on clean data, reset afterwards", "[fault][campaign]") {
    Fixture f(Identity{});
    const auto exponents = fault::FaultModel::stuck_at(true, 0.02).with_mask(0x7F800000u);
    // Convolutions only: the fc layer's own NaN weights would reach the logits unclipped.
    const fault::Selection convs{.weights = true, .biases = false, .batchnorm = false, .patterns = {"conv1.weight", "layer*"}};
    const auto plain = fault::run_campaign(f.model, f.test, {.fault = exponents, .rounds = 2, .selection = convs});
    const auto clipped = fault::run_campaign(f.model, f.test,
                                             {.fault = exponents, .rounds = 2, .protection = fault::Protection::clip_activations, .selection = convs});
    CHECK(plain.nan_images > 0);
    CHECK(clipped.nan_images == 0);
    CHECK(clipped.inf_images == 0);
    CHECK(same_eval(plain.clean, clipped.clean));  // thresholds from the same clean data change nothing
    f.model.for_each_relu_batchnorm([](auto& bn) { CHECK(bn.activation_limit() < 0); });
    std::size_t relus = 0;
    f.model.for_each_relu_batchnorm([&](auto&) { ++relus; });
    CHECK(relus == 19);
}

TEST_CASE("bit vulnerability: per bit, the mean |tau(read(w ^ bit)) - tau(read(w))| over every stored word", "[fault][campaign]") {
    // The reference's scalar tau is slow under the sanitizers: there one SAF and one codec.
    const std::vector<AnySaf> safs = test::sanitized ? std::vector<AnySaf>{Tanh{}} : std::vector<AnySaf>{Identity{}, Tanh{}, Softsign{}};
    const std::vector<std::string> dtypes = test::sanitized ? std::vector<std::string>{"fp16"} : std::vector<std::string>{"fp32", "fp16", "q2.5"};
    for (const AnySaf& saf : safs) {
        Fixture f(saf, 4);
        for (const auto& dtype : dtypes) {
            INFO(saf_name(saf) << " " << dtype);
            std::visit([&](auto codec) {
                const fault::StoredWeights store(f.model, codec, {}, fault::Protection::none);
                const int bits = codec.bits_per_value();
                const std::uint64_t mask = ((std::uint64_t{1} << bits) - 1) & ~std::uint64_t{4};  // bit 2 left out: 0
                // Word by word, tau of one value at a time, in target order.
                std::vector<double> expect(static_cast<std::size_t>(bits), 0.0);
                for (int b = 0; b < bits; ++b) {
                    if (!(mask >> b & 1u)) continue;
                    double sum = 0;
                    std::size_t i = 0;
                    for (const auto& t : store.targets()) {
                        const auto tau = [&](float v) {
                            return std::visit([&](const auto& s) { return static_cast<double>(safnet::apply_one(s, v)); }, t.saf->saf());
                        };
                        for (std::size_t j = 0; j < t.value->size(); ++j, ++i) {
                            const auto w = store.words()[i];
                            const auto flipped = static_cast<decltype(w)>(w ^ (decltype(w){1} << b));
                            const double d = std::abs(tau(codec.decode_one(flipped)) - tau(codec.decode_one(w)));
                            sum += std::isfinite(d) ? d : std::numeric_limits<double>::infinity();
                        }
                    }
                    expect[static_cast<std::size_t>(b)] = sum / static_cast<double>(store.words().size());
                }
                const auto got = store.bit_vulnerability(mask);
                CHECK(got == expect);  // bit for bit: the batched tau gives apply_one's values
                CHECK(got[2] == 0);
            }, codec_from_name(dtype));
        }
    }
}

TEST_CASE("sign-split strata: faults land in the words of the stratum's sign, and campaigns plan them by default", "[fault][campaign]") {
    Fixture f(Identity{}, test::full_or_sanitized(64, 8));
    std::vector<std::uint32_t> clean_words;
    std::size_t negative = 0;
    {
        fault::StoredWeights store(f.model, Float32{}, {}, fault::Protection::none);
        clean_words.assign(store.words().begin(), store.words().end());
        for (auto w : clean_words) negative += (w >> 31) != 0;
        CHECK(store.negative_words() == negative);
        REQUIRE(negative > 10);
        REQUIRE(clean_words.size() - negative > 10);
        const auto model = fault::FaultModel::bit_flip(1e-4);
        for (std::uint32_t r = 0; r < 50; ++r) {
            store.inject_conditional(model, 0x40000000u, 3, {5, r, 1}, 2, {5, r, 3}, {5, r, 2});
            std::size_t in_negative = 0, in_positive = 0;
            for (std::size_t i = 0; i < clean_words.size(); ++i)
                if ((store.words()[i] ^ clean_words[i]) & 0x40000000u) ++((clean_words[i] >> 31) ? in_negative : in_positive);
            REQUIRE(in_negative == 3);
            REQUIRE(in_positive == 2);
            store.restore();
            REQUIRE(std::equal(clean_words.begin(), clean_words.end(), store.words().begin()));
        }
    }
    fault::CampaignSpec spec{.fault = fault::FaultModel::bit_flip(1e-6), .rounds = 240, .seed = 3, .estimator = fault::Estimator::stratified};
    const auto split = fault::run_campaign(f.model, f.test, spec);
    const auto is_split = [](const fault::StratumSummary& s) { return s.stratum.is_split(); };
    CHECK(std::any_of(split.estimate.strata.begin(), split.estimate.strata.end(), is_split));
    CHECK(split.estimate.strata.size() <= 12);
    spec.sign_strata = false;
    const auto count = fault::run_campaign(f.model, f.test, spec);
    CHECK(std::none_of(count.estimate.strata.begin(), count.estimate.strata.end(), is_split));
    // A budget that pilots only a few strata keeps the count strata (never falls back to plain).
    spec.sign_strata = true;
    spec.rounds = 40;
    const auto small = fault::run_campaign(f.model, f.test, spec);
    CHECK(small.estimate.estimator == fault::Estimator::stratified);
    CHECK(std::none_of(small.estimate.strata.begin(), small.estimate.strata.end(), is_split));
}

TEST_CASE("exact-count rounds draw from a stream keyed by the count: the BER curve's strata are independent", "[fault][campaign]") {
    // With one stream (seed, round, 0) for every k, Floyd's selection put the k = 1 bit inside
    // the k = 2 set in about half of the rounds; independent draws share it with probability 2/N.
    std::vector<std::uint32_t> words(100000);
    const auto bits_of = [&](std::uint64_t k, std::uint32_t round) {
        fault::CampaignSpec spec;
        spec.seed = 7;
        spec.fault = fault::FaultModel::exact_flips(k);
        auto changed = fault::inject(std::span<std::uint32_t>(words), 32, spec.fault, fault::plain_round_key(spec, round));
        fault::restore(std::span<std::uint32_t>(words), std::span<const fault::BitFault>(changed));
        return changed;
    };
    std::size_t shared = 0;
    for (std::uint32_t r = 0; r < 200; ++r) {
        const auto one = bits_of(1, r), two = bits_of(2, r);
        REQUIRE(one.size() == 1);
        REQUIRE(two.size() == 2);
        shared += std::any_of(two.begin(), two.end(), [&](const fault::BitFault& f) { return f.word == one[0].word && f.bit == one[0].bit; });
    }
    CHECK(shared == 0);  // expected 200 * 2 / 3.2e6 = 1.25e-4 rounds
    // One k still gives every model and protection the same faults: the key depends on (seed, round, k) only.
    CHECK(bits_of(3, 5).front().word == bits_of(3, 5).front().word);
    fault::CampaignSpec rate;
    rate.seed = 7;
    CHECK(fault::plain_round_key(rate, 4).tensor == 0);  // rate rounds keep their stream (and their committed results)
}
