// safnet/fault/run/campaign.hpp — Monte Carlo fault campaigns on a model's stored weights.
//
//   fault::CampaignSpec spec{.codec = codec_from_name("fp16"), .fault = FaultModel::bit_flip(1e-5),
//                            .rounds = 100, .seed = 1};
//   auto result = fault::run_campaign(model, test_set, spec);   // per-round results + summary
//
// Semantics (arXiv 2411.19027): the raw values (tau not applied) of the selected parameters
// are encoded with the codec into storage words. Each round damages those words with the
// fault model, decodes the damaged words, applies tau under the damaged-value policy and
// evaluates top-1/top-5 accuracy on the test set (NaN logits = miss, counted; see
// safnet/train/evaluate.hpp).
// Cost of a round: only the damaged words are decoded and only their tau is recomputed
// (SafWeight::refresh_at), and afterwards exactly those words are restored (O(flips)); for a
// segmented model (nn::ResNet) the evaluation starts at the first damaged layer from a cache
// of the clean activations and stops NaN images early (prefix_cache.hpp, spec.cache_bytes),
// with results identical to a full evaluation.
// Reproducibility: round r draws its faults from Philox stream (seed, r, 0) over the
// concatenated words of all selected tensors (in parameter order), and every round starts
// from the clean words, so results are a pure function of (model, data, spec, r): the same
// for any thread count (inference is thread-count invariant) and any order of rounds.
// "Clean" accuracy is measured with the stored (codec-rounded) weights and no faults.
// Baselines from prior work, to test the paper's claim against:
//  * Protection::clip_weights — hard clipping at read: every value read back is clamped to
//    the [min, max] of the clean stored values of its tensor (NaN reads as 0).
//  * Protection::clip_activations — bounded ReLUs in the spirit of Ranger (Chen et al. 2021)
//    and Clip-Act (Hoang et al. 2020): each ReLU's output is clamped to the largest value it
//    produced on clean calibration data (spec.calibration, else the test set), NaN -> 0.
#pragma once

#include <safnet/codec/registry.hpp>
#include <safnet/fault/inject/bitflip.hpp>
#include <safnet/fault/stats/design.hpp>
#include <safnet/fault/stats/estimator.hpp>
#include <safnet/fault/run/prefix_cache.hpp>
#include <safnet/fault/stats/statistics.hpp>
#include <safnet/nn/parameter.hpp>
#include <safnet/train/evaluate.hpp>

#include <fnmatch.h>

#include <chrono>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace safnet::fault {

enum class Protection { none, clip_weights, clip_activations };

inline std::string protection_name(Protection p) {
    return p == Protection::none ? "none" : p == Protection::clip_weights ? "clip" : "clipact";
}
inline Protection protection_from_name(const std::string& s) {
    if (s == "none") return Protection::none;
    if (s == "clip") return Protection::clip_weights;
    if (s == "clipact") return Protection::clip_activations;
    throw Error("unknown protection '" + s + "'; valid: none, clip, clipact");
}

/// Which parameters are stored in faulty memory.
struct Selection {
    bool weights = true;     // conv and linear weights (the SAF-parametrized tensors)
    bool biases = false;     // linear biases
    bool batchnorm = false;  // BN weight and bias
    std::vector<std::string> patterns;  // shell globs over names ("layer3.*"); empty = all

    template <std::floating_point T>
    bool matches(const nn::Parameter<T>& p) const {
        const bool is_bn = p.name.find("bn") != std::string::npos || p.name.find("downsample.1.") != std::string::npos;
        const bool kind = p.saf ? weights : (is_bn ? batchnorm : biases);
        if (!kind) return false;
        if (patterns.empty()) return true;
        for (const auto& g : patterns)
            if (::fnmatch(g.c_str(), p.name.c_str(), 0) == 0) return true;
        return false;
    }
};

struct CampaignSpec {
    AnyCodec codec = Float32{};
    FaultModel fault = FaultModel::bit_flip(1e-5);
    std::size_t rounds = 100;     // the budget, or the cap with adaptive stopping
    std::size_t first_round = 0;  // plain rounds [first_round, first_round + rounds): order tests
    std::uint64_t seed = 1;
    Protection protection = Protection::none;
    Selection selection{};
    Estimator estimator = Estimator::automatic;
    std::optional<std::uint64_t> critical_bits{};  // bit positions of the critical class; unset = the most damaging (auto)
    double confidence = 0.95;
    double fail_drop = 10;  // a round fails when its top-1 is more than this many points below clean
    Stopping stopping{};    // stopping.ci_halfwidth > 0: adaptive
    std::size_t max_strata = 12;
    bool sign_strata = true;  // split the critical strata by the sign of the hit values (strata.hpp)
    double tail_mass = 1e-3;  // the critical strata end where P(K_c > K_max) <= this
    std::size_t eval_batch = 500;
    const train::PreparedSet* calibration = nullptr;  // clip_activations thresholds; null = the test set
    // Prefix cache budget in bytes (prefix_cache.hpp: rounds start at the first damaged layer,
    // NaN images stop early; results unchanged): unset = default_cache_bytes(), 0 = off
    // (every round a full evaluation).
    std::optional<std::size_t> cache_bytes{};
};

/// What the prefix cache did in a campaign (none of it changes a result).
struct CacheReport {
    bool on = false;         // a segmented model and a nonzero budget
    std::size_t budget = 0, bytes = 0, cuts = 0;
    bool nan_exit = false;   // NaN images stopped early
    double build_seconds = 0;       // the clean pass, recording the cuts
    double computed_fraction = 1;   // mean share of a full pass's work a round computed
    std::string note;               // why nothing is cached, or empty
};

struct CampaignResult {
    train::EvalResult clean;  // stored weights, no faults
    std::vector<RoundResult> rounds;
    Estimate estimate;
    std::size_t nan_images = 0, inf_images = 0, rounds_with_nan = 0, rounds_with_inf = 0;
    std::uint64_t stored_bits = 0;    // faultable bits (after the mask)
    std::uint64_t critical_mask = 0;  // the stratified estimator's critical bit positions (0 for plain)
    std::uint64_t critical_bits = 0;  // eligible critical bits in the store
    std::size_t tensors = 0, values = 0;
    double seconds_per_round = 0;   // wall time of a round (inject, evaluate, restore), averaged
    CacheReport cache{};
    std::string design;             // EstimatorDesign::fingerprint() of the design that planned the rounds
    const Summary& top1() const noexcept { return estimate.top1; }
};

/// The selected parameters of a model, stored through a codec: injects and restores faults
/// and keeps the model's values equal to what a read of the stored words gives.
/// Contract:
///  - construction requires a selection that matches at least one parameter; it ensures the
///    model computes with the codec-rounded clean weights (tau refreshed);
///  - inject*() requires a clean store (after construction or restore()); it ensures the
///    model's values are the reads of the damaged words, the damaged tensors refreshed;
///  - restore() ensures the clean state again, touching only what inject changed;
///  - the model must outlive the store and not be changed through other paths meanwhile;
///    destruction puts the model's original (unrounded) values back.
template <Codec C, class Model>
class StoredWeights {
public:
    using Word = typename C::word_type;

    StoredWeights(Model& model, C codec, const Selection& sel, Protection protection) : codec_(codec), protection_(protection) {
        model.for_each_parameter([&](const nn::Parameter<float>& p) {
            if (sel.matches(p)) targets_.push_back(p);
        });
        if (targets_.empty()) throw Error("fault campaign: no parameter matches the selection");
        offsets_.push_back(0);
        for (const auto& t : targets_) offsets_.push_back(offsets_.back() + t.value->size());
        words_.resize(offsets_.back());
        original_.resize(offsets_.back());
        for (std::size_t k = 0; k < targets_.size(); ++k) {
            const auto values = targets_[k].value->span();
            std::copy(values.begin(), values.end(), original_.begin() + static_cast<std::ptrdiff_t>(offsets_[k]));
            codec_.encode(std::span<const float>(values), std::span<Word>(words_).subspan(offsets_[k], values.size()));
            codec_.decode(std::span<const Word>(words_).subspan(offsets_[k], values.size()), values);
            const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
            ranges_.emplace_back(*lo, *hi);
            refresh_all(targets_[k]);
        }
        for (std::uint64_t i = 0; i < words_.size(); ++i) (std::signbit(codec_.decode_one(words_[i])) ? negative_ : positive_).push_back(i);
        local_.resize(targets_.size());
    }
    StoredWeights(const StoredWeights&) = delete;
    StoredWeights& operator=(const StoredWeights&) = delete;
    ~StoredWeights() {
        for (std::size_t k = 0; k < targets_.size(); ++k) {
            std::copy(original_.begin() + static_cast<std::ptrdiff_t>(offsets_[k]), original_.begin() + static_cast<std::ptrdiff_t>(offsets_[k + 1]),
                      targets_[k].value->data());
            refresh_all(targets_[k]);
        }
    }

    std::size_t tensors() const noexcept { return targets_.size(); }
    std::span<const Word> words() const noexcept { return words_; }
    const std::vector<nn::Parameter<float>>& targets() const noexcept { return targets_; }
    std::size_t values() const noexcept { return words_.size(); }
    /// Bits a fault model with bit mask `mask` can hit (the injector's own eligibility rule).
    std::uint64_t stored_bits(std::uint64_t mask) const {
        return static_cast<std::uint64_t>(detail::eligible_bits(codec_.bits_per_value(), mask).count) * words_.size();
    }

    /// Damages the stored words with `model` drawn from `key`; returns the bits changed.
    std::size_t inject(const FaultModel& model, random::StreamKey key) {
        require_clean();
        fault::inject(std::span<Word>(words_), codec_.bits_per_value(), model, key, changed_);
        apply_changed();
        return changed_.size();
    }
    /// Damages the stored words with the conditional law of a stratum (inject_conditional).
    std::size_t inject_conditional(const FaultModel& model, std::uint64_t critical_mask, std::uint64_t critical_count, random::StreamKey critical_key,
                                   random::StreamKey other_key) {
        require_clean();
        fault::inject_conditional(std::span<Word>(words_), codec_.bits_per_value(), model, critical_mask, critical_count, critical_key, other_key,
                                  changed_);
        apply_changed();
        return changed_.size();
    }
    /// As above for a sign-split stratum: `negative_count` critical faults in words holding a
    /// negative clean value (stream `negative_key`), `positive_count` in the others.
    std::size_t inject_conditional(const FaultModel& model, std::uint64_t critical_mask, std::uint64_t negative_count, random::StreamKey negative_key,
                                   std::uint64_t positive_count, random::StreamKey positive_key, random::StreamKey other_key) {
        require_clean();
        const CriticalGroup groups[] = {{negative_, negative_count, negative_key}, {positive_, positive_count, positive_key}};
        fault::inject_conditional(std::span<Word>(words_), codec_.bits_per_value(), model, critical_mask, std::span<const CriticalGroup>(groups),
                                  other_key, changed_);
        apply_changed();
        return changed_.size();
    }
    /// Stored words holding a negative clean value (sign bit set, as the codec reads it).
    std::size_t negative_words() const noexcept { return negative_.size(); }
    /// Whether target tensor t holds a damaged value (between inject and restore).
    bool damaged(std::size_t t) const noexcept { return !changed_.empty() && !local_[t].empty(); }

    /// Per-bit vulnerability: for each bit position b, the mean over all stored words of
    /// |tau(read(w ^ 2^b)) - tau(read(w))| (the change of the effective weight a flip of b
    /// causes; +inf if any read is not finite), 0 for positions outside `mask`.
    std::vector<double> bit_vulnerability(std::uint64_t mask) const {
        const int bits = codec_.bits_per_value();
        std::vector<double> score(static_cast<std::size_t>(bits), 0.0);
        std::vector<float> clean, flipped;  // one tensor's reads, then their tau
        // Tensor by tensor with tau over whole spans (apply_one per value costs a full SIMD
        // batch each); each bit's sum still adds its terms in word order.
        for (std::size_t k = 0; k < targets_.size(); ++k) {
            const std::span<const Word> words(words_.data() + offsets_[k], offsets_[k + 1] - offsets_[k]);
            clean.resize(words.size());
            flipped.resize(words.size());
            for (std::size_t i = 0; i < words.size(); ++i) clean[i] = read(k, words[i]);
            effective_in_place(k, clean);
            for (int b = 0; b < bits; ++b) {
                if (!(mask >> b & 1u)) continue;
                for (std::size_t i = 0; i < words.size(); ++i) flipped[i] = read(k, static_cast<Word>(words[i] ^ (Word{1} << b)));
                effective_in_place(k, flipped);
                double& sum = score[static_cast<std::size_t>(b)];
                for (std::size_t i = 0; i < words.size(); ++i) {
                    const double d = std::abs(static_cast<double>(flipped[i]) - static_cast<double>(clean[i]));
                    sum += std::isfinite(d) ? d : std::numeric_limits<double>::infinity();
                }
            }
        }
        for (int b = 0; b < bits; ++b)
            if (mask >> b & 1u) score[static_cast<std::size_t>(b)] /= static_cast<double>(words_.size());
        return score;
    }

    /// The critical class the stratified estimator uses by default: the eligible positions whose
    /// vulnerability is at least half the largest (e.g. bit 30, the exponent MSB, for fp32).
    std::uint64_t most_vulnerable_bits(std::uint64_t mask) const {
        const detail::EligibleBits e = detail::eligible_bits(codec_.bits_per_value(), mask);
        const auto score = bit_vulnerability(e.mask);
        const double top = *std::max_element(score.begin(), score.end());
        std::uint64_t critical = 0;
        for (std::size_t b = 0; b < score.size(); ++b)
            if ((e.mask >> b & 1u) && (std::isinf(top) ? std::isinf(score[b]) : score[b] >= top / 2)) critical |= std::uint64_t{1} << b;
        return critical;
    }

    /// Restores the words damaged by the last inject() and the values read from them.
    void restore() {
        fault::restore(std::span<Word>(words_), std::span<const BitFault>(changed_));
        apply_changed();
        changed_.clear();
    }

private:
    // A second inject before restore() would lose the first one's record, and restore() would
    // then leave faults in place: refused.
    void require_clean() const {
        if (!changed_.empty()) throw Error("StoredWeights: inject() on a damaged store (call restore() first)");
    }
    static void refresh_all(const nn::Parameter<float>& p) {
        if (p.saf) p.saf->refresh();
    }

    // values = tau(values) under target k's SAF (unchanged for a plain parameter).
    void effective_in_place(std::size_t k, std::vector<float>& values) const {
        if (!targets_[k].saf) return;
        const std::span<float> v(values);
        std::visit([&](const auto& f) { safnet::apply(f, std::span<const float>(v), v); }, targets_[k].saf->saf());
    }

    float read(std::size_t k, Word w) const {
        float v = codec_.decode_one(w);
        if (protection_ == Protection::clip_weights) v = std::isnan(v) ? 0.0f : std::clamp(v, ranges_[k].first, ranges_[k].second);
        return v;
    }

    // Re-reads every word listed in changed_ (ascending) into its tensor and refreshes tau there.
    void apply_changed() {
        for (auto& l : local_) l.clear();
        std::size_t k = 0;
        std::uint64_t last = std::numeric_limits<std::uint64_t>::max();
        for (const BitFault& f : changed_) {
            if (f.word == last) continue;  // several bits of one word
            last = f.word;
            while (f.word >= offsets_[k + 1]) ++k;
            const std::uint64_t i = f.word - offsets_[k];
            (*targets_[k].value)[i] = read(k, words_[f.word]);
            local_[k].push_back(i);
        }
        for (std::size_t t = 0; t < targets_.size(); ++t)
            if (!local_[t].empty() && targets_[t].saf) targets_[t].saf->refresh_at(local_[t]);
    }

    C codec_;
    Protection protection_;
    std::vector<nn::Parameter<float>> targets_;
    std::vector<std::size_t> offsets_;
    std::vector<Word> words_;
    std::vector<float> original_;
    std::vector<std::pair<float, float>> ranges_;
    std::vector<BitFault> changed_;
    std::vector<std::uint64_t> negative_, positive_;  // word indices by the sign of the clean value
    std::vector<std::vector<std::uint64_t>> local_;
};

/// Fills r's NaN/Inf totals from r.rounds (also used to rebuild a resumed result).
inline void count_nan_inf(CampaignResult& r) {
    r.nan_images = r.inf_images = r.rounds_with_nan = r.rounds_with_inf = 0;
    for (const auto& rr : r.rounds) {
        r.nan_images += rr.eval.nan_images;
        r.inf_images += rr.eval.inf_images;
        r.rounds_with_nan += rr.eval.nan_images > 0;
        r.rounds_with_inf += rr.eval.inf_images > 0;
    }
}

/// Sets each ReLU's activation limit to its largest output on `calibration` (clean weights)
/// for its lifetime; does nothing for a null calibration set.
template <class Model>
class ActivationLimits {
public:
    ActivationLimits(Model& model, const train::PreparedSet* calibration, std::size_t batch, nn::Tensor<float>& x) : model_(model) {
        if (!calibration) return;
        active_ = true;
        model_.for_each_relu_batchnorm([](auto& bn) { bn.track_activation_max(true); });
        train::evaluate(model_, *calibration, batch, x);
        model_.for_each_relu_batchnorm([](auto& bn) {
            bn.track_activation_max(false);
            bn.set_activation_limit(bn.activation_max());
        });
    }
    ActivationLimits(const ActivationLimits&) = delete;
    ActivationLimits& operator=(const ActivationLimits&) = delete;
    ~ActivationLimits() {
        if (active_) model_.for_each_relu_batchnorm([](auto& bn) { bn.set_activation_limit(-1.0f); });
    }

private:
    Model& model_;
    bool active_ = false;
};

/// The sampling design `spec` asks for on a store: plain, or stratified by critical-bit count
/// (auto: stratified where the critical class is not empty, the strata cover all but tail_mass
/// of K_c's law within max_strata, and the budget pilots them; at a rate or an exact count).
/// Errors name the codec and mask when the fault space is empty.
template <Codec C, class Model>
EstimatorDesign campaign_design(const CampaignSpec& spec, const StoredWeights<C, Model>& store, double resolution, std::uint64_t& critical_mask,
                                std::uint64_t& critical_bits) {
    const int bits = std::visit([](const auto& c) { return c.bits_per_value(); }, spec.codec);
    const std::string where = " (codec " + codec_name(spec.codec) + ", --bits mask " + hex_mask(spec.fault.bit_mask) + ")";
    const std::uint64_t eligible = store.stored_bits(spec.fault.bit_mask);
    if (eligible == 0) throw Error("fault campaign: no stored bit is eligible for the fault model" + where);
    if (spec.fault.count && *spec.fault.count > eligible)
        throw Error("fault campaign: " + std::to_string(*spec.fault.count) + " exact flips exceed the " + std::to_string(eligible) + " eligible bits" + where);
    DesignRequest q{.estimate = {.rounds = spec.rounds, .first_round = spec.first_round, .confidence = spec.confidence, .fail_drop = spec.fail_drop,
                                 .resolution = resolution, .stopping = spec.stopping},
                    .estimator = spec.estimator, .rate = spec.fault.rate, .exact_count = spec.fault.count.has_value(),
                    .count = spec.fault.count.value_or(0), .eligible_bits = eligible, .sign_strata = spec.sign_strata,
                    .max_strata = spec.max_strata, .tail_mass = spec.tail_mass};
    critical_mask = critical_bits = 0;
    std::uint64_t mask = 0;
    if (spec.estimator != Estimator::plain) {
        const std::uint64_t eligible_mask = detail::eligible_bits(bits, spec.fault.bit_mask).mask;
        mask = (spec.critical_bits ? *spec.critical_bits : store.most_vulnerable_bits(eligible_mask)) & eligible_mask;
        q.critical_bits = store.stored_bits(mask);
        if (q.critical_bits == 0 && spec.estimator == Estimator::stratified)
            throw Error("stratified estimator: the critical class " + hex_mask(spec.critical_bits.value_or(0)) + " has no eligible bit" + where);
        if (!spec.fault.count && !(spec.fault.rate > 0) && spec.estimator == Estimator::stratified)
            throw Error("stratified estimator: BER 0 has no faults to stratify" + where);
        q.negative_critical_bits = static_cast<std::uint64_t>(detail::eligible_bits(bits, mask).count) * store.negative_words();
    }
    EstimatorDesign design = plan_design(q);
    if (design.stratified()) {
        critical_mask = mask;
        critical_bits = q.critical_bits;
    }
    return design;
}

/// The stream of a plain round: (seed, round, 0) at a rate; at an exact count k, (seed, round,
/// 0xC0000000 + k mod 2^30). Keyed by k, the BER curve's strata draw independent faults (one
/// shared stream made Floyd's selection pick nearly the same bits for every k, a covariance the
/// band's SE ignores), while every model and protection still sees the same faults at one k.
inline random::StreamKey plain_round_key(const CampaignSpec& spec, std::uint32_t round) {
    if (!spec.fault.count) return {spec.seed, round, 0};
    return {spec.seed, round, 0xC0000000u | static_cast<std::uint32_t>(*spec.fault.count & 0x3FFFFFFFu)};
}

/// The seed of a stratified round's streams: the campaign's at a rate; at an exact count k mixed
/// with k (SplitMix64's finalizer), so the BER curve's stratified counts draw independent faults
/// as its plain ones do (plain_round_key), one k still the same faults for every model and protection.
inline std::uint64_t strata_seed(const CampaignSpec& spec) {
    if (!spec.fault.count) return spec.seed;
    std::uint64_t z = *spec.fault.count + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return spec.seed ^ (z ^ (z >> 31));
}

/// Runs `spec` on `model` over `test`; `on_round` (optional) sees each finished round.
/// `resumed` holds rounds of an interrupted run of the same spec (they are not rerun);
/// `runner` runs each batch of rounds (estimator.hpp; empty: here, in order).
/// `resumed_clean` is that run's clean evaluation: when `resumed` already completes the
/// design, the result is rebuilt from the two without evaluating the model (no calibration,
/// no prefix cache, no clean pass), so reopening a finished campaign costs no inference.
/// Resumed rounds the design does not plan (saved by an earlier version's design) are left
/// out of the result; the ones it plans are reused and only the missing ones run.
/// `resumed_design` is the fingerprint of the design that planned `resumed` (empty: unknown, a
/// state written before fingerprints): rounds of another design (a resume with another budget
/// that changed the strata) are other draws, so they are dropped and the new design's run.
template <class Model>
CampaignResult run_campaign(Model& model, const train::PreparedSet& test, const CampaignSpec& spec,
                            const std::function<void(const RoundResult&)>& on_round = {}, std::vector<RoundResult> resumed = {},
                            const BatchRunner& runner = {}, const std::optional<train::EvalResult>& resumed_clean = {}, bool rederive_clean = false,
                            const std::string& resumed_design = {}) {
    spec.fault.validate();
    if (spec.rounds == 0) throw Error("fault campaign: rounds must be positive");
    return std::visit([&](const auto& codec) {
        StoredWeights store(model, codec, spec.selection, spec.protection);
        CampaignResult r;
        r.tensors = store.tensors();
        r.values = store.values();
        r.stored_bits = store.stored_bits(spec.fault.bit_mask);
        const double resolution = train::image_step(test.size());
        const EstimatorDesign design = campaign_design(spec, store, resolution, r.critical_mask, r.critical_bits);
        // The faults of a round: its critical count (stratified) and the bits it flips, from its streams alone.
        const auto inject_round = [&](const WorkItem& item, RoundResult& rr) {
            rr.round = item.round;
            rr.stratum = item.stratum;
            if (design.stratified()) {
                const std::uint64_t seed = strata_seed(spec);
                rr.critical = design.strata().draw_count(item.stratum, seed, item.round);
                const Stratum& st = design.strata()[item.stratum];
                const random::StreamKey critical = CriticalStrata::critical_key(seed, item.round, item.stratum);
                const random::StreamKey other = CriticalStrata::other_key(seed, item.round, item.stratum);
                rr.flips = st.is_split() ? store.inject_conditional(spec.fault, r.critical_mask, st.negative, critical, rr.critical - st.negative,
                                                                    CriticalStrata::positive_key(seed, item.round, item.stratum), other)
                                         : store.inject_conditional(spec.fault, r.critical_mask, rr.critical, critical, other);
            } else {
                rr.flips = store.inject(spec.fault, plain_round_key(spec, item.round));
            }
        };
        r.design = design.fingerprint();
        if (!resumed_design.empty() && resumed_design != r.design) resumed.clear();
        // Saved rounds are checked against the faults their streams give (cheap: no evaluation), so
        // a state edited, truncated or copied from another configuration is refused, not reused:
        // all of them when their design is known to be this one, else those this design plans.
        for (const RoundResult& saved : resumed_design.empty() ? design.in_plan_order(resumed) : resumed) {
            RoundResult check;
            inject_round({saved.stratum, static_cast<std::uint32_t>(saved.round)}, check);
            store.restore();
            if (check.flips != saved.flips || check.critical != saved.critical)
                throw Error("saved round " + std::to_string(saved.round) + " of stratum " + std::to_string(saved.stratum) + " records " +
                            std::to_string(saved.flips) + " flips and " + std::to_string(saved.critical) + " critical faults; its seed gives " +
                            std::to_string(check.flips) + " and " + std::to_string(check.critical) + " (a state of another configuration, or edited)");
        }
        if (resumed_clean && !rederive_clean && design.next_batch(resumed).empty()) {
            r.clean = *resumed_clean;
            r.rounds = design.in_plan_order(resumed);
            r.estimate = design.finish(r.rounds, r.clean.accuracy(), test.classes);
            count_nan_inf(r);
            return r;
        }
        nn::Tensor<float> x;
        const ActivationLimits limits(model, spec.protection == Protection::clip_activations ? (spec.calibration ? spec.calibration : &test) : nullptr,
                                      spec.eval_batch, x);
        std::optional<typename prefix_cache_for<Model>::type> cache;
        std::vector<std::size_t> target_segment;
        if constexpr (SegmentedModel<Model>) {
            const std::size_t budget = spec.cache_bytes.value_or(default_cache_bytes());
            if (budget > 0) {
                const auto per_word = static_cast<std::uint64_t>(detail::eligible_bits(codec.bits_per_value(), spec.fault.bit_mask).count);
                target_segment = target_segments(model, store);
                const double flips = spec.fault.count ? static_cast<double>(*spec.fault.count) : spec.fault.rate * static_cast<double>(r.stored_bits);
                cache.emplace(model, test, budget, first_damage_distribution(segment_bits(model, store, per_word), flips));
                r.clean = cache->build(spec.eval_batch, x);
                r.cache = {.on = true, .budget = budget, .bytes = cache->bytes(), .cuts = cache->cuts().size(), .nan_exit = cache->nan_exit(),
                           .build_seconds = cache->build_seconds(), .computed_fraction = 1, .note = cache->note()};
            }
        }
        if (!cache) r.clean = train::evaluate(model, test, spec.eval_batch, x);
        const auto evaluate_round = [&] {
            if constexpr (SegmentedModel<Model>) {
                if (cache) return cache->evaluate(first_damaged_segment(store, target_segment, cache->segment_count()), spec.eval_batch, x);
            }
            return train::evaluate(model, test, spec.eval_batch, x);
        };
        const auto sample = [&](const WorkItem& item) {
            RoundResult rr;
            inject_round(item, rr);
            rr.eval = evaluate_round();
            store.restore();
            return rr;
        };
        const std::size_t before = resumed.size();
        r.rounds = std::move(resumed);
        const auto start = std::chrono::steady_clock::now();
        run_design(design, sample, r.rounds, on_round, runner);
        const std::size_t ran = r.rounds.size() - before;
        // Rounds of an earlier design that this one does not plan are dropped, so the result is
        // the one a fresh run gives (a no-op for rounds this design planned: they are in plan order).
        r.rounds = design.in_plan_order(r.rounds);
        r.seconds_per_round = ran ? std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / static_cast<double>(ran) : 0.0;
        r.estimate = design.finish(r.rounds, r.clean.accuracy(), test.classes);
        if constexpr (SegmentedModel<Model>)
            if (cache) r.cache.computed_fraction = cache->computed_fraction();
        count_nan_inf(r);
        return r;
    }, spec.codec);
}

}  // namespace safnet::fault
