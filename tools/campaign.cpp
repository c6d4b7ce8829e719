// safnet-campaign: fault-injection campaigns on the stored weights of trained models: accuracy
// and failure probability vs BER per storage format, with and without SAFs, per layer and per
// bit position, against clipping baselines, and accuracy-vs-BER curves from exact-count strata.
// Flags, printing and plots only: the sweep itself is safnet/fault/run/sweep.hpp. Run with --help.
#include "cli.hpp"
#include "progress.hpp"

#include <safnet/fault/report/report.hpp>
#include <safnet/fault/report/results_dir.hpp>
#include <safnet/fault/run/sweep.hpp>
#include <safnet/fault/run/timing_log.hpp>
#include <safnet/io/dir_lock.hpp>
#include <safnet/io/model_file.hpp>
#include <safnet/safnet.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#if SAFNET_WITH_MPI
#include <safnet/fault/run/mpi.hpp>
#endif

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

namespace {

namespace fs = std::filesystem;
using namespace safnet;

struct Flags {
    std::vector<std::string> models, dtypes{"fp32"}, protect{"none"}, layers, compare;
    std::vector<double> bers{1e-5};
    std::vector<float> norm_mean, norm_std;
    std::string dataset, data_dir, fault = "flip", bits = "all", rounds = "100", out, saf, estimator = "auto",
                critical_bits = "auto", strata = "sign", ber_curve, shard, cache_mb = "auto";
    std::uint64_t flips = 0, seed = 1;
    double margin = 0.05, confidence = 0.95, ci_halfwidth = 0, fail_drop = 10, rare_failure = 0.01;
    std::size_t threads = 2, test_limit = 0, batch = 500, min_rounds = 30, curve_rounds = 0, curve_kmax = 0;
    bool biases = false, bn = false, per_layer = false, per_bit = false, quiet = false, resume = false, overwrite = false, dry_run = false;
};

std::uint64_t parse_mask(const std::string& s, const char* flag) {
    if (s == "all") return ~std::uint64_t{0};
    char* end = nullptr;
    const std::uint64_t v = std::strtoull(s.c_str(), &end, 0);
    if (s.empty() || *end != '\0' || v == 0 || s.front() == '-') throw Error(std::string(flag) + ": '" + s + "' is not a bit mask (e.g. 0x7F800000, or all)");
    return v;
}

void add_flags(CLI::App& app, Flags& f) {
    app.add_option("--model", f.models, "checkpoint(s) to test (repeat the flag to compare models in one run)")->required();
    app.add_option("--dataset", f.dataset, "test split: fashion-mnist | mnist | cifar10 | cifar100 | cifar100-coarse (default: the one the model files record)")
        ->check(CLI::IsMember(data::dataset_names()));
    app.add_option("--data-dir", f.data_dir, "dataset directory (default for fashion-mnist: /usr/share/datasets/fashion-mnist)");
    app.add_option("--dtype", f.dtypes, "storage formats, comma-separated: fp32, fp16, bf16, q<I>.<F> (e.g. q2.5)")->delimiter(',')->capture_default_str();
    app.add_option("--ber", f.bers, "bit error rates (or stuck-at rates), comma-separated, each in [0, 1]")->delimiter(',')->capture_default_str();
    app.add_option("--fault", f.fault, "fault model: flip | stuck0 | stuck1")->capture_default_str();
    app.add_option("--bits", f.bits, "eligible bit positions as a mask (0x7F800000 = fp32 exponent) or 'all'")->capture_default_str();
    app.add_option("--flips", f.flips, "exactly this many faulty bits per round instead of a rate (--ber is ignored)");
    app.add_option("--rounds", f.rounds, "rounds per configuration (the cap with --ci-halfwidth), or 'auto' (Leveugle et al. 2009 for --margin/--confidence)")
        ->capture_default_str();
    app.add_option("--margin", f.margin, "error margin for --rounds auto")->check(CLI::Range(1e-4, 0.5))->capture_default_str();
    app.add_option("--confidence", f.confidence, "confidence level of every interval (and of --rounds auto)")->check(CLI::Range(0.5, 0.9999))->capture_default_str();
    app.add_option("--estimator", f.estimator, "plain | stratified (by critical-bit count) | auto (stratified where it applies)")
        ->check(CLI::IsMember({"plain", "stratified", "auto"}))->capture_default_str();
    app.add_option("--critical-bits", f.critical_bits, "the stratified estimator's critical bit positions as a mask, or 'auto' (the most damaging)")
        ->capture_default_str();
    app.add_option("--strata", f.strata, "stratified: 'sign' splits the critical-fault-count strata by the sign of the hit values, 'count' does not")
        ->check(CLI::IsMember({"sign", "count"}))->capture_default_str();
    app.add_option("--fail-drop", f.fail_drop, "a round fails when its top-1 is more than this many points below clean")
        ->check(CLI::Range(0.0, 100.0))->capture_default_str();
    app.add_option("--ci-halfwidth", f.ci_halfwidth, "stop a configuration once its interval's half-width is below this (points)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--min-rounds", f.min_rounds, "with --ci-halfwidth: never stop before this many rounds")->capture_default_str();
    app.add_option("--rare-failure", f.rare_failure, "with --ci-halfwidth: run until a failure mode of this per-round probability is seen "
                                                     "with probability --confidence")->check(CLI::Range(1e-6, 0.5))->capture_default_str();
    app.add_option("--ber-curve", f.ber_curve, "accuracy vs BER from exact-count strata, LO:HI:N (log-spaced), e.g. 1e-10:1e-5:31");
    app.add_option("--curve-rounds", f.curve_rounds, "rounds per exact-count stratum of --ber-curve (default: --rounds)");
    app.add_option("--curve-kmax", f.curve_kmax, "largest exact count of --ber-curve (default: tail <= 1e-3 at HI, at most 40)");
    app.add_option("--seed", f.seed, "campaign seed: every round's faults come from Philox streams of (seed, round, stratum)")->capture_default_str();
    app.add_option("--threads", f.threads, "compute threads (results do not depend on it)")->check(CLI::Range(std::size_t{1}, std::size_t{256}))
        ->capture_default_str();
    app.add_option("--out", f.out, "output directory (created if missing; required unless --dry-run)");
    app.add_option("--saf", f.saf, "override the checkpoints' SAF (experiments only: the weights were trained for theirs)");
    app.add_option("--norm-mean", f.norm_mean, "per-channel input mean on a 0..1 scale, for model files without normalization metadata "
                                               "(overrides the files'; use the values the model was trained with)")->delimiter(',');
    app.add_option("--norm-std", f.norm_std, "per-channel input std on a 0..1 scale (with --norm-mean)")->delimiter(',');
    app.add_option("--protect", f.protect, "protection, comma-separated: none | clip (clamp weights to their clean range at read) | clipact (bound each ReLU by its clean maximum)")
        ->delimiter(',')->capture_default_str();
    app.add_flag("--include-biases", f.biases, "also store linear biases in faulty memory");
    app.add_flag("--include-bn", f.bn, "also store BN weights and biases in faulty memory");
    app.add_option("--layers", f.layers, "only parameters whose name matches this glob (repeatable), e.g. 'layer3.*'");
    app.add_flag("--per-layer", f.per_layer, "analysis: faults in one parameter tensor at a time");
    app.add_flag("--per-bit", f.per_bit, "analysis: faults in one bit position at a time");
    app.add_option("--test-limit", f.test_limit, "evaluate on the first N test images only (0 = all)")->capture_default_str();
    app.add_option("--batch", f.batch, "evaluation batch size")->check(CLI::Range(std::size_t{1}, std::size_t{100000}))->capture_default_str();
    app.add_option("--cache-mb", f.cache_mb, "memory for the clean prefix cache in MB (rounds compute only from the first damaged layer, "
                                             "NaN images stop early; results unchanged), 0 = off, auto = a quarter of the available memory")
        ->capture_default_str();
    app.add_flag("--quiet", f.quiet, "no progress bar");
    app.add_flag("--resume", f.resume, "skip configurations already finished in --out (its campaign-state.json) by a run with the same flags; --rounds may differ (the saved rounds are reused, as a run asking for that many from the start would compute them)");
    app.add_option("--compare", f.compare, "paired comparisons A:B on the same faults (model label, SAF, protection or model+protect; "
                                           "repeatable); default: every configuration against the unprotected first none-SAF model (else first model) of its format and rate")
        ->delimiter(',');
    app.add_flag("--dry-run", f.dry_run, "print what the campaign would compute (configurations, rounds, images, the curves' reach) and an upper "
                                         "estimate of its time from a short calibration pass, then stop; nothing is written");
    app.add_flag("--overwrite", f.overwrite, "replace the campaign an existing --out holds (without it, such an --out is refused unless --resume)");
    app.add_option("--shard", f.shard, "run only the I-th of N deterministic slices of the configurations (I/N, e.g. 0/4); "
                                       "combine the shards' --out directories with 'safnet-campaign merge --out DIR DIR_0 ... DIR_N-1'");
}

// The command line of this run, and the merged shard states when it is the last step of a merge.
std::vector<std::string> g_args;
const fault::ShardUnion* g_merge = nullptr;
// A compare step: each replayed run's configurations go here, named by its directory.
std::vector<fault::RunResults>* g_collect = nullptr;
std::string g_source;

// This process among the ranks of an MPI job (rank 0 of 1 without MPI): the batch runner that
// shares out the rounds, and a collective that gathers each rank's timing for rank 0.
struct Process {
    int rank = 0, size = 1;
    fault::BatchRunner runner{};
    std::function<nlohmann::ordered_json()> gather_timing{};
};
Process g_process;

/// The flags that decide a run's results: the command line without --out, --shard, --resume,
/// --threads, --cache-mb and --quiet (what a merge reruns).
std::vector<std::string> result_flags(const std::vector<std::string>& args) {
    const auto name = [](const std::string& a) { return a.substr(0, a.find('=')); };
    std::vector<std::string> kept;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string n = name(args[i]);
        if (n == "--out" || n == "--shard" || n == "--threads" || n == "--cache-mb") {
            if (args[i].find('=') == std::string::npos) ++i;  // the value is the next argument
        } else if (n != "--resume" && n != "--quiet") {
            kept.push_back(args[i]);
        }
    }
    return kept;
}

fault::SweepSpec sweep_spec(const Flags& f) {
    fault::SweepSpec s;
    s.dtypes = f.dtypes;
    s.bers = f.bers;
    s.kind = fault::fault_kind_from_name(f.fault);
    s.bit_mask = parse_mask(f.bits, "--bits");
    s.flips = f.flips;
    s.protect = f.protect;
    s.selection = {true, f.biases, f.bn, f.layers};
    s.per_layer = f.per_layer;
    s.per_bit = f.per_bit;
    if (f.rounds == "auto") {
        s.rounds = fault::leveugle_sample_size(f.margin, f.confidence);
    } else {
        char* end = nullptr;
        const unsigned long long v = std::strtoull(f.rounds.c_str(), &end, 10);
        if (f.rounds.empty() || f.rounds.front() == '-' || *end != '\0' || v == 0 || v > 100000000)
            throw Error("--rounds: '" + f.rounds + "' is not a count from 1 to 100000000 or 'auto'");
        s.rounds = static_cast<std::size_t>(v);
    }
    s.seed = f.seed;
    s.estimator = fault::estimator_from_name(f.estimator);
    if (f.critical_bits != "auto") s.critical_bits = parse_mask(f.critical_bits, "--critical-bits");
    s.sign_strata = f.strata == "sign";
    s.confidence = f.confidence;
    s.fail_drop = f.fail_drop;
    s.stopping = {.ci_halfwidth = f.ci_halfwidth, .min_rounds = f.min_rounds, .rare_failure = f.rare_failure};
    if (!f.ber_curve.empty()) {
        s.curve = fault::parse_curve(f.ber_curve);
        s.curve->rounds = f.curve_rounds;
        s.curve->k_max = f.curve_kmax;
    }
    s.eval_batch = f.batch;
    if (f.cache_mb != "auto") s.cache_bytes = static_cast<std::size_t>(parse_unsigned(f.cache_mb, 1u << 30, "--cache-mb")) << 20;
    return s;
}


/// How far the exact-count strata carry the curve, and what would carry it to the asked end.
void print_curve_reach(const fault::Curve& c, const std::vector<fault::SweepModel>& models, const fault::CurveSpec& asked) {
    const double reach = fault::curve_reach(c.eligible_bits, c.k_max);
    std::printf("curve %s: k = 0..%zu reaches BER %s", fault::curve_title(c, models).c_str(), c.k_max, fault::format_number(reach, 3).c_str());
    if (reach >= asked.high) {
        std::printf(" (asked up to %s)\n", fault::format_number(asked.high, 3).c_str());
        return;
    }
    std::printf("; above it the unmeasured tail P(K > %zu) exceeds %g, so the curve and its plot end there (asked up to %s: --curve-kmax %llu)\n",
                c.k_max, fault::curve_tail_limit, fault::format_number(asked.high, 3).c_str(),
                static_cast<unsigned long long>(fault::curve_k_for(c.eligible_bits, asked.high)));
}

/// What a configuration measures, for progress and log lines: format, faults and, by kind, the
/// protection, the layer, the bit position or the curve's exact count.
std::string describe(const fault::Configuration& c) {
    std::string d = c.dtype + " " + fault::fault_label(c);
    if (c.analysis == "layer") return d + " in " + c.layer;
    if (c.analysis == "bit") return d + " at bit " + std::to_string(c.bit);
    if (c.analysis == "count") return d + " (curve)";
    return c.protect == "none" ? d : d + " +" + c.protect;
}

void print_table(const std::vector<fault::Configuration>& configs, const std::vector<fault::SweepModel>& models) {
    std::printf("\n%-26s %-9s %-6s %-7s %-9s %6s %6s %16s %6s %18s %5s %-10s %s\n", "model", "saf", "dtype", "protect", "fault", "clean", "mean",
                "interval", "rounds", "P(fail) [interval]", "NaN", "estimator", "interval method");
    std::map<std::string, std::vector<std::string>> notes;  // design note -> configurations
    double widest = 0;
    for (const auto& c : configs) {
        if (c.analysis != "ber") continue;
        const auto& e = c.result.estimate;
        char ci[40], fail[48];
        if (e.top1.has_interval())
            std::snprintf(ci, sizeof ci, "[%.2f, %.2f]", e.top1.ci_low, e.top1.ci_high);
        else
            std::snprintf(ci, sizeof ci, "no interval");
        std::snprintf(fail, sizeof fail, "%.3f [%.3f, %.3f]", e.fail_prob, e.fail_ci.low, e.fail_ci.high);
        std::printf("%-26s %-9s %-6s %-7s %-9s %6.2f %6.2f %16s %6zu %18s %5zu %-10s %s\n", models[c.model].label.c_str(), models[c.model].saf.c_str(),
                    c.dtype.c_str(), c.protect.c_str(), fault::fault_label(c).c_str(), c.result.clean.accuracy(), e.top1.mean, ci, e.rounds, fail,
                    c.result.rounds_with_nan, fault::estimator_name(e.estimator), fault::interval_kind_name(e.top1.ci_method));
        if (!e.design_note.empty()) notes[e.design_note].push_back(c.dtype + " @" + fault::fault_label(c));
        if (e.top1.has_interval()) widest = std::max(widest, e.top1.ci_halfwidth());
    }
    std::printf("(mean: top-1 %% over rounds; P(fail): share of rounds more than --fail-drop points below clean; NaN: rounds with NaN logits)\n");
    for (const auto& [note, where] : notes) {
        std::string list;
        for (std::size_t i = 0; i < where.size() && i < 4; ++i) list += (i ? ", " : "") + where[i];
        if (where.size() > 4) list += ", ... (" + std::to_string(where.size()) + " in all)";
        std::printf("design: %s: %s\n", list.c_str(), note.c_str());
    }
    std::map<std::string, double> at_chance;  // model label -> clean top-1 at most 1.5 x chance
    for (const auto& c : configs) {
        const double chance = 100.0 / static_cast<double>(std::max<std::size_t>(models[c.model].test->classes, 1));
        if (c.analysis == "ber" && c.result.clean.accuracy() <= 1.5 * chance) at_chance[models[c.model].label + " " + c.dtype] = c.result.clean.accuracy();
    }
    for (const auto& [what, clean] : at_chance)
        std::printf("warning: %s scores %.2f %% clean, at chance level: its P(fail) and losses say nothing about its robustness\n", what.c_str(), clean);
    if (widest > 2)
        std::printf("hint: intervals up to ±%.2f points wide; more --rounds narrow them, or --ci-halfwidth 0.5 runs each configuration until its "
                    "interval is ±0.5\n", widest);
}

/// What the run will compute and an upper estimate of its time, and each curve's reach, before
/// any round runs.
void print_plan(const std::vector<fault::Configuration>& configs, std::vector<fault::SweepModel>& models, const fault::SweepSpec& spec,
                std::size_t threads) {
    const fault::SweepCost cost = fault::sweep_cost(configs, models);
    std::string kinds;
    const std::map<std::string, std::string> names{{"ber", "at a BER"}, {"layer", "per layer"}, {"bit", "per bit"}, {"count", "curve counts"}};
    for (const auto& [analysis, n] : cost.configurations) kinds += (kinds.empty() ? "" : ", ") + std::to_string(n) + " " + names.at(analysis);
    std::printf("plan: %zu configuration(s) (%s), at most %zu rounds and %zu clean passes over %zu images each: at most about %s with %zu threads "
                "(calibrated; rounds that start at the first damaged layer take less)\n",
                configs.size(), kinds.c_str(), cost.rounds, cost.clean_passes, cost.images, examples::format_duration(cost.seconds).c_str(), threads);
    if (spec.curve)
        for (const auto& c : fault::planned_curves(configs, models)) print_curve_reach(c, models, *spec.curve);
    std::fflush(stdout);
}


std::vector<std::pair<std::string, std::string>> compare_pairs(const std::vector<std::string>& specs) {
    std::vector<std::pair<std::string, std::string>> pairs;
    for (const auto& spec : specs) {
        const auto colon = spec.find(':');
        if (colon == std::string::npos || colon == 0 || colon + 1 == spec.size())
            throw Error("--compare: '" + spec + "' is not A:B (two names: a model label, a SAF, a protection, or model+protect)");
        pairs.emplace_back(spec.substr(0, colon), spec.substr(colon + 1));
    }
    return pairs;
}

void print_comparisons(const std::vector<fault::Comparison>& cs, const std::vector<fault::Configuration>& configs,
                       const std::vector<fault::SweepModel>& models) {
    std::printf("\ndifferences, a minus b (paired.csv; paired on the same faults where the designs allow):\n");
    for (const auto& c : cs) {
        const auto &a = configs[c.a], &b = configs[c.b];
        const auto& d = c.diff;
        const std::string where = a.dtype + " @" + fault::fault_label(a) + ": " + fault::comparison_label(a, models) + " - " + fault::comparison_label(b, models);
        if (!d.has_interval) {
            std::printf("  %s: no interval (%s)\n", where.c_str(), d.why.c_str());
            continue;
        }
        const char* verdict = d.ci.low > 0 ? "a better" : d.ci.high < 0 ? "b better" : "not resolved";
        const std::string over = d.paired ? "over " + std::to_string(d.pairs) + " pairs" : "not paired: " + d.why;
        std::printf("  %s: top-1 %+.2f [%+.2f, %+.2f] points, P(fail) %+.3f [%+.3f, %+.3f] %s (%s): %s\n", where.c_str(), d.mean, d.ci.low,
                    d.ci.high, d.fail, d.fail_ci.low, d.fail_ci.high, over.c_str(), d.method.c_str(), verdict);
    }
}

/// A model that scores other than its file records on the same full test split was evaluated
/// with another normalization, other data or other metadata (a relabelled SAF) than it was
/// trained with: its fault results would be about another network.
constexpr double recorded_accuracy_tolerance = 0.1;  // points

void warn_recorded_accuracy(const std::vector<fault::Configuration>& configs, const std::vector<io::ModelFile>& files, const Flags& f) {
    if (f.test_limit != 0) return;  // the file records the full test split
    std::set<std::size_t> warned;
    for (const auto& c : configs) {
        const io::ModelFile& m = files[c.model];
        if (c.analysis != "ber" || c.dtype != "fp32" || c.protect != "none" || !m.recorded_accuracy || m.recorded_dataset != f.dataset ||
            (m.recorded_test_images && *m.recorded_test_images != c.result.clean.images) || warned.count(c.model))
            continue;
        const double clean = c.result.clean.accuracy();
        if (std::abs(clean - *m.recorded_accuracy) > recorded_accuracy_tolerance) {
            std::printf("warning: %s scores %.2f %% clean on the full %s test split, its file records %.2f %% (more than %.1f points apart): "
                        "another normalization, other data or changed metadata than it was trained with?\n",
                        m.path.c_str(), clean, f.dataset.c_str(), *m.recorded_accuracy, recorded_accuracy_tolerance);
            warned.insert(c.model);
        }
    }
}

/// The dataset the --model files record (all the same), for a run without --dataset.
std::string recorded_dataset(const std::vector<std::string>& paths) {
    std::string dataset, first;
    for (const auto& path : paths) {
        const std::string d = io::Safetensors::read_file(path).meta("dataset");
        if (d.empty()) throw Error("--dataset: " + path + " records no dataset in its metadata; pass --dataset");
        if (!dataset.empty() && d != dataset)
            throw Error("--dataset: the models record different datasets (" + first + ": " + dataset + ", " + path + ": " + d + "); pass --dataset");
        if (dataset.empty()) dataset = d, first = path;
    }
    return dataset;
}

int run(const Flags& given) {
    Flags f = given;
    if (f.out.empty() && !f.dry_run) throw Error("--out is required (the directory the results go to)");
    if (f.dataset.empty()) f.dataset = recorded_dataset(f.models);
    fault::SweepSpec spec = sweep_spec(f);  // every name and number is checked here, before any work
    compare_pairs(f.compare);
    if (!f.saf.empty()) saf_from_name(f.saf);
    if (spec.flips == 0)
        for (double r : spec.bers) fault::FaultModel::bit_flip(r).validate();
    const fs::path out(f.out);
    std::error_code ec;
    const bool writer = g_process.rank == 0;  // of several MPI ranks, rank 0 alone writes files
    std::optional<io::DirectoryLock> lock;
    if (writer && !f.dry_run) {
        fs::create_directories(out, ec);
        if (ec || !fs::is_directory(out)) throw Error("--out: cannot create directory " + f.out + (ec ? " (" + ec.message() + ")" : ""));
        io::write_file_atomic((out / ".write-test").string(), "");  // fails early, naming the directory, if it is not writable
        fs::remove(out / ".write-test");
        lock.emplace(out, "safnet-campaign");  // held until the run ends: two runs never write one --out
        if (fs::exists(out / "campaign-state.json") && !f.resume && !f.overwrite)
            throw Error("--out " + f.out + " holds a campaign already (campaign-state.json); pass --resume to continue it, --overwrite to replace it, "
                        "or another --out");
    }

    set_threads(f.threads);
    const std::string dir = f.data_dir.empty() ? data::default_data_dir(f.dataset) : f.data_dir;
    if (dir.empty()) throw Error("--data-dir is required for --dataset " + f.dataset);
    const data::Dataset test = data::load_dataset(f.dataset, dir, false);
    std::optional<data::Dataset> train_split;
    auto train = [&]() -> const data::Dataset& {
        if (!train_split) train_split = data::load_dataset(f.dataset, dir, true);
        return *train_split;
    };
    if (f.norm_mean.empty() != f.norm_std.empty()) throw Error("--norm-mean and --norm-std go together");
    std::optional<data::Normalization> norm_override;
    if (!f.norm_mean.empty()) norm_override = data::Normalization{f.norm_mean, f.norm_std};
    // Each model file once; test and calibration sets once per normalization.
    std::vector<io::ModelFile> files;
    std::map<std::string, std::unique_ptr<train::PreparedSet>> prepared, calibration;
    std::vector<fault::SweepModel> models;
    const bool clipact = std::find(f.protect.begin(), f.protect.end(), "clipact") != f.protect.end();
    for (const auto& path : f.models) {
        files.push_back(io::open_model(path, test, f.dataset, f.saf, norm_override));
        const auto& m = files.back();
        const std::string key = io::join_floats(m.norm.mean) + "/" + io::join_floats(m.norm.std);
        if (!prepared.count(key)) prepared[key] = std::make_unique<train::PreparedSet>(train::prepare(test, m.norm, f.test_limit));
        if (clipact && !calibration.count(key)) calibration[key] = std::make_unique<train::PreparedSet>(train::prepare(train(), m.norm, 2000));
        models.push_back({m.label, m.path, m.saf, m.net.get(), prepared[key].get(), clipact ? calibration[key].get() : nullptr, m.metadata_digest});
    }
    auto configs = fault::plan_sweep(spec, models);
    std::printf("safnet-campaign: %zu model(s), %zu configuration(s), up to %zu rounds each, %zu test images of %s%s, seed %llu, %zu threads, estimator %s%s\n",
                models.size(), configs.size(), spec.rounds, models.front().test->size(), f.dataset.c_str(),
                given.dataset.empty() ? " (as the model files record)" : "", static_cast<unsigned long long>(f.seed), f.threads,
                f.estimator.c_str(), f.ci_halfwidth > 0 ? ", adaptive stopping" : "");
    std::fflush(stdout);

    const nlohmann::json identity = fault::sweep_identity(spec, models, f.dataset, models.front().test->size());
    const fault::Shard shard = f.shard.empty() ? fault::Shard{} : fault::Shard::parse(f.shard);
    if (shard.count > 1) {
        configs = fault::shard_configurations(std::move(configs), shard);
        std::printf("shard %s: %zu configuration(s)\n", shard.text().c_str(), configs.size());
    }
    if (writer && !g_merge) print_plan(configs, models, spec, f.threads);  // a merge or compare replay computes no rounds
    if (f.dry_run) return 0;
    fault::SweepState state(out / "campaign-state.json", identity);
    state.set_writer(writer);
    state.set_run({{"shard", shard.text()}, {"flags", result_flags(g_args)}, {"configurations", configs.size()}, {"finished", false}});
    if (g_merge) {  // every configuration must come from a shard: a merge computes nothing
        if (g_merge->configurations != configs.size() || g_merge->identity != identity)
            throw Error("merge: the shards do not hold this sweep (" + std::to_string(g_merge->configurations) + " configurations in the shards, " +
                        std::to_string(configs.size()) + " planned; models or data changed since?)");
        for (const auto& c : configs)
            if (!g_merge->done.count(c.key())) throw Error("merge: configuration " + c.key() + " is in no shard");
        state.assign(g_merge->done);
    }
    const bool live = !f.quiet && writer && examples::stdout_is_terminal();
    examples::ProgressBar bar(live);
    const auto start = std::chrono::steady_clock::now();
    std::size_t ran = 0, resumed = 0;
    fault::TimingLog timing(out / "timing.json", f.resume && writer);
    if (!timing.note().empty()) std::printf("%s\n", timing.note().c_str());
    const auto run_header = [&] {
        return nlohmann::ordered_json{{"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()},
                                      {"threads", f.threads}, {"ranks", g_process.size}};
    };
    auto config_start = start;
    bool noted_cache = false;
    // ETA from the rounds still planned (each configuration's budget; adaptive runs may stop
    // sooner) at the pace of the rounds run so far.
    std::vector<std::size_t> budget_after(configs.size() + 1, 0);
    for (std::size_t i = configs.size(); i-- > 0;) budget_after[i] = budget_after[i + 1] + configs[i].spec.rounds;
    std::size_t ran_in_config = 0, config_of_round = configs.size();
    fault::run_sweep(configs, models, state, f.resume,
        [&](std::size_t i, const fault::RoundResult&) {
            ++ran;
            ran_in_config = config_of_round == i ? ran_in_config + 1 : 1;
            config_of_round = i;
            const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            const std::size_t left = budget_after[i + 1] + configs[i].spec.rounds - std::min(ran_in_config, configs[i].spec.rounds);
            bar.update(models[configs[i].model].label, i, configs.size(),
                       describe(configs[i]) + "  round " + std::to_string(ran_in_config) + ", " + examples::format_duration(elapsed) + ", ETA " +
                           examples::format_duration(elapsed / static_cast<double>(ran) * static_cast<double>(left)));
        },
        [&](std::size_t i, bool from_state) {
            const auto now = std::chrono::steady_clock::now();
            resumed += from_state;
            const auto& c = configs[i];
            const auto& cache = c.result.cache;
            timing.record(c.key(), std::chrono::duration<double>(now - config_start).count(), from_state,
                          {{"rounds", c.result.rounds.size()}, {"threads", f.threads},
                           {"prefix_cache", {{"on", cache.on}, {"bytes", cache.bytes}, {"cuts", cache.cuts}, {"nan_exit", cache.nan_exit},
                                             {"build_seconds", cache.build_seconds}, {"computed_fraction", cache.computed_fraction}}}});
            if (writer) {  // after each configuration, so a killed run leaves the times of what it finished
                auto header = run_header();
                header["finished"] = false;
                timing.write(header);
            }
            if (writer && !from_state && !cache.note.empty() && !noted_cache) {
                std::printf("%s\n", cache.note.c_str());
                noted_cache = true;
            }
            config_start = now;
            if (!live && writer && !from_state) {  // a log's line per configuration, of every kind
                const auto& e = c.result.estimate;
                std::printf("[%zu/%zu] %s %s: clean %.2f %%, mean %.2f %% over %zu rounds (%s), P(fail) %.3f; rounds computed %.0f %% of a pass\n",
                            i + 1, configs.size(), models[c.model].label.c_str(), describe(c).c_str(), c.result.clean.accuracy(),
                            e.top1.mean, e.rounds, fault::estimator_name(e.estimator), e.fail_prob, 100 * cache.computed_fraction);
                std::fflush(stdout);
            }
        },
        g_process.runner, g_merge);
    bar.finish();
    state.finish();
    const nlohmann::ordered_json rank_timing = g_process.gather_timing ? g_process.gather_timing() : nlohmann::ordered_json();
    if (!writer) return 0;
    if (f.resume) std::printf("resuming: %zu of %zu configurations already done\n", resumed, configs.size());
    if (const auto before = state.rounds_before())
        std::printf("extended from %zu to %zu rounds per configuration: the saved rounds the new design plans were reused, the others ran\n", *before,
                    spec.rounds);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    const auto results_start = std::chrono::steady_clock::now();
    const auto curves = fault::sweep_curves(configs, spec);
    const auto comparisons = fault::compare_sweep(configs, models, compare_pairs(f.compare), f.confidence);
    const auto tables = fault::write_sweep_tables(out, configs, models, identity, curves, comparisons);
    for (const auto& c : curves) print_curve_reach(c, models, *spec.curve);
    if (!comparisons.empty()) print_comparisons(comparisons, configs, models);
    const double results_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - results_start).count();
    auto header = run_header();
    header["seconds"] = seconds;
    header["finished"] = true;
    header["results_seconds"] = results_seconds;
    header["rank_timing"] = rank_timing;
    timing.write(header);
    for (const auto& name : fault::draw_sweep_plots(out, configs, models, curves))
        std::fprintf(stderr, "safnet-campaign: warning: gnuplot failed or is missing for %s (see %s; apt-get install gnuplot-nox)\n", name.c_str(),
                     (out / (name + ".gnuplot.log")).string().c_str());
    print_table(configs, models);
    for (const auto& t : tables) std::printf("\n%s (%s):\n%s", t.what.c_str(), t.file.c_str(), t.text.c_str());
    warn_recorded_accuracy(configs, files, f);
    std::size_t rounds = 0;
    for (const auto& c : configs) rounds += c.result.rounds.size();
    std::printf("\n%zu rounds (%zu run now) in %.1f s; results in %s\n", rounds, ran, seconds, f.out.c_str());
    if (g_collect) {
        fault::RunResults r{g_source, identity, configs, models};
        for (auto& m : r.models) m.net = nullptr, m.test = m.calibration = nullptr;  // the files close with this run
        g_collect->push_back(std::move(r));
    }
    return 0;
}

}  // namespace

namespace {

int run_tool(std::vector<std::string> args) {
    g_args.assign(args.begin() + 1, args.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    return examples::run_cli<Flags>("safnet-campaign", "safnet-campaign: Monte Carlo bit-error campaigns on stored weights", static_cast<int>(argv.size()),
                                    argv.data(), add_flags, run);
}

constexpr const char* merge_usage =
    "safnet-campaign merge: combine the --out directories of a sharded campaign (--shard I/N) into one\n"
    "Usage: safnet-campaign merge --out DIR [--threads T] [--quiet] DIR_0 ... DIR_N-1\n\n"
    "  --out DIR      where the merged campaign's files go (as one unsharded run writes them)\n"
    "  --threads T    threads for the clean passes it re-evaluates (default 2)\n"
    "  --quiet        no progress bar\n"
    "  DIR_i          shard i's --out directory; every shard 0 .. N-1 once, each finished\n\n"
    "Nothing but each configuration's clean pass is computed: every round comes from a shard, checked\n"
    "against its seed and the plan (docs/guides/scale-out.md).\n";

/// The flags and directories of `safnet-campaign merge|compare ...` (compare also takes --compare).
struct SubcommandArgs {
    std::string out, threads = "2";
    bool quiet = false, help = false;
    std::vector<std::string> pairs, dirs;
};

SubcommandArgs parse_subcommand(const std::vector<std::string>& args, const std::string& name, const std::string& usage) {
    SubcommandArgs a;
    for (std::size_t i = 2; i < args.size(); ++i) {
        const bool valued = args[i] == "--out" || args[i] == "--threads" || (name == "compare" && args[i] == "--compare");
        if (args[i] == "--help" || args[i] == "-h") {
            a.help = true;
        } else if (valued && i + 1 < args.size()) {
            (args[i] == "--compare" ? a.pairs.emplace_back() : args[i] == "--out" ? a.out : a.threads) = args[i + 1];
            ++i;
        } else if (args[i] == "--quiet") {
            a.quiet = true;
        } else if (args[i].rfind("--", 0) == 0) {
            throw Error(name + ": unknown flag '" + args[i] + "' or a flag without its value (usage: " + usage + ")");
        } else {
            a.dirs.push_back(args[i]);
        }
    }
    if (!a.help && a.out.empty()) throw Error(name + ": --out DIR is required (usage: " + usage + ")");
    return a;
}

/// Runs the campaign whose saved flags and rounds `state` holds again into `out`, computing
/// nothing but clean passes (g_merge).
int replay(const std::string& tool, const fault::ShardUnion& state, const std::string& out, const SubcommandArgs& a) {
    std::vector<std::string> rerun{tool};
    for (const auto& flag : state.flags) rerun.push_back(flag.get<std::string>());
    rerun.insert(rerun.end(), {"--out", out, "--resume", "--threads", a.threads});
    if (a.quiet) rerun.push_back("--quiet");
    g_merge = &state;
    const int status = run_tool(rerun);
    g_merge = nullptr;
    return status;
}

/// safnet-campaign merge --out DIR [--threads T] [--quiet] DIR_0 ... DIR_N-1
int run_merge(const std::vector<std::string>& args) {
    const SubcommandArgs a = parse_subcommand(args, "merge", "safnet-campaign merge --out DIR [--threads T] [--quiet] DIR_0 ... DIR_N-1");
    if (a.help) {
        std::fputs(merge_usage, stdout);
        return 0;
    }
    std::vector<fs::path> states;
    for (const auto& d : a.dirs) states.push_back(fs::path(d) / "campaign-state.json");
    const fault::ShardUnion merged = fault::merge_shard_states(states);
    std::printf("merge: %zu shards, %zu configurations\n", states.size(), merged.configurations);
    return replay(args[0], merged, a.out, a);
}

constexpr const char* compare_usage =
    "safnet-campaign compare: differences between the configurations of finished campaign runs\n"
    "Usage: safnet-campaign compare --out DIR [--compare A:B ...] [--threads T] [--quiet] RUN_DIR ...\n\n"
    "  --out DIR       where paired.csv goes (and, under DIR/runs/, each run's results as recomputed)\n"
    "  --compare A:B   a minus b for each configuration answering to A against each answering to B at\n"
    "                  the same format and rate (a model label, a SAF, a protection or model+protect;\n"
    "                  repeatable); default: every configuration against the unprotected first\n"
    "                  none-SAF model of its format and rate\n"
    "  --threads T     threads for the clean passes each run's replay re-evaluates (default 2)\n"
    "  --quiet         no progress bar\n"
    "  RUN_DIR         the --out directory of a finished campaign (a sharded one merged first)\n\n"
    "Nothing but each configuration's clean pass is computed: every round comes from the runs. Rounds\n"
    "of two runs pair (the same faults) where the seeds, stored bits and designs agree; otherwise the\n"
    "difference is that of independent campaigns, with a wider interval (fault/report/paired.hpp).\n";

/// safnet-campaign compare --out DIR [--compare A:B ...] [--threads T] [--quiet] RUN_DIR ...
int run_compare(const std::vector<std::string>& args) {
    const SubcommandArgs a =
        parse_subcommand(args, "compare", "safnet-campaign compare --out DIR [--compare A:B ...] [--threads T] [--quiet] RUN_DIR ...");
    if (a.help) {
        std::fputs(compare_usage, stdout);
        return 0;
    }
    if (a.dirs.empty()) throw Error("compare: no campaign directories given (usage: safnet-campaign compare --out DIR [--compare A:B ...] RUN_DIR ...)");
    const std::string& out = a.out;
    const std::vector<std::string>& dirs = a.dirs;
    const auto wanted = compare_pairs(a.pairs);
    fs::create_directories(out);
    io::DirectoryLock lock(out, "safnet-campaign compare");
    std::vector<fault::RunResults> runs;
    for (std::size_t i = 0; i < dirs.size(); ++i) {
        const fs::path dir = fs::path(dirs[i]).lexically_normal();
        const std::string name = dir.filename().empty() ? dir.parent_path().filename().string() : dir.filename().string();
        const fault::ShardUnion run = fault::merge_shard_states({dir / "campaign-state.json"});
        std::printf("compare: replaying %s (%zu configurations)\n", dirs[i].c_str(), run.configurations);
        std::fflush(stdout);
        g_collect = &runs;
        g_source = dirs[i];
        const int status = replay(args[0], run, (fs::path(out) / "runs" / (std::to_string(i) + "-" + name)).string(), a);
        g_collect = nullptr;
        if (status != 0) throw Error("compare: the replay of " + dirs[i] + " failed (above)");
    }
    const auto [configs, models] = fault::join_runs(runs);
    const auto comparisons = fault::compare_sweep(configs, models, wanted, runs.front().identity.at("confidence").get<double>());
    if (comparisons.empty()) throw Error("compare: no configuration pair answers to the --compare names at a common format and rate");
    io::write_file_atomic((fs::path(out) / "paired.csv").string(), fault::paired_csv(comparisons, configs, models));
    print_comparisons(comparisons, configs, models);
    std::printf("\n%zu comparisons of %zu runs in %s\n", comparisons.size(), runs.size(), (fs::path(out) / "paired.csv").string().c_str());
    return 0;
}

}  // namespace

#if SAFNET_WITH_MPI
namespace {

/// Launched by mpirun (Open MPI, or a PMI/PMIx launcher such as srun): one rank of a job.
bool launched_by_mpi() { return std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMIX_RANK") || std::getenv("PMI_RANK"); }

int run_mpi_rank(int argc, char** argv) {
    MPI_Init(&argc, &argv);
    fault::MpiRunner runner(MPI_COMM_WORLD);
    g_process.rank = runner.rank();
    g_process.size = runner.size();
    g_process.runner = std::ref(runner);
    g_process.gather_timing = [&runner] {
        const double mine[3] = {runner.busy_seconds(), runner.wait_seconds(), static_cast<double>(runner.items())};
        std::vector<double> all(3 * static_cast<std::size_t>(runner.size()));
        MPI_Gather(mine, 3, MPI_DOUBLE, all.data(), 3, MPI_DOUBLE, 0, MPI_COMM_WORLD);
        nlohmann::ordered_json ranks = nlohmann::ordered_json::array();
        for (int r = 0; r < runner.size(); ++r) {
            const double busy = all[3 * r], wait = all[3 * r + 1];
            ranks.push_back({{"rank", r}, {"busy_seconds", busy}, {"wait_seconds", wait}, {"work_items", all[3 * r + 2]},
                             {"idle_fraction", busy + wait > 0 ? wait / (busy + wait) : 0.0}});
        }
        return ranks;
    };
    if (g_process.rank != 0 && !std::freopen("/dev/null", "w", stdout)) std::fprintf(stderr, "rank %d: cannot silence stdout\n", g_process.rank);
    const int status = run_tool(std::vector<std::string>(argv, argv + argc));
    if (status != 0 && g_process.size > 1) {
        std::fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, status);  // the other ranks may wait in a collective
    }
    MPI_Finalize();
    return status;
}

}  // namespace
#endif

int main(int argc, char** argv) {
#if SAFNET_WITH_MPI
    if (launched_by_mpi() && !(argc >= 2 && (std::string(argv[1]) == "merge" || std::string(argv[1]) == "compare"))) return run_mpi_rank(argc, argv);
#endif
    std::vector<std::string> args(argv, argv + argc);
    if (args.size() >= 2 && (args[1] == "merge" || args[1] == "compare")) {
        try {
            return args[1] == "merge" ? run_merge(args) : run_compare(args);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "safnet-campaign: error: %s\n", e.what());
            return 1;
        }
    }
    return run_tool(args);
}
