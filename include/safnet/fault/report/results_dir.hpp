// safnet/fault/report/results_dir.hpp — what a finished sweep leaves in its directory, as
// safnet-campaign leaves it: the tables of report.hpp (rounds.csv, summary.csv, summary.json,
// strata.csv, curve.csv, paired.csv; the last three only when the sweep has such results), the
// Markdown tables per_layer.md, per_bit.md and curve.md (likewise), and the plots of plots.hpp.
// Every file is written atomically (io/atomic_file.hpp), so a reader never sees half of one.
#pragma once

#include <safnet/fault/report/plots.hpp>
#include <safnet/fault/report/report.hpp>
#include <safnet/fault/run/sweep.hpp>
#include <safnet/io/atomic_file.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace safnet::fault {

/// A Markdown table of a sweep: its file name, what it tabulates, its text.
struct SweepTable {
    std::string file, what, text;
};

/// The sweep's Markdown tables that have rows: per parameter tensor, per bit position, and the
/// curves from exact-count strata.
inline std::vector<SweepTable> sweep_markdown(const std::vector<Configuration>& configs, const std::vector<SweepModel>& models,
                                              const std::vector<Curve>& curves) {
    std::vector<SweepTable> tables{{"per_layer.md", "per parameter tensor", analysis_markdown(configs, models, "layer")},
                                   {"per_bit.md", "per bit position", analysis_markdown(configs, models, "bit")},
                                   {"curve.md", "accuracy against BER from exact-count strata", curve_markdown(curves, models)}};
    std::erase_if(tables, [](const SweepTable& t) { return t.text.empty(); });
    return tables;
}

/// Writes every table of a finished sweep into `dir` (the plots: draw_sweep_plots) and returns
/// its Markdown tables (sweep_markdown), for a caller that also shows them. `identity` is the
/// sweep's identity (sweep_identity), recorded in summary.json; `curves` come from
/// sweep_curves, `comparisons` from compare_sweep.
inline std::vector<SweepTable> write_sweep_tables(const std::filesystem::path& dir, const std::vector<Configuration>& configs, const std::vector<SweepModel>& models,
                               const nlohmann::json& identity, const std::vector<Curve>& curves, const std::vector<Comparison>& comparisons) {
    const auto write = [&](const char* name, const std::string& text) { io::write_file_atomic((dir / name).string(), text); };
    write("rounds.csv", rounds_csv(configs, models));
    write("summary.csv", summary_csv(configs, models));
    write("summary.json", summary_document(configs, models, identity));
    if (const std::string strata = strata_csv(configs, models); !strata.empty()) write("strata.csv", strata);
    if (!curves.empty()) write("curve.csv", curve_csv(curves, models));
    if (!comparisons.empty()) write("paired.csv", paired_csv(comparisons, configs, models));
    auto tables = sweep_markdown(configs, models, curves);
    for (const auto& t : tables) write(t.file.c_str(), t.text);
    return tables;
}

}  // namespace safnet::fault
