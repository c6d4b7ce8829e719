// safnet/fault/report/report.hpp — the files a sweep writes, schema "safnet-campaign/3".
//
//   rounds.csv    one row per round: configuration columns, stratum, critical faults, flips,
//                 top1, top5, nan_images, inf_images
//   summary.csv   one row per configuration, the same columns as summary.json's results
//   summary.json  {"schema", "config": the sweep identity, "results": [...]}: per configuration
//                 clean_top1, estimator, design_note (why the design is plain or coarser than
//                 asked; empty: nothing given up), rounds, mean, sd, confidence, ci_method, ci_low/ci_high
//                 (absent / empty with ci_method "none": fewer than two rounds), median, min,
//                 max, chance_fraction, top5_mean, fail_drop, fail_prob, fail_ci_low/high
//                 (Clopper-Pearson, stratified: conservative), expected_loss, loss_ci_low/high,
//                 stopped_adaptively, critical_mask, critical_bits, NaN/Inf counts, stored_bits
//   strata.csv    per stratum of stratified configurations: K_c range (critical_faults), K_- of
//                 a sign-split stratum (negative_faults, "*" if not split), weight, rounds,
//                 mean, sd, failures
//   curve.csv     accuracy-vs-BER curves from the exact-count strata: rate, mean, band, tail
//   paired.csv    paired comparisons (compare_sweep): configuration a minus b at one format
//                 and rate on the same faults, difference of mean top-1 and of P(fail) with
//                 intervals (fault/report/paired.hpp); where the rounds do not pair (paired = no), the
//                 difference of independent campaigns (method independent-union), empty
//                 cells where a side lacks rounds
// Every file is a pure function of the results (wall-clock figures live in the tool's
// timing.json), so reruns, resumed runs and other thread counts give the same bytes.
#pragma once

#include <safnet/fault/report/paired.hpp>
#include <safnet/fault/run/sweep.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <tuple>
#include <vector>

namespace safnet::fault {

inline constexpr const char* report_schema = "safnet-campaign/3";

inline std::string csv_escape(const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string o = "\"";
    for (char c : s) o += c == '"' ? std::string("\"\"") : std::string(1, c);
    return o + "\"";
}

inline std::string format_number(double v, int precision = 8) {
    char b[64];
    std::snprintf(b, sizeof b, "%.*g", precision, v);
    return b;
}

/// The configuration columns shared by every file.
inline nlohmann::ordered_json configuration_json(const Configuration& c, const std::vector<SweepModel>& models) {
    return {{"analysis", c.analysis}, {"model", models[c.model].label}, {"saf", models[c.model].saf}, {"dtype", c.dtype}, {"protect", c.protect},
            {"fault", fault_kind_name(c.spec.fault.kind)}, {"rate", c.rate},
            {"flips_per_round", c.spec.fault.count ? static_cast<long long>(*c.spec.fault.count) : -1}, {"bit_mask", hex_mask(c.spec.fault.bit_mask)},
            {"layer", c.layer}, {"bit", c.bit}};
}

inline nlohmann::ordered_json summary_json(const Configuration& c, const std::vector<SweepModel>& models) {
    const auto& r = c.result;
    const auto& e = r.estimate;
    nlohmann::ordered_json j = configuration_json(c, models);
    j["path"] = models[c.model].path;
    j["clean_top1"] = r.clean.accuracy();
    j["estimator"] = estimator_name(e.estimator);
    j["design_note"] = e.design_note;
    j["rounds"] = e.rounds;
    j["mean"] = e.top1.mean;
    j["sd"] = e.top1.sd;
    j["confidence"] = e.top1.confidence;
    j["ci_method"] = interval_kind_name(e.top1.ci_method);
    if (e.top1.has_interval()) {
        j["ci_low"] = e.top1.ci_low;
        j["ci_high"] = e.top1.ci_high;
    }
    j["median"] = e.top1.median;
    j["min"] = e.top1.min;
    j["max"] = e.top1.max;
    j["chance_fraction"] = e.top1.chance_fraction;
    j["top5_mean"] = e.top5.mean;
    j["fail_drop"] = c.spec.fail_drop;
    j["fail_prob"] = e.fail_prob;
    j["fail_ci_low"] = e.fail_ci.low;
    j["fail_ci_high"] = e.fail_ci.high;
    j["expected_loss"] = e.expected_loss;
    j["loss_ci_low"] = e.loss_ci.low;
    j["loss_ci_high"] = e.loss_ci.high;
    j["stopped_adaptively"] = e.stopped_adaptively;
    j["critical_mask"] = hex_mask(r.critical_mask);
    j["critical_bits"] = r.critical_bits;
    j["nan_images"] = r.nan_images;
    j["inf_images"] = r.inf_images;
    j["rounds_with_nan"] = r.rounds_with_nan;
    j["rounds_with_inf"] = r.rounds_with_inf;
    j["stored_bits"] = r.stored_bits;
    j["faulty_tensors"] = r.tensors;
    double flips = 0;
    for (const auto& x : r.rounds) flips += static_cast<double>(x.flips);
    j["mean_flips"] = r.rounds.empty() ? 0.0 : flips / static_cast<double>(r.rounds.size());
    return j;
}

inline std::string csv_value(const nlohmann::ordered_json& v) {
    if (v.is_string()) return csv_escape(v.get<std::string>());
    if (v.is_number_float()) return format_number(v.get<double>(), 10);
    return v.dump();
}

/// Rows of JSON objects with the same keys as CSV; `columns` fixes the header (keys missing from a row stay empty).
inline std::string csv_table(const std::vector<std::string>& columns, const std::vector<nlohmann::ordered_json>& rows) {
    std::string s;
    for (std::size_t i = 0; i < columns.size(); ++i) s += (i ? "," : "") + columns[i];
    s += "\n";
    for (const auto& row : rows) {
        for (std::size_t i = 0; i < columns.size(); ++i) {
            if (i) s += ",";
            if (row.contains(columns[i])) s += csv_value(row.at(columns[i]));
        }
        s += "\n";
    }
    return s;
}

inline std::vector<std::string> keys_of(const nlohmann::ordered_json& j) {
    std::vector<std::string> k;
    for (auto it = j.begin(); it != j.end(); ++it) k.push_back(it.key());
    return k;
}

inline std::string summary_csv(const std::vector<Configuration>& configs, const std::vector<SweepModel>& models) {
    if (configs.empty()) return "";
    std::vector<nlohmann::ordered_json> rows;
    for (const auto& c : configs) rows.push_back(summary_json(c, models));
    auto columns = keys_of(rows.front());
    if (!rows.front().contains("ci_low"))  // the first row had no interval: keep the full header
        columns.insert(std::find(columns.begin(), columns.end(), "median"), {"ci_low", "ci_high"});
    return csv_table(columns, rows);
}

inline std::string summary_document(const std::vector<Configuration>& configs, const std::vector<SweepModel>& models, const nlohmann::json& identity) {
    nlohmann::ordered_json results = nlohmann::ordered_json::array();
    for (const auto& c : configs) results.push_back(summary_json(c, models));
    return nlohmann::ordered_json{{"schema", report_schema}, {"config", identity}, {"results", results}}.dump(2) + "\n";
}

inline std::string rounds_csv(const std::vector<Configuration>& configs, const std::vector<SweepModel>& models) {
    std::vector<nlohmann::ordered_json> rows;
    std::vector<std::string> columns;
    for (const auto& c : configs) {
        const auto base = configuration_json(c, models);
        for (const auto& r : c.result.rounds) {
            auto row = base;
            row["stratum"] = r.stratum;
            row["critical"] = r.critical;
            row["round"] = r.round;
            row["flips"] = r.flips;
            row["top1"] = r.eval.accuracy();
            row["top5"] = r.eval.top5_accuracy();
            row["nan_images"] = r.eval.nan_images;
            row["inf_images"] = r.eval.inf_images;
            if (columns.empty()) columns = keys_of(row);
            rows.push_back(std::move(row));
        }
    }
    return columns.empty() ? "" : csv_table(columns, rows);
}

inline std::string strata_csv(const std::vector<Configuration>& configs, const std::vector<SweepModel>& models) {
    std::vector<nlohmann::ordered_json> rows;
    std::vector<std::string> columns;
    for (const auto& c : configs)
        for (std::size_t s = 0; s < c.result.estimate.strata.size(); ++s) {
            const auto& st = c.result.estimate.strata[s];
            auto row = configuration_json(c, models);
            row["stratum"] = s;
            row["critical_faults"] = st.stratum.label();
            row["negative_faults"] = st.stratum.negative_label();
            row["weight"] = st.stratum.weight;
            row["rounds"] = st.rounds;
            row["mean"] = st.mean;
            row["sd"] = st.sd;
            row["top5_mean"] = st.top5_mean;
            row["failures"] = st.failures;
            if (columns.empty()) columns = keys_of(row);
            rows.push_back(std::move(row));
        }
    return columns.empty() ? "" : csv_table(columns, rows);
}

/// One accuracy-vs-BER curve per (model, dtype, protection) with exact-count strata (only where
/// all of k = 0 .. K_max are among `configs`).
struct Curve {
    std::size_t model = 0;
    std::string dtype, protect;
    std::uint64_t eligible_bits = 0;
    std::size_t k_max = 0;
    std::vector<CurvePoint> points;
};

/// An exact-count campaign's rounds by stratum with the strata's weights (one stratum of weight
/// 1 when it ran plain), as ber_curve takes them.
inline std::vector<CountStratum> count_strata(const CampaignResult& r) {
    if (r.estimate.estimator != Estimator::stratified) {
        CountStratum all;
        for (const auto& round : r.rounds) all.accuracies.push_back(round.eval.accuracy());
        return {all};
    }
    std::vector<CountStratum> strata;
    for (const auto& s : r.estimate.strata) strata.push_back({s.stratum.weight, {}});
    for (const auto& round : r.rounds) strata.at(round.stratum).accuracies.push_back(round.eval.accuracy());
    return strata;
}

inline std::vector<Curve> sweep_curves(const std::vector<Configuration>& configs, const SweepSpec& spec) {
    std::vector<Curve> curves;
    if (!spec.curve) return curves;
    std::map<std::tuple<std::size_t, std::string, std::string>, std::vector<const Configuration*>> groups;
    std::vector<std::tuple<std::size_t, std::string, std::string>> order;
    for (const auto& c : configs)
        if (c.analysis == "count") {
            const auto key = std::tuple(c.model, c.dtype, c.protect);
            if (!groups.count(key)) order.push_back(key);
            groups[key].push_back(&c);
        }
    for (const auto& key : order) {
        const auto& cs = groups[key];
        std::vector<std::vector<CountStratum>> acc(cs.size());
        std::vector<bool> present(cs.size(), false);
        bool complete = true;  // a shard may hold only some of the counts: no curve from those
        for (const auto* c : cs) {
            const auto k = static_cast<std::size_t>(*c->spec.fault.count);
            if (k >= cs.size() || present[k]) {
                complete = false;
                break;
            }
            present[k] = true;
            acc[k] = count_strata(c->result);
        }
        if (!complete) continue;
        Curve curve{std::get<0>(key), std::get<1>(key), std::get<2>(key), cs.front()->result.stored_bits, cs.size() - 1, {}};
        const double resolution = train::image_step(cs.front()->result.clean.images);
        curve.points = ber_curve(acc, curve.eligible_bits, spec.curve->rates(), spec.confidence, resolution);
        curves.push_back(std::move(curve));
    }
    return curves;
}

/// The curves a sweep will draw, known before it runs: each curve's eligible bits and K_max
/// (no points yet), for stating its reach up front.
inline std::vector<Curve> planned_curves(const std::vector<Configuration>& configs, const std::vector<SweepModel>& models) {
    std::vector<Curve> curves;
    for (const auto& c : configs) {
        if (c.analysis != "count" || !c.spec.fault.count) continue;
        auto it = std::find_if(curves.begin(), curves.end(), [&](const Curve& x) { return x.model == c.model && x.dtype == c.dtype && x.protect == c.protect; });
        if (it == curves.end()) {
            curves.push_back({c.model, c.dtype, c.protect, eligible_bits_of(c, models[c.model]), 0, {}});
            it = std::prev(curves.end());
        }
        it->k_max = std::max<std::size_t>(it->k_max, static_cast<std::size_t>(*c.spec.fault.count));
    }
    return curves;
}

inline std::string curve_csv(const std::vector<Curve>& curves, const std::vector<SweepModel>& models) {
    std::string s = "model,saf,dtype,protect,eligible_bits,k_max,rate,mean,band_low,band_high,tail_probability\n";
    for (const auto& c : curves)
        for (const auto& p : c.points)
            s += csv_escape(models[c.model].label) + "," + csv_escape(models[c.model].saf) + "," + c.dtype + "," + c.protect + "," +
                 std::to_string(c.eligible_bits) + "," + std::to_string(c.k_max) + "," + format_number(p.rate) + "," + format_number(p.mean) + "," +
                 format_number(p.low) + "," + format_number(p.high) + "," + format_number(p.tail, 4) + "\n";
    return s;
}

/// v with exactly `decimals` decimals (Markdown tables; CSV and JSON keep format_number).
inline std::string format_fixed(double v, int decimals) {
    char b[64];
    std::snprintf(b, sizeof b, "%.*f", decimals, v);
    return b;
}

/// Markdown cell text: "mean [low, high]" at 2 decimals (no interval: "mean (no interval)").
inline std::string markdown_interval(double mean, double low, double high, bool has_interval, int decimals = 2) {
    char b[96];
    if (has_interval) std::snprintf(b, sizeof b, "%.*f [%.*f, %.*f]", decimals, mean, decimals, low, decimals, high);
    else std::snprintf(b, sizeof b, "%.*f (no interval)", decimals, mean);
    return b;
}

/// Markdown table of the per-layer ("layer") or per-bit ("bit") configurations of a sweep: one
/// row per configuration, grouped by model, format, protection and faults as planned (empty
/// when the sweep has none).
inline std::string analysis_markdown(const std::vector<Configuration>& configs, const std::vector<SweepModel>& models, const std::string& analysis) {
    std::string s;
    for (const auto& c : configs) {
        if (c.analysis != analysis) continue;
        if (s.empty())
            s = "| model | dtype | protect | faults | " + std::string(analysis == "bit" ? "bit" : "parameter tensor") +
                " | clean | mean top-1 [interval] | P(fail) [interval] | rounds |\n|---|---|---|---|---|---|---|---|---|\n";
        const auto& e = c.result.estimate;
        const std::string faults = c.spec.fault.count ? std::to_string(*c.spec.fault.count) + " flips" : "BER " + format_number(c.rate, 6);
        s += "| " + models[c.model].label + " | " + c.dtype + " | " + c.protect + " | " + faults + " | " +
             (analysis == "bit" ? std::to_string(c.bit) : c.layer) + " | " + format_fixed(c.result.clean.accuracy(), 2) + " | " +
             markdown_interval(e.top1.mean, e.top1.ci_low, e.top1.ci_high, e.top1.has_interval()) + " | " +
             markdown_interval(e.fail_prob, e.fail_ci.low, e.fail_ci.high, true, 3) + " | " + std::to_string(e.rounds) + " |\n";
    }
    return s;
}

/// Markdown table of accuracy-vs-BER curves: mean [band] per rate while the unmeasured tail
/// P(K > K_max) is at most curve_tail_limit; the rates beyond are left out (the curve ends there).
inline std::string curve_markdown(const std::vector<Curve>& curves, const std::vector<SweepModel>& models) {
    std::string s;
    for (const auto& c : curves)
        for (const auto& p : c.points)
            if (p.tail <= curve_tail_limit)
                s += (s.empty() ? "| model | dtype | protect | BER | mean top-1 [band] | P(K > K_max) |\n|---|---|---|---|---|---|\n" : "") + std::string("| ") + models[c.model].label + " | " + c.dtype + " | " + c.protect + " | " + format_number(p.rate, 3) + " | " +
                     markdown_interval(p.mean, p.low, p.high, true) + " | " + format_number(p.tail, 2) + " |\n";
    return s;
}

/// One paired comparison of a sweep: configuration a minus configuration b (fault/report/paired.hpp).
struct Comparison {
    std::size_t a = 0, b = 0;  // indices into the sweep's configurations
    PairedDifference diff;
};

/// What a configuration is called in comparisons: "model", "model+protect" when protected.
inline std::string comparison_label(const Configuration& c, const std::vector<SweepModel>& models) {
    return models[c.model].label + (c.protect == "none" ? "" : "+" + c.protect);
}

/// Whether `c` answers to `name`: its model's label or SAF, its protection, or model+protect.
inline bool answers_to(const Configuration& c, const std::vector<SweepModel>& models, const std::string& name) {
    return name == models[c.model].label || name == models[c.model].saf || name == c.protect || name == comparison_label(c, models);
}

/// The comparisons `pairs` asks for among the BER configurations of one format and rate each:
/// every "A:B" pair of names (see answers_to), or with no pairs every configuration against
/// the baseline of its format and rate: the unprotected (protect none) configuration of the
/// first model whose SAF is none, or of the first model when none has SAF none.
inline std::vector<Comparison> compare_sweep(const std::vector<Configuration>& configs, const std::vector<SweepModel>& models,
                                             const std::vector<std::pair<std::string, std::string>>& pairs, double confidence) {
    std::vector<Comparison> out;
    const auto same_cell = [&](const Configuration& x, const Configuration& y) {
        return x.analysis == "ber" && y.analysis == "ber" && x.dtype == y.dtype && x.rate == y.rate && x.spec.fault.count == y.spec.fault.count;
    };
    for (std::size_t i = 0; i < configs.size(); ++i) {
        const Configuration& a = configs[i];
        if (a.analysis != "ber") continue;
        for (std::size_t j = 0; j < configs.size(); ++j) {
            const Configuration& b = configs[j];
            if (i == j || !same_cell(a, b)) continue;
            bool wanted = false;
            if (pairs.empty()) {
                std::size_t baseline = configs.size(), first = configs.size();
                for (std::size_t k = 0; k < configs.size(); ++k) {
                    if (!same_cell(configs[k], b) || configs[k].protect != "none") continue;
                    if (first == configs.size()) first = k;
                    if (baseline == configs.size() && models[configs[k].model].saf == "none") baseline = k;
                }
                wanted = j == (baseline == configs.size() ? first : baseline);
            } else {
                for (const auto& [x, y] : pairs) wanted = wanted || (answers_to(a, models, x) && answers_to(b, models, y));
            }
            if (wanted) out.push_back({i, j, paired_difference(a.result, b.result, a.spec.fail_drop, confidence, a.spec.seed == b.spec.seed)});
        }
    }
    return out;
}

/// The configurations of one finished campaign run, for comparisons across runs (join_runs).
/// `models` keep their labels, SAFs and paths; their pointers may be null (only results count).
struct RunResults {
    std::string source;  // the run's directory, for messages
    nlohmann::json identity;
    std::vector<Configuration> configs;
    std::vector<SweepModel> models;
};

/// One sweep of the configurations of several runs, to compare with compare_sweep. Runs must
/// agree on what a difference means (dataset, test images, confidence, fail drop); a
/// configuration (analysis, model label, format, protection, rate, layer, bit, count) held by two
/// runs is refused, since a name would then stand for either.
inline std::pair<std::vector<Configuration>, std::vector<SweepModel>> join_runs(const std::vector<RunResults>& runs) {
    if (runs.empty()) throw Error("compare: no campaign runs given");
    std::vector<Configuration> configs;
    std::vector<SweepModel> models;
    std::map<std::string, std::string> held;  // configuration name -> the run holding it
    for (const auto& run : runs) {
        for (const char* key : {"dataset", "test_images", "confidence", "fail_drop"}) {
            const nlohmann::json mine = run.identity.value(key, nlohmann::json()), first = runs.front().identity.value(key, nlohmann::json());
            if (mine != first)
                throw Error("compare: " + run.source + " ran with " + key + " " + mine.dump() + ", " + runs.front().source + " with " + first.dump() +
                            "; a difference needs both measured alike");
        }
        const std::size_t base = models.size();
        models.insert(models.end(), run.models.begin(), run.models.end());
        for (Configuration c : run.configs) {
            c.model += base;
            const std::string name = c.analysis + " " + models[c.model].label + " " + c.dtype + " " + c.protect + " " + format_number(c.rate, 17) + " " + c.layer +
                                     " " + std::to_string(c.bit) + (c.spec.fault.count ? " k" + std::to_string(*c.spec.fault.count) : "");
            const auto [it, fresh] = held.emplace(name, run.source);
            if (!fresh) throw Error("compare: " + run.source + " and " + it->second + " both hold " + name + "; compare runs of distinct configurations");
            configs.push_back(std::move(c));
        }
    }
    return {std::move(configs), std::move(models)};
}

inline std::string paired_csv(const std::vector<Comparison>& cs, const std::vector<Configuration>& configs, const std::vector<SweepModel>& models) {
    std::string s = "dtype,rate,a,b,paired,pairs,diff_top1,diff_ci_low,diff_ci_high,diff_fail,diff_fail_ci_low,diff_fail_ci_high,method,note\n";
    for (const auto& c : cs) {
        const Configuration &a = configs[c.a], &b = configs[c.b];
        const auto& d = c.diff;
        const auto num = [&](double v) { return d.has_interval ? format_number(v) : std::string(); };
        s += a.dtype + "," + format_number(a.rate) + "," + csv_escape(comparison_label(a, models)) + "," + csv_escape(comparison_label(b, models)) + "," +
             (d.paired ? "yes" : "no") + "," + std::to_string(d.pairs) + "," + num(d.mean) + "," + num(d.ci.low) + "," + num(d.ci.high) + "," +
             num(d.fail) + "," + num(d.fail_ci.low) + "," + num(d.fail_ci.high) + "," + d.method + "," + csv_escape(d.why) + "\n";
    }
    return s;
}

}  // namespace safnet::fault
