// safnet/fault/run/prefix_cache.hpp — campaign rounds that compute only from the first damaged
// layer on, and stop each image at its first NaN.
//
//   fault::PrefixCache cache(model, test, budget_bytes, first_damage);  // picks the cuts
//   train::EvalResult clean = cache.build(500, x);   // the clean pass, recording each cut
//   ... damage parameters of segment s and later ...
//   train::EvalResult r = cache.evaluate(s, 500, x); // == train::evaluate(model, test, 500, x)
//
// A model that evaluates in segments (SegmentedModel: nn::ResNet; see nn::SegmentPass) is cut
// at segment inputs. Everything upstream of the first damaged parameter is the clean
// network's computation, so a round starts every image at the latest cached cut at or before
// the first damaged segment and computes only from there; a round with no damage at all is
// the clean result. Where the model says a NaN anywhere in an image's activations reaches
// all of its logits (nan_reaches_logits(): not with Clip-Act's limits), an image is finished
// as a NaN miss as soon as a NaN shows up. Both are exact: top-1, top-5, NaN and Inf counts
// equal full evaluation's for any thread count (the same kernels run on the same values).
//
// Which cuts: each cut costs (its elements per image) x (test images) x 4 bytes. choose_cuts
// adds cuts greedily by expected saving per byte until the budget is spent, the saving being
// the clean prefix a round skips under `first_damage` (the probability that segment s is the
// first damaged one, e.g. first_damage_distribution()). A budget too small for every cut
// caches none, and rounds are full evaluations (note() says so).
// Requires: build() before evaluate(); the model's clean parameters (and protection state)
// unchanged between build() and the rounds, apart from the damage each evaluate() names.
#pragma once

#include <safnet/error.hpp>
#include <safnet/nn/resnet.hpp>
#include <safnet/train/evaluate.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace safnet::fault {

template <class M>
concept SegmentedModel = requires(M& m, const M& cm, const nn::Tensor<float>& x, const nn::Shape& s, const nn::Tensor<float>* v) {
    { cm.segment_count() } -> std::convertible_to<std::size_t>;
    { cm.segment_of(v) } -> std::convertible_to<std::size_t>;
    { cm.cut_elements(s) } -> std::same_as<std::vector<std::size_t>>;
    { cm.segment_costs(s) } -> std::same_as<std::vector<double>>;
    { m.nan_reaches_logits() } -> std::convertible_to<bool>;
    { m.forward_segments(x, nn::SegmentPass<float>{}) } -> std::same_as<const nn::Tensor<float>&>;
};

/// The default cache budget: a quarter of the memory available now (MemAvailable), or 512 MiB
/// where /proc/meminfo cannot be read.
inline std::size_t default_cache_bytes() {
    std::ifstream in("/proc/meminfo");
    std::string key;
    std::size_t kib = 0;
    std::string unit;
    while (in >> key >> kib >> unit)
        if (key == "MemAvailable:") return kib / 4 * 1024;
    return std::size_t{512} << 20;
}

/// P(segment s is the first damaged one) when `flips` faults per round land uniformly on the
/// stored bits, `bits[s]` of which belong to segment s: (N_{>=s}/N)^m - (N_{>s}/N)^m with
/// m = max(1, flips). A heuristic for choosing cuts, not used for any result.
inline std::vector<double> first_damage_distribution(std::span<const std::uint64_t> bits, double flips) {
    double total = 0;
    for (auto b : bits) total += static_cast<double>(b);
    std::vector<double> p(bits.size(), 0.0);
    if (total <= 0) return p;
    const double m = std::max(1.0, flips);
    double at_or_after = total;
    for (std::size_t s = 0; s < bits.size(); ++s) {
        const double after = at_or_after - static_cast<double>(bits[s]);
        p[s] = std::pow(at_or_after / total, m) - std::pow(std::max(after, 0.0) / total, m);
        at_or_after = after;
    }
    return p;
}

/// The cuts (segment inputs 1 .. S-1, ascending) to cache: greedily the one with the largest
/// expected saving per byte that still fits `budget`, while any saves something. cost[s]:
/// work of segment s; bytes[c]: size of cut c (bytes[0] unused); first_damage[s] as above.
inline std::vector<std::size_t> choose_cuts(std::span<const double> cost, std::span<const std::size_t> bytes, std::span<const double> first_damage,
                                            std::size_t budget) {
    const std::size_t segments = cost.size();
    if (bytes.size() != segments || first_damage.size() != segments) throw Error("choose_cuts: cost, bytes and first_damage differ in length");
    std::vector<double> prefix(segments + 1, 0.0);  // prefix[c] = work before cut c
    for (std::size_t s = 0; s < segments; ++s) prefix[s + 1] = prefix[s] + cost[s];
    std::vector<bool> chosen(segments, false);
    const auto saving = [&] {  // expected work skipped per round with the chosen cuts
        double total = 0, skipped = 0;
        for (std::size_t s = 0; s < segments; ++s) {
            if (s > 0 && chosen[s]) skipped = prefix[s];
            total += first_damage[s] * skipped;
        }
        return total;
    };
    std::size_t used = 0;
    for (;;) {
        const double now = saving();
        std::size_t best = 0;
        double best_ratio = 0;
        for (std::size_t c = 1; c < segments; ++c) {
            if (chosen[c] || bytes[c] > budget - used) continue;
            chosen[c] = true;
            const double gain = saving() - now;
            chosen[c] = false;
            const double ratio = gain / static_cast<double>(std::max<std::size_t>(bytes[c], 1));
            if (gain > 0 && ratio > best_ratio) {
                best = c;
                best_ratio = ratio;
            }
        }
        if (best == 0) break;
        chosen[best] = true;
        used += bytes[best];
    }
    std::vector<std::size_t> cuts;
    for (std::size_t c = 1; c < segments; ++c)
        if (chosen[c]) cuts.push_back(c);
    return cuts;
}

template <SegmentedModel Model>
class PrefixCache {
public:
    PrefixCache(Model& model, const train::PreparedSet& test, std::size_t budget_bytes, std::span<const double> first_damage)
        : model_(model), test_(test), budget_(budget_bytes) {
        const nn::Shape& s = test.images.shape();
        const nn::Shape one{1, s[1], s[2], s[3]};
        elements_ = model.cut_elements(one);
        const std::vector<double> cost = model.segment_costs(one);
        if (first_damage.size() != cost.size())
            throw Error("PrefixCache: " + std::to_string(first_damage.size()) + " damage probabilities for " + std::to_string(cost.size()) + " segments");
        std::vector<std::size_t> bytes(cost.size(), 0);
        for (std::size_t c = 1; c < cost.size(); ++c) bytes[c] = elements_[c] * test.size() * sizeof(float);
        cuts_ = choose_cuts(cost, bytes, first_damage, budget_bytes);
        store_.resize(cost.size());
        for (std::size_t c : cuts_) {
            store_[c].reset(new float[elements_[c] * test.size()]);  // no value-init: build() writes it all
            bytes_ += bytes[c];
        }
        suffix_cost_.assign(cost.size() + 1, 0.0);
        for (std::size_t k = cost.size(); k-- > 0;) suffix_cost_[k] = suffix_cost_[k + 1] + cost[k];
        if (cuts_.empty() && test.size() > 0) {
            std::size_t smallest = bytes.size() > 1 ? bytes[1] : 0;
            for (std::size_t c = 1; c < bytes.size(); ++c) smallest = std::min(smallest, bytes[c]);
            char first[32];
            std::snprintf(first, sizeof first, "%.3g", first_damage[0]);
            note_ = smallest > budget_bytes
                        ? "prefix cache: a budget of " + megabytes(budget_bytes) + " holds no cut (the smallest needs " + megabytes(smallest) +
                              "); rounds are full evaluations"
                        : "prefix cache: no cut pays off (a round damages the first segment with probability " + std::string(first) +
                              ", so a saved prefix is almost never reused); rounds are full evaluations";
        }
        nan_exit_ = model.nan_reaches_logits();
    }
    PrefixCache(const PrefixCache&) = delete;
    PrefixCache& operator=(const PrefixCache&) = delete;

    /// The clean pass: evaluates the model as it is now and records every cut.
    train::EvalResult build(std::size_t batch, nn::Tensor<float>& x) {
        const auto t0 = std::chrono::steady_clock::now();
        std::vector<float*> record(store_.size(), nullptr);
        clean_ = run(0, batch, x, [&](std::size_t first) {
            for (std::size_t c : cuts_) record[c] = store_[c].get() + first * elements_[c];
            return nn::SegmentPass<float>{.start = 0, .input = nullptr, .record = std::span<float* const>(record), .nan_exit = false};
        });
        built_ = true;
        build_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        return clean_;
    }

    /// The test set's scores with the model as it is now, given that no parameter of a segment
    /// before `first_damaged` differs from build()'s (segment_count(): nothing differs).
    train::EvalResult evaluate(std::size_t first_damaged, std::size_t batch, nn::Tensor<float>& x) {
        if (!built_) throw Error("PrefixCache: evaluate() before build()");
        if (first_damaged >= segment_count()) {
            ++rounds_;
            return clean_;
        }
        const std::size_t start = start_for(first_damaged);
        computed_ += suffix_cost_[start] / suffix_cost_[0];
        ++rounds_;
        return run(start, batch, x, [&](std::size_t first) {
            return nn::SegmentPass<float>{.start = start, .input = start ? store_[start].get() + first * elements_[start] : nullptr, .record = {},
                                          .nan_exit = nan_exit_};
        });
    }

    /// The segment a round whose first damaged segment is `first_damaged` starts at.
    std::size_t start_for(std::size_t first_damaged) const noexcept {
        std::size_t start = 0;
        for (std::size_t c : cuts_)
            if (c <= first_damaged) start = c;
        return start;
    }
    std::size_t segment_count() const noexcept { return store_.size(); }
    const std::vector<std::size_t>& cuts() const noexcept { return cuts_; }
    std::size_t bytes() const noexcept { return bytes_; }
    std::size_t budget() const noexcept { return budget_; }
    bool nan_exit() const noexcept { return nan_exit_; }
    /// Turns the NaN exit off (or back on where the model allows it): for measuring what it saves.
    void set_nan_exit(bool on) { nan_exit_ = on && model_.nan_reaches_logits(); }
    double build_seconds() const noexcept { return build_seconds_; }
    /// Mean fraction of a full pass's work (by the model's cost estimate) that evaluate() computed.
    double computed_fraction() const noexcept { return rounds_ ? computed_ / static_cast<double>(rounds_) : 1.0; }
    /// Why nothing is cached, or empty.
    const std::string& note() const noexcept { return note_; }

private:
    static std::string megabytes(std::size_t b) {
        char s[32];
        std::snprintf(s, sizeof s, "%.1f MB", static_cast<double>(b) / 1e6);
        return s;
    }

    // train::evaluate's batches, each run as the segment pass pass_for(its first image) gives;
    // the images are copied in only when the pass starts at the input.
    template <class PassFor>
    train::EvalResult run(std::size_t start, std::size_t batch, nn::Tensor<float>& x, PassFor&& pass_for) {
        return train::evaluate_batches(test_, batch, x, start == 0, [&](std::size_t first, const nn::Tensor<float>& in) -> decltype(auto) {
            return model_.forward_segments(in, pass_for(first));
        });
    }

    Model& model_;
    const train::PreparedSet& test_;
    std::size_t budget_ = 0, bytes_ = 0, rounds_ = 0;
    std::vector<std::size_t> elements_, cuts_;
    std::vector<std::unique_ptr<float[]>> store_;  // per cut: every test image's input of that segment
    std::vector<double> suffix_cost_;  // suffix_cost_[s]: work of segments s.. (of a whole pass for s = 0)
    double computed_ = 0, build_seconds_ = 0;
    bool nan_exit_ = false, built_ = false;
    train::EvalResult clean_{};
    std::string note_;
};

/// The segment of each target tensor of `store` (a StoredWeights of `model`), in its order.
template <SegmentedModel Model, class Store>
std::vector<std::size_t> target_segments(const Model& model, const Store& store) {
    std::vector<std::size_t> seg;
    for (const auto& t : store.targets()) seg.push_back(model.segment_of(t.value));
    return seg;
}

/// Stored bits per segment: `bits_per_word` eligible bits in each value of each target.
template <SegmentedModel Model, class Store>
std::vector<std::uint64_t> segment_bits(const Model& model, const Store& store, std::uint64_t bits_per_word) {
    std::vector<std::uint64_t> bits(model.segment_count(), 0);
    for (const auto& t : store.targets()) bits[model.segment_of(t.value)] += bits_per_word * t.value->size();
    return bits;
}

/// The first segment holding a damaged value of `store` (between its inject and restore), or
/// `none` when nothing is damaged.
template <class Store>
std::size_t first_damaged_segment(const Store& store, std::span<const std::size_t> target_segment, std::size_t none) {
    std::size_t first = none;
    for (std::size_t t = 0; t < target_segment.size(); ++t)
        if (store.damaged(t)) first = std::min(first, target_segment[t]);
    return first;
}

/// PrefixCache<Model> for a SegmentedModel, NoPrefixCache otherwise (for campaign code that
/// works on any model).
struct NoPrefixCache {};
template <class Model>
struct prefix_cache_for {
    using type = NoPrefixCache;
};
template <SegmentedModel Model>
struct prefix_cache_for<Model> {
    using type = PrefixCache<Model>;
};

}  // namespace safnet::fault
