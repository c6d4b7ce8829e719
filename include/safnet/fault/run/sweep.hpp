// safnet/fault/run/sweep.hpp — a whole fault-injection study: models x storage formats x fault
// rates x protections x analyses, planned into configurations and run resumably.
//
//   fault::SweepSpec spec{.dtypes = {"fp32", "fp16"}, .bers = {1e-6, 1e-5}, .rounds = 200};
//   std::vector<fault::SweepModel> models{{"r20", path, "tanh", &net, &test, nullptr}};
//   auto configs = fault::plan_sweep(spec, models);          // validates everything first
//   fault::SweepState state(out / "campaign-state.json", fault::sweep_identity(spec, models));
//   fault::run_sweep(configs, models, state, /*resume=*/true);
//
// plan_sweep: for each model, dtype and rate (or the exact count spec.flips):
//   "ber"    one configuration per protection, over spec.selection;
//   "layer"  (per_layer) one per selected parameter tensor, protection none;
//   "bit"    (per_bit) one per eligible bit position, protection none;
//   "count"  (curve) exact-count strata k = 0 .. K_max per dtype and protection, for the
//            accuracy-vs-BER curve (ber_curve.hpp); k = 0 runs one round (it has no faults),
//            every other k is stratified by its critical count where the design pays (auto,
//            unless --estimator plain).
// It throws before any work, naming the codec and mask, for a fault space with no eligible
// bit, an exact count above the eligible bits, or an explicit critical class with none.
// run_sweep runs the configurations in order; after each, `state` is written atomically, and
// with resume=true configurations found in it are loaded instead of rerun. The state's
// identity is every option that changes results (not threads): resuming with another one
// is an error naming it, except the round budget: resuming with more (or fewer) rounds reuses
// the saved rounds the new design plans and runs the rest, so the result is bit-identical to a
// run that asked for that budget from the start. Results are a pure function of the spec and
// the models.
//
// Shards (for schedulers without MPI): Shard{I, N} owns configuration i of plan_sweep's list
// when i mod N = I. A shard run keeps only its configurations (shard_configurations) and
// records {shard, flags, owned configurations, finished} as the state's run info;
// merge_shard_states(paths) checks that the N states come from identical options and models
// (their identities; an error names the first differing option), that shards 0 .. N-1 are each there once and
// finished, and returns the union, from which a run with every configuration done writes the
// same files as a single unsharded run.
#pragma once

#include <safnet/checked.hpp>
#include <safnet/codec/registry.hpp>
#include <safnet/detail/fnv1a.hpp>
#include <safnet/fault/stats/ber_curve.hpp>
#include <safnet/fault/run/campaign.hpp>
#include <safnet/io/atomic_file.hpp>
#include <safnet/io/read_file.hpp>
#include <safnet/nn/resnet.hpp>
#include <safnet/version.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <bit>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace safnet::fault {

struct SweepSpec {
    std::vector<std::string> dtypes{"fp32"};
    std::vector<double> bers{1e-5};
    FaultKind kind = FaultKind::flip;
    std::uint64_t bit_mask = ~std::uint64_t{0};
    std::uint64_t flips = 0;  // > 0: exactly this many faulty bits per round instead of the rates
    std::vector<std::string> protect{"none"};
    Selection selection{};
    bool per_layer = false, per_bit = false;
    std::size_t rounds = 100;  // per configuration (the cap when stopping adaptively)
    std::uint64_t seed = 1;
    Estimator estimator = Estimator::automatic;
    std::optional<std::uint64_t> critical_bits{};
    bool sign_strata = true;  // stratified: split the critical strata by the sign of the hit values
    double confidence = 0.95, fail_drop = 10;
    Stopping stopping{};
    std::optional<CurveSpec> curve{};
    std::size_t eval_batch = 500;
    std::optional<std::size_t> cache_bytes{};  // CampaignSpec::cache_bytes (not part of the identity: results do not depend on it)
};

/// A model of the sweep: the network and the prepared test (and calibration) sets it is evaluated on.
struct SweepModel {
    std::string label, path, saf;
    nn::ResNet<float>* net = nullptr;
    const train::PreparedSet* test = nullptr;
    const train::PreparedSet* calibration = nullptr;  // clipact thresholds; null = the test set
    std::string metadata_digest{};                    // of the model file's metadata (io::metadata_digest); part of the identity
};

struct Configuration {
    std::string analysis = "ber";  // ber | layer | bit | count
    std::size_t model = 0;
    std::string dtype, protect = "none", layer = "*";
    int bit = -1;
    double rate = 0;
    CampaignSpec spec;
    CampaignResult result;

    std::string key() const {
        char r[32];
        std::snprintf(r, sizeof r, "%.17g", rate);
        return analysis + "|" + std::to_string(model) + "|" + dtype + "|" + protect + "|" + r + "|" + layer + "|" + std::to_string(bit) +
               (spec.fault.count ? "|k" + std::to_string(*spec.fault.count) : "");
    }
};

/// A deterministic slice of a sweep: configuration i (in plan_sweep's order) belongs to shard i mod count.
struct Shard {
    std::size_t index = 0, count = 1;
    bool owns(std::size_t configuration) const noexcept { return configuration % count == index; }
    std::string text() const { return std::to_string(index) + "/" + std::to_string(count); }
    friend bool operator==(const Shard&, const Shard&) = default;

    /// "I/N" with 0 <= I < N <= 100000.
    static Shard parse(const std::string& text, const std::string& what = "--shard") {
        const auto slash = text.find('/');
        const auto bad = [&](const std::string& why) { return Error(what + ": '" + text + "' " + why + " (expected I/N with 0 <= I < N, e.g. 0/4)"); };
        if (slash == std::string::npos) throw bad("is not of the form I/N");
        Shard sh;
        try {
            sh.index = static_cast<std::size_t>(parse_unsigned(text.substr(0, slash), 99999, what));
            sh.count = static_cast<std::size_t>(parse_unsigned(text.substr(slash + 1), 100000, what));
        } catch (const Error&) {
            throw bad("has a bad number");
        }
        if (sh.count == 0 || sh.index >= sh.count) throw bad("needs 0 <= I < N");
        return sh;
    }
};

/// The configurations `shard` owns, in order.
inline std::vector<Configuration> shard_configurations(std::vector<Configuration> configs, const Shard& shard) {
    std::vector<Configuration> mine;
    for (std::size_t i = 0; i < configs.size(); ++i)
        if (shard.owns(i)) mine.push_back(std::move(configs[i]));
    return mine;
}

namespace detail {

inline std::uint64_t selected_values(const SweepModel& m, const Selection& sel) {
    std::uint64_t n = 0;
    m.net->for_each_parameter([&](const nn::Parameter<float>& p) {
        if (sel.matches(p)) n += p.value->size();
    });
    return n;
}

inline int codec_bits(const std::string& dtype) {
    return std::visit([](const auto& c) { return c.bits_per_value(); }, codec_from_name(dtype));
}

/// Throws unless the fault space of `c` has eligible bits (and, for exact counts, enough of them).
inline void check_fault_space(const Configuration& c, const SweepModel& m) {
    const int bits = codec_bits(c.dtype);
    const std::uint64_t eligible_mask = eligible_bits(bits, c.spec.fault.bit_mask).mask;
    const std::string where = " (codec " + c.dtype + ", " + std::to_string(bits) + " stored bits per value; --bits mask " + hex_mask(c.spec.fault.bit_mask) + ")";
    if (eligible_mask == 0) throw Error("fault campaign: no stored bit is eligible for the fault model" + where);
    const std::uint64_t values = selected_values(m, c.spec.selection);
    if (values == 0) throw Error("fault campaign: no parameter matches the selection");
    const std::uint64_t eligible = values * static_cast<std::uint64_t>(std::popcount(eligible_mask));
    if (c.spec.fault.count && *c.spec.fault.count > eligible)
        throw Error("fault campaign: " + std::to_string(*c.spec.fault.count) + " exact flips exceed the " + std::to_string(eligible) + " eligible bits" + where);
    if (c.spec.critical_bits && c.spec.estimator == Estimator::stratified && (*c.spec.critical_bits & eligible_mask) == 0)
        throw Error("stratified estimator: the critical class " + hex_mask(*c.spec.critical_bits) + " has no eligible bit" + where);
}

}  // namespace detail

/// The bits a configuration's faults may hit: its selected values times the eligible bit
/// positions of its codec and mask (what a BER is "per").
inline std::uint64_t eligible_bits_of(const Configuration& c, const SweepModel& m) {
    const std::uint64_t mask = detail::eligible_bits(detail::codec_bits(c.dtype), c.spec.fault.bit_mask).mask;
    return detail::selected_values(m, c.spec.selection) * static_cast<std::uint64_t>(std::popcount(mask));
}

/// What a sweep will compute, known before it runs: the configurations by analysis, the rounds
/// its designs plan at most (adaptive runs may stop sooner), one clean pass per configuration,
/// and an upper estimate of the time from a calibration pass of each model. The estimate counts
/// every round as a whole pass over the test images; rounds that start at the first damaged
/// layer (the prefix cache) or stop at NaN take less, so runs at low BER finish well before it.
struct SweepCost {
    std::map<std::string, std::size_t> configurations;  // analysis -> configurations
    std::size_t rounds = 0, clean_passes = 0, images = 0;
    double seconds = 0;  // upper estimate
};

/// Seconds one evaluation of `images` test images (the first of m's test set) takes, measured
/// after a warm-up pass; the sweep's own evaluation batch.
inline double time_per_image(SweepModel& m, std::size_t images, std::size_t batch) {
    const std::size_t n = std::min(images, m.test->size());
    if (n == 0) return 0;
    train::PreparedSet part;
    const nn::Shape& s = m.test->images.shape();
    part.images = nn::Tensor<float>(nn::Shape{n, s[1], s[2], s[3]});
    std::copy_n(m.test->images.data(), part.images.size(), part.images.data());
    part.labels.assign(m.test->labels.begin(), m.test->labels.begin() + static_cast<std::ptrdiff_t>(n));
    part.classes = m.test->classes;
    nn::Tensor<float> x;
    train::evaluate(*m.net, part, batch, x);
    const auto start = std::chrono::steady_clock::now();
    train::evaluate(*m.net, part, batch, x);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / static_cast<double>(n);
}

/// The cost of `configs` (see SweepCost), calibrating each model on `calibration_images` images.
inline SweepCost sweep_cost(const std::vector<Configuration>& configs, std::vector<SweepModel>& models, std::size_t calibration_images = 200) {
    SweepCost cost;
    std::vector<double> per_image(models.size(), -1);
    for (const auto& c : configs) {
        SweepModel& m = models.at(c.model);
        if (per_image[c.model] < 0) per_image[c.model] = time_per_image(m, calibration_images, c.spec.eval_batch);
        ++cost.configurations[c.analysis];
        cost.rounds += c.spec.rounds;
        ++cost.clean_passes;
        cost.images = m.test->size();
        cost.seconds += static_cast<double>(c.spec.rounds + 1) * static_cast<double>(m.test->size()) * per_image[c.model];
    }
    return cost;
}

/// The configurations of `spec` over `models` (see the header comment), validated.
/// Refuses a list that names one value twice (`same` decides; `what` names the list): a
/// duplicate would give duplicate rows in one run and shard sets that cannot be merged.
template <class T, class Same>
void refuse_duplicates(const std::vector<T>& values, Same same, const std::string& what) {
    for (std::size_t i = 0; i < values.size(); ++i)
        for (std::size_t j = 0; j < i; ++j)
            if (same(values[i], values[j])) {
                std::ostringstream a, b;
                a << values[j];
                b << values[i];
                throw Error("fault campaign: " + what + " lists one value twice ('" + a.str() + "' and '" + b.str() + "')");
            }
}

/// The largest exact count a BER curve may ask for: more strata than this is no curve anyone runs.
inline constexpr std::size_t curve_k_limit = 100000;

inline std::vector<Configuration> plan_sweep(const SweepSpec& spec, const std::vector<SweepModel>& models) {
    for (const auto& d : spec.dtypes) codec_from_name(d);
    for (const auto& p : spec.protect) protection_from_name(p);
    if (spec.flips == 0)
        for (double r : spec.bers) FaultModel::bit_flip(r).validate();
    refuse_duplicates(spec.dtypes, [](const std::string& a, const std::string& b) { return codec_name(codec_from_name(a)) == codec_name(codec_from_name(b)); },
                      "the storage formats");
    refuse_duplicates(spec.protect, [](const std::string& a, const std::string& b) { return protection_from_name(a) == protection_from_name(b); },
                      "the protections");
    if (spec.flips == 0) refuse_duplicates(spec.bers, [](double a, double b) { return a == b; }, "the bit error rates");
    if (spec.curve && spec.curve->k_max > curve_k_limit)
        throw Error("BER curve: a largest exact count of " + std::to_string(spec.curve->k_max) + " exceeds the limit of " + std::to_string(curve_k_limit));
    if (models.empty()) throw Error("fault campaign: no model");
    std::vector<Configuration> configs;
    auto add = [&](const std::string& analysis, std::size_t m, const std::string& dtype, const std::string& protect, double rate, const Selection& s,
                   std::uint64_t mask, const std::string& layer, int bit, std::optional<std::uint64_t> count, std::size_t rounds, Estimator estimator) {
        Configuration c;
        c.analysis = analysis;
        c.model = m;
        c.dtype = dtype;
        c.protect = protect;
        c.rate = rate;
        c.layer = layer;
        c.bit = bit;
        c.spec = CampaignSpec{.codec = codec_from_name(dtype), .fault = FaultModel{spec.kind, rate, count, mask}, .rounds = rounds, .first_round = 0,
                              .seed = spec.seed, .protection = protection_from_name(protect), .selection = s, .estimator = estimator,
                              .critical_bits = spec.critical_bits, .confidence = spec.confidence, .fail_drop = spec.fail_drop,
                              .stopping = spec.stopping, .sign_strata = spec.sign_strata, .eval_batch = spec.eval_batch, .calibration = models[m].calibration,
                              .cache_bytes = spec.cache_bytes};
        detail::check_fault_space(c, models[m]);
        configs.push_back(std::move(c));
    };
    const std::optional<std::uint64_t> count = spec.flips ? std::optional<std::uint64_t>(spec.flips) : std::nullopt;
    const std::vector<double> rates = spec.flips ? std::vector<double>{0.0} : spec.bers;
    for (std::size_t m = 0; m < models.size(); ++m)
        for (const auto& dtype : spec.dtypes) {
            for (double rate : rates) {
                const std::string layer = spec.selection.patterns.empty() ? "*" : spec.selection.patterns.front();
                for (const auto& protect : spec.protect)
                    add("ber", m, dtype, protect, rate, spec.selection, spec.bit_mask, layer, -1, count, spec.rounds, spec.estimator);
                if (spec.per_layer)
                    models[m].net->for_each_parameter([&](const nn::Parameter<float>& p) {
                        if (!spec.selection.matches(p)) return;
                        Selection one = spec.selection;
                        one.patterns = {p.name};
                        add("layer", m, dtype, "none", rate, one, spec.bit_mask, p.name, -1, count, spec.rounds, spec.estimator);
                    });
                if (spec.per_bit) {
                    const int bits = detail::codec_bits(dtype);
                    for (int b = 0; b < bits; ++b)
                        if (spec.bit_mask >> b & 1) add("bit", m, dtype, "none", rate, spec.selection, std::uint64_t{1} << b, "*", b, count, spec.rounds, spec.estimator);
                }
            }
            if (spec.curve) {
                const std::uint64_t eligible = detail::selected_values(models[m], spec.selection) *
                                               static_cast<std::uint64_t>(std::popcount(detail::eligible_bits(detail::codec_bits(dtype), spec.bit_mask).mask));
                const std::size_t k_max = curve_k_max(*spec.curve, eligible);
                if (k_max > eligible)
                    throw Error("BER curve: a largest exact count of " + std::to_string(k_max) + " exceeds the " + std::to_string(eligible) +
                                " eligible bits of " + models[m].label + " in " + dtype);
                const std::size_t rounds = spec.curve->rounds ? spec.curve->rounds : spec.rounds;
                for (const auto& protect : spec.protect)
                    for (std::size_t k = 0; k <= k_max; ++k)
                        // Each k stratified by its critical count where that pays (auto; k = 0 has no faults).
                        add("count", m, dtype, protect, 0.0, spec.selection, spec.bit_mask, "*", -1, k, k == 0 ? 1 : rounds,
                            k == 0 || spec.estimator == Estimator::plain ? Estimator::plain : Estimator::automatic);
            }
        }
    return configs;
}

// ---------------------------------------------------------------------------------------------
// Resume state.

inline nlohmann::json eval_json(const train::EvalResult& e) { return {e.images, e.top1, e.top5, e.nan_images, e.inf_images}; }

inline train::EvalResult eval_from_json(const nlohmann::json& j) {
    const auto count = [&](std::size_t i) {
        if (!j.at(i).is_number_unsigned()) throw Error("evaluation count " + j.at(i).dump() + " is not a whole number >= 0");
        return j.at(i).get<std::size_t>();
    };
    if (!j.is_array() || j.size() != 5) throw Error("an evaluation must be [images, top1, top5, nan_images, inf_images]");
    train::EvalResult e{count(0), count(1), count(2), count(3), count(4)};
    if (e.top1 > e.top5 || e.top5 > e.images || e.nan_images > e.images || e.inf_images > e.images)
        throw Error("evaluation " + j.dump() + " is inconsistent (needs top1 <= top5 <= images, nan/inf images <= images)");
    return e;
}

inline nlohmann::json result_json(const CampaignResult& r) {
    nlohmann::json rounds = nlohmann::json::array();
    for (const auto& rr : r.rounds) rounds.push_back({rr.round, rr.flips, eval_json(rr.eval), rr.stratum, rr.critical});
    return {{"clean", eval_json(r.clean)}, {"design", r.design}, {"rounds", rounds}, {"stored_bits", r.stored_bits}, {"tensors", r.tensors},
            {"values", r.values}};
}

/// FNV-1a digest of a model's parameter values and buffers (BN statistics), in order: what the
/// resume state compares, so a checkpoint retrained under the same path is not mixed with stale rounds.
inline std::string model_digest(nn::ResNet<float>& net) {
    safnet::detail::Fnv1a h;
    const auto add = [&](const nn::Tensor<float>& t) { h.add(t.data(), t.size() * sizeof(float)); };
    net.for_each_parameter([&](const nn::Parameter<float>& p) { add(*p.value); });
    net.for_each_buffer([&](const std::string&, const nn::Tensor<float>& t) { add(t); });
    return h.hex();
}

/// FNV-1a digest of a prepared image set: its normalized images and its labels, so the data
/// actually evaluated and the normalization applied to it both count.
inline std::string set_digest(const train::PreparedSet& set) {
    safnet::detail::Fnv1a h;
    h.add(set.images.data(), set.images.size() * sizeof(float));
    h.add(set.labels.data(), set.labels.size() * sizeof(std::int32_t));
    return h.hex();
}

/// The identity of a sweep for resuming and merging: every option that changes its results, and
/// per model its weights, its file's metadata, and the test (and calibration) images it is
/// evaluated on after normalization.
inline nlohmann::json sweep_identity(const SweepSpec& s, const std::vector<SweepModel>& models, const std::string& dataset, std::size_t test_images) {
    std::map<const train::PreparedSet*, std::string> digests;  // models usually share their sets: hash each once
    const auto digest_of = [&](const train::PreparedSet* set) -> const std::string& {
        auto it = digests.find(set);
        if (it == digests.end()) it = digests.emplace(set, set_digest(*set)).first;
        return it->second;
    };
    nlohmann::json paths = nlohmann::json::array();
    for (const auto& m : models)
        paths.push_back(m.path + " (" + m.saf + ", digest " + model_digest(*m.net) + ", metadata " + m.metadata_digest + ", test data " +
                        digest_of(m.test) + (m.calibration ? ", calibration data " + digest_of(m.calibration) : std::string()) + ")");
    nlohmann::ordered_json j = {{"safnet_version", version_string}, {"models", paths}, {"dataset", dataset}, {"test_images", test_images},
                                {"dtypes", s.dtypes}, {"bers", s.bers}, {"fault", fault_kind_name(s.kind)}, {"bits", hex_mask(s.bit_mask)},
                                {"flips", s.flips}, {"protect", s.protect}, {"weights", s.selection.weights}, {"biases", s.selection.biases},
                                {"batchnorm", s.selection.batchnorm}, {"layers", s.selection.patterns}, {"per_layer", s.per_layer},
                                {"per_bit", s.per_bit}, {"rounds", s.rounds}, {"seed", s.seed}, {"estimator", estimator_name(s.estimator)},
                                {"critical_bits", s.critical_bits ? hex_mask(*s.critical_bits) : "auto"}, {"strata", s.sign_strata ? "sign" : "count"},
                                {"confidence", s.confidence},
                                {"fail_drop", s.fail_drop}, {"ci_halfwidth", s.stopping.ci_halfwidth}, {"min_rounds", s.stopping.min_rounds},
                                {"rare_failure", s.stopping.rare_failure}, {"check_every", s.stopping.check_every}, {"eval_batch", s.eval_batch}};
    if (s.curve)
        j["ber_curve"] = {{"low", s.curve->low}, {"high", s.curve->high}, {"points", s.curve->points}, {"k_max", s.curve->k_max},
                          {"rounds", s.curve->rounds}};
    return nlohmann::json::parse(j.dump());
}

namespace detail {

/// The first key of `a` whose value `b` lacks or holds differently (nullopt: none).
inline std::optional<std::string> first_difference(const nlohmann::json& a, const nlohmann::json& b) {
    for (auto it = a.begin(); it != a.end(); ++it)
        if (!b.contains(it.key()) || b.at(it.key()) != it.value()) return it.key();
    for (auto it = b.begin(); it != b.end(); ++it)
        if (!a.contains(it.key())) return it.key();
    return std::nullopt;
}

/// The first of `saved` that `used` does not hold (or holds once where `saved` has it twice), as text.
inline std::string unplanned_round(const std::vector<RoundResult>& saved, const std::vector<RoundResult>& used) {
    std::map<std::pair<std::size_t, std::size_t>, std::size_t> left;
    for (const auto& r : used) ++left[{r.stratum, r.round}];
    for (const auto& r : saved)
        if (left[{r.stratum, r.round}]-- == 0)
            return "round " + std::to_string(r.round) + " of stratum " + std::to_string(r.stratum);
    return "a round";
}

}  // namespace detail

/// Finished configurations on disk: `path` holds {"identity": ..., "done": {key: result}}.
class SweepState {
public:
    SweepState(std::filesystem::path path, nlohmann::json identity) : path_(std::move(path)), identity_(std::move(identity)) {}

    /// Reads the state of an interrupted run (none: nothing done); throws if its options differ.
    void load() {
        done_.clear();
        if (!std::filesystem::exists(path_)) return;
        const auto bytes = io::read_file(path_.string(), "the campaign state", io::max_state_file_bytes);
        parse(std::string(bytes.begin(), bytes.end()));
    }

    /// The same from the text of a state file (named by the path given at construction).
    void parse(const std::string& text) {
        done_.clear();
        rounds_before_.reset();
        nlohmann::json state;
        try {
            state = nlohmann::json::parse(text);
            if (!state.is_object() || !state.contains("done") || !state.at("done").is_object())
                throw Error(path_.string() + ": corrupt campaign state (needs an object with 'identity' and 'done'); delete it to start over");
            // Only the round budget may change: a run planned for more (or fewer) rounds replays the
            // saved rounds its design plans and runs the rest, as a run asking for them from the start would.
            nlohmann::json saved = state.at("identity"), now = identity_;
            if (saved.is_object()) saved.erase("rounds");
            now.erase("rounds");
            if (saved != now) {
                if (const auto key = detail::first_difference(now, saved))
                    throw Error(path_.string() + ": --resume needs the options of the interrupted run; '" + *key + "' was " +
                                (saved.contains(*key) ? saved.at(*key).dump() : "unset") + ", now " + (now.contains(*key) ? now.at(*key).dump() : "unset"));
                throw Error(path_.string() + ": --resume needs the options of the interrupted run, and they differ");
            }
            const auto rounds_of = [](const nlohmann::json& id) { return id.contains("rounds") ? id.at("rounds") : nlohmann::json(); };
            if (rounds_of(state.at("identity")) != rounds_of(identity_) && rounds_of(state.at("identity")).is_number_unsigned())
                rounds_before_ = state.at("identity").at("rounds").get<std::size_t>();
            const std::string saved_shard = state.contains("run") && state.at("run").contains("shard") ? state.at("run").at("shard").get<std::string>() : "0/1";
            const std::string shard = run_.contains("shard") ? run_.at("shard").get<std::string>() : "0/1";
            if (saved_shard != shard)
                throw Error(path_.string() + ": --resume needs the shard of the interrupted run; it was " + saved_shard + ", now " + shard);
            for (auto it = state.at("done").begin(); it != state.at("done").end(); ++it) done_[it.key()] = it.value();
        } catch (const nlohmann::json::exception& e) {
            throw Error(path_.string() + ": corrupt campaign state (" + e.what() + "); delete it to start over");
        }
    }

    /// The round budget of the loaded state when this run asks for another one (an extension).
    std::optional<std::size_t> rounds_before() const noexcept { return rounds_before_; }

    const nlohmann::json* find(const std::string& key) const {
        const auto it = done_.find(key);
        return it == done_.end() ? nullptr : &it->second;
    }
    std::size_t size() const noexcept { return done_.size(); }
    const std::map<std::string, nlohmann::json>& done() const noexcept { return done_; }
    const std::filesystem::path& path() const noexcept { return path_; }

    /// Records a finished configuration and writes the whole state atomically.
    void put(const std::string& key, nlohmann::json result) {
        done_[key] = std::move(result);
        write();
    }

    /// Run info kept beside the identity: {"shard": "I/N", "flags": [...], "configurations": n,
    /// "finished": bool} for shard runs (see the header comment); resuming checks the shard.
    void set_run(nlohmann::json run) { run_ = std::move(run); }
    const nlohmann::json& run() const noexcept { return run_; }
    /// Marks the run finished (every configuration done) and writes the state.
    void finish() {
        run_["finished"] = true;
        write();
    }
    /// Replaces the finished configurations (a merge) and writes the state.
    void assign(std::map<std::string, nlohmann::json> done) {
        done_ = std::move(done);
        write();
    }

    /// Only a writer touches the file (of several processes running one sweep, one writes).
    void set_writer(bool writer) noexcept { writer_ = writer; }

private:
    void write() const {
        if (!writer_) return;
        nlohmann::json state = {{"identity", identity_}, {"done", nlohmann::json::object()}};
        if (!run_.is_null()) state["run"] = run_;
        for (const auto& [k, v] : done_) state["done"][k] = v;
        io::write_file_atomic(path_.string(), state.dump() + "\n");
    }

    std::filesystem::path path_;
    nlohmann::json identity_;
    nlohmann::json run_ = nlohmann::json::object();
    bool writer_ = true;
    std::optional<std::size_t> rounds_before_;
    std::map<std::string, nlohmann::json> done_;
};

/// The rounds of a saved result, checked (a corrupt file is an error naming what is wrong).
inline std::vector<RoundResult> rounds_from_json(const nlohmann::json& j, std::size_t test_images) {
    std::vector<RoundResult> rounds;
    if (!j.is_object() || !j.contains("rounds") || !j.at("rounds").is_array()) throw Error("a saved result must be an object with a 'rounds' array");
    for (const auto& x : j.at("rounds")) {
        if (!x.is_array() || x.size() != 5) throw Error("a saved round must be [round, flips, eval, stratum, critical]");
        for (std::size_t i : {0, 1, 3, 4})
            if (!x.at(i).is_number_unsigned()) throw Error("saved round field " + x.at(i).dump() + " is not a whole number >= 0");
        RoundResult r;
        r.round = x.at(0).get<std::size_t>();
        r.flips = x.at(1).get<std::uint64_t>();
        r.eval = eval_from_json(x.at(2));
        r.stratum = x.at(3).get<std::size_t>();
        r.critical = x.at(4).get<std::uint64_t>();
        if (r.round > std::numeric_limits<std::uint32_t>::max()) throw Error("saved round number " + std::to_string(r.round) + " does not fit 32 bits");
        if (r.eval.images != test_images)
            throw Error("a saved round evaluated " + std::to_string(r.eval.images) + " images, the test set has " + std::to_string(test_images));
        rounds.push_back(r);
    }
    return rounds;
}

/// The clean evaluation saved with a configuration's rounds.
inline train::EvalResult clean_from_json(const nlohmann::json& j, std::size_t test_images) {
    if (!j.contains("clean")) throw Error("a saved result must hold its 'clean' evaluation");
    const train::EvalResult clean = eval_from_json(j.at("clean"));
    if (clean.images != test_images)
        throw Error("the saved clean pass evaluated " + std::to_string(clean.images) + " images, the test set has " + std::to_string(test_images));
    return clean;
}

/// The union of finished shard states (see the header comment).
struct ShardUnion {
    nlohmann::json identity, flags;
    std::size_t configurations = 0;  // owned by the shards together
    std::map<std::string, nlohmann::json> done;
    std::map<std::string, std::string> source;  // configuration key -> the shard state holding it
};

/// The shard state a merged configuration came from.
inline std::string merge_source(const ShardUnion& u, const std::string& key) {
    const auto it = u.source.find(key);
    return it == u.source.end() ? "merge" : it->second;
}


/// Runs `configs` (from plan_sweep) in order; see the header comment. `on_round(i, round)` and
/// `on_done(i)` report progress (optional); `runner` runs each batch of rounds (estimator.hpp).
/// `merged` (a merge: `state` holds the union of the shards' results): nothing is computed but
/// each configuration's clean pass, which must equal the one its shard saved; a result that
/// lacks rounds, or whose rounds' faults differ from what their seeds give, is refused naming
/// the shard's state file and the configuration.
inline void run_sweep(std::vector<Configuration>& configs, std::vector<SweepModel>& models, SweepState& state, bool resume,
                      const std::function<void(std::size_t, const RoundResult&)>& on_round = {},
                      const std::function<void(std::size_t, bool)>& on_done = {}, const BatchRunner& runner = {},
                      const ShardUnion* merged = nullptr) {
    if (resume) state.load();
    for (std::size_t i = 0; i < configs.size(); ++i) {
        Configuration& c = configs[i];
        SweepModel& m = models.at(c.model);
        const nlohmann::json* saved = resume ? state.find(c.key()) : nullptr;
        std::vector<RoundResult> resumed;
        std::optional<train::EvalResult> resumed_clean;
        std::string resumed_design;
        if (saved) {
            try {
                resumed = rounds_from_json(*saved, m.test->size());
                resumed_clean = clean_from_json(*saved, m.test->size());
                if (saved->contains("design")) resumed_design = saved->at("design").get<std::string>();
            } catch (const std::exception& e) {
                throw Error(state.path().string() + ": corrupt campaign state, configuration " + c.key() + ": " + e.what() + "; delete it to start over");
            }
        }
        const BatchRunner named = runner ? BatchRunner([&](std::span<const WorkItem> items, const std::function<RoundResult(const WorkItem&)>& sample,
                                                           std::vector<RoundResult>& out) {
            try {
                runner(items, sample, out);
            } catch (const std::exception& e) {
                throw Error("configuration " + c.key() + ": " + e.what());
            }
        }) : BatchRunner{};
        const std::size_t saved_rounds = resumed.size();
        const std::vector<RoundResult> shard_rounds = merged ? resumed : std::vector<RoundResult>{};
        std::size_t ran = 0;
        const std::string where = merged ? merge_source(*merged, c.key()) : state.path().string();
        try {
            c.result = run_campaign(*m.net, *m.test, c.spec, [&](const RoundResult& r) {
                if (merged) throw Error("the saved result lacks rounds its design plans (a merge computes none; resume that shard first)");
                ++ran;
                if (on_round) on_round(i, r);
            }, std::move(resumed), named, resumed_clean, merged != nullptr, resumed_design);
        } catch (const std::exception& e) {
            if (!saved) throw;
            throw Error(where + ": configuration " + c.key() + ": " + e.what());
        }
        if (merged && c.result.rounds.size() != saved_rounds)
            throw Error(where + ": configuration " + c.key() + ": " + detail::unplanned_round(shard_rounds, c.result.rounds) +
                        " is held twice or is not in the plan of these options (a merge takes exactly the rounds the design plans)");
        if (merged && resumed_clean && !(c.result.clean == *resumed_clean))
            throw Error(where + ": configuration " + c.key() + ": the saved clean pass scored " + std::to_string(resumed_clean->top1) + " of " +
                        std::to_string(resumed_clean->images) + " images, the model scores " + std::to_string(c.result.clean.top1));
        // A saved configuration is rewritten only when this design needed other rounds than it holds.
        if (!saved || ran > 0 || c.result.rounds.size() != saved_rounds) state.put(c.key(), result_json(c.result));
        if (on_done) on_done(i, saved != nullptr && ran == 0);
    }
}


/// The union of shard states given as (name, text) pairs, the name standing for the file in
/// messages; merge_shard_states reads the files and calls this.
inline ShardUnion merge_shard_texts(const std::vector<std::pair<std::string, std::string>>& states) {
    if (states.empty()) throw Error("merge: no shard directories given");
    ShardUnion u;
    std::vector<bool> seen(states.size(), false);
    for (std::size_t n = 0; n < states.size(); ++n) {
        const std::string& where = states[n].first;
        nlohmann::json state;
        try {
            state = nlohmann::json::parse(states[n].second);
            if (!state.is_object() || !state.contains("identity") || !state.contains("done") || !state.at("done").is_object() || !state.contains("run"))
                throw Error(where + ": not a campaign state with 'identity', 'run' and 'done'");
            const auto& run = state.at("run");
            if (!run.contains("shard") || !run.contains("flags") || !run.contains("configurations"))
                throw Error(where + ": the state has no shard information (a run without --shard?)");
            const Shard sh = Shard::parse(run.at("shard").get<std::string>(), where + ": shard");
            if (sh.count != states.size())
                throw Error(where + ": is shard " + sh.text() + ", but " + std::to_string(states.size()) + " shard directories were given");
            if (seen[sh.index]) throw Error(where + ": shard " + sh.text() + " is given twice");
            seen[sh.index] = true;
            const std::size_t owned = run.at("configurations").get<std::size_t>();
            if (!run.value("finished", false) || state.at("done").size() != owned)
                throw Error(where + ": shard " + sh.text() + " is not finished (" + std::to_string(state.at("done").size()) + " of " +
                            std::to_string(owned) + " configurations); resume it first");
            if (n == 0) {
                u.identity = state.at("identity");
                u.flags = run.at("flags");
            } else if (state.at("identity") != u.identity) {
                const auto key = detail::first_difference(u.identity, state.at("identity")).value_or("?");
                throw Error("merge: " + where + " comes from other options or models than " + states[0].first + ": '" + key + "' is " +
                            (state.at("identity").contains(key) ? state.at("identity").at(key).dump() : "unset") + " there and " +
                            (u.identity.contains(key) ? u.identity.at(key).dump() : "unset") + " in the first");
            }
            u.configurations += owned;
            for (auto it = state.at("done").begin(); it != state.at("done").end(); ++it)
                if (!u.done.emplace(it.key(), it.value()).second) throw Error("merge: configuration " + it.key() + " is in two shards");
                else u.source[it.key()] = where;
        } catch (const nlohmann::json::exception& e) {
            throw Error(where + ": corrupt campaign state (" + e.what() + ")");
        }
    }
    return u;
}

/// The union of the shard states at `paths` (each DIR_i/campaign-state.json).
inline ShardUnion merge_shard_states(const std::vector<std::filesystem::path>& paths) {
    std::vector<std::pair<std::string, std::string>> states;
    for (const auto& p : paths) {
        const auto bytes = io::read_file(p.string(), "a shard's campaign state", io::max_state_file_bytes);
        states.emplace_back(p.string(), std::string(bytes.begin(), bytes.end()));
    }
    return merge_shard_texts(states);
}

}  // namespace safnet::fault
