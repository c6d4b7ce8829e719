// safnet/fault/report/plots.hpp — the plots of a finished sweep, drawn by gnuplot
// (io/gnuplot.hpp): accuracy against BER with interval bars (accuracy_vs_ber), curves from
// exact-count strata with their bands (accuracy_vs_ber_curve), per-layer bars (per_layer) and
// per-bit lines with the word's fields marked (per_bit). Each writes NAME.dat (every title and
// tick label travels there, quoted by io::data_text; the script names the data by fixed file
// names relative to the directory, so no user text becomes gnuplot program text), NAME.gp and
// NAME.png. One colour and point type per series (model, SAF, format, protection) across all
// the plots of a run (SeriesStyles).
#pragma once

#include <safnet/codec/registry.hpp>
#include <safnet/fault/report/report.hpp>
#include <safnet/fault/run/sweep.hpp>
#include <safnet/fault/stats/ber_curve.hpp>
#include <safnet/io/atomic_file.hpp>
#include <safnet/io/gnuplot.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace safnet::fault {

/// A configuration's faults for titles and messages: its rate, or its exact count.
inline std::string fault_label(const Configuration& c) {
    return c.spec.fault.count ? std::to_string(*c.spec.fault.count) + " flips" : format_number(c.rate, 6);
}

/// A series' name in plots and messages: model (SAF) format [+protection].
inline std::string series_title(const SweepModel& m, const std::string& dtype, const std::string& protect) {
    return m.label + " (" + m.saf + ") " + dtype + (protect == "none" ? "" : " +" + protect);
}

inline std::string line_title(const Configuration& c, const std::vector<SweepModel>& models) {
    return series_title(models[c.model], c.dtype, c.protect);
}

inline std::string curve_title(const Curve& c, const std::vector<SweepModel>& models) { return series_title(models[c.model], c.dtype, c.protect); }

/// One colour and point type per series of a run, the same in every plot of it: the series
/// (model, SAF, format, protection) are numbered in the sorted order of their titles over all
/// the run's configurations. Colours: the Okabe-Ito palette, safe for colour-blind readers,
/// without its yellow (unreadable on white); past seven series the point type changes.
class SeriesStyles {
public:
    SeriesStyles(const std::vector<Configuration>& configs, const std::vector<SweepModel>& models) {
        std::set<std::string> titles;
        for (const auto& c : configs) titles.insert(line_title(c, models));
        for (const auto& t : titles) index_.emplace(t, index_.size());
    }
    std::string colour(const std::string& title) const { return palette[at(title) % std::size(palette)]; }
    /// gnuplot line colour, dash and point type of a series (past seven series the dash and the
    /// point type tell apart those that share a colour).
    std::string style(const std::string& title) const {
        const std::size_t round = at(title) / std::size(palette);
        return "lc rgb '" + colour(title) + "' dt " + std::to_string(1 + round % 5) + " pt " + std::to_string(points[round % std::size(points)]);
    }

private:
    static constexpr const char* palette[] = {"#000000", "#E69F00", "#0072B2", "#009E73", "#D55E00", "#56B4E9", "#CC79A7"};
    static constexpr int points[] = {7, 5, 9, 11, 13};
    std::size_t at(const std::string& title) const {
        const auto it = index_.find(title);
        return it == index_.end() ? 0 : it->second;
    }
    std::map<std::string, std::size_t> index_;
};

/// The fields of a storage format's word, lowest bit first: (name, first bit, last bit).
inline std::vector<std::tuple<std::string, int, int>> word_fields(const std::string& dtype) {
    using Fields = std::vector<std::tuple<std::string, int, int>>;
    const auto floating = [](int mantissa, int exponent) {
        return Fields{{"mantissa", 0, mantissa - 1}, {"exponent", mantissa, mantissa + exponent - 1}, {"sign", mantissa + exponent, mantissa + exponent}};
    };
    return std::visit(
        [&](const auto& codec) {
            using C = std::decay_t<decltype(codec)>;
            if constexpr (std::is_same_v<C, Float32>) return floating(23, 8);
            else if constexpr (std::is_same_v<C, Float16>) return floating(10, 5);
            else if constexpr (std::is_same_v<C, BFloat16>) return floating(7, 8);
            else {  // fixed point: two's complement, the sign bit on top
                const int integer = codec.int_bits(), fraction = codec.frac_bits();
                Fields f;
                if (fraction > 0) f.emplace_back("fraction", 0, fraction - 1);
                if (integer > 0) f.emplace_back("integer", fraction, fraction + integer - 1);
                f.emplace_back("sign", fraction + integer, fraction + integer);
                return f;
            }
        },
        codec_from_name(dtype));
}

namespace detail {

/// Renders NAME.png from its script; a failure (gnuplot missing or failing, its log beside the
/// plot) is recorded in `failed` instead of stopping the run: the results are written already.
inline void render_plot(std::vector<std::string>& failed, const std::filesystem::path& dir, const std::string& name, const std::string& script) {
    if (!io::render_png(dir, name, script)) failed.push_back(name);
}

/// The configurations of one analysis ("layer" or "bit") grouped by series and faults, in
/// title order: plot title -> (series title, its configurations in plan order).
using AnalysisGroups = std::map<std::string, std::pair<std::string, std::vector<const Configuration*>>>;

inline AnalysisGroups group_analysis(const std::vector<Configuration>& configs, const std::vector<SweepModel>& models, const std::string& analysis) {
    AnalysisGroups groups;
    for (const auto& c : configs)
        if (c.analysis == analysis) {
            auto& g = groups[line_title(c, models) + " @" + fault_label(c)];
            g.first = line_title(c, models);
            g.second.push_back(&c);
        }
    return groups;
}

}  // namespace detail

/// Accuracy against BER, one line per series with its interval bars; the series' points at one
/// rate sit side by side (a few hundredths of a decade apart) so their bars do not hide each other.
inline void plot_ber(const std::filesystem::path& dir, const std::vector<Configuration>& configs, const std::vector<SweepModel>& models,
              const SeriesStyles& styles, std::vector<std::string>& failed) {
    std::map<std::string, std::vector<const Configuration*>> lines;
    for (const auto& c : configs)
        if (c.analysis == "ber" && !c.spec.fault.count && c.rate > 0) lines[line_title(c, models)].push_back(&c);
    if (lines.empty()) return;
    std::string data, plot = "plot ";
    std::size_t index = 0;
    double lo = 1, hi = 0;
    const double centre = (static_cast<double>(lines.size()) - 1) / 2;
    for (const auto& [title, cs] : lines) {
        const double offset = std::pow(10.0, 0.03 * (static_cast<double>(index) - centre));
        data += io::data_text(title) + " 0 0 0\n";
        for (const auto* c : cs) {
            const auto& t = c->result.estimate.top1;
            data += format_number(c->rate * offset) + " " + format_number(t.mean) + " " +
                    format_number(t.has_interval() ? t.ci_low : t.mean) + " " + format_number(t.has_interval() ? t.ci_high : t.mean) + "\n";
            lo = std::min(lo, c->rate);
            hi = std::max(hi, c->rate);
        }
        data += "\n\n";
        plot += std::string(index ? ", " : "") + "'accuracy_vs_ber.dat' index " + std::to_string(index) +
                " using 1:2:3:4 with yerrorlines lw 2 " + styles.style(title) + " title columnheader(1)";
        ++index;
    }
    io::write_file_atomic((dir / "accuracy_vs_ber.dat").string(), data);
    detail::render_plot(failed, dir, "accuracy_vs_ber",
           "set logscale x\nset xrange [" + format_number(lo / 2) + ":" + format_number(hi * 2) +
               "]\nset format x '%.0e'\nset xlabel 'bit error rate (points of one rate drawn side by side)'\n"
               "set ylabel 'top-1 accuracy (%), mean and interval'\nset yrange [0:100]\nset key outside below\nset grid\n" + plot + "\n");
}

/// Curves from exact-count strata: the estimate as a line, the band as a light fill with its
/// edges drawn thin and dashed in the series' colour, so overlapping bands stay readable.
inline void plot_curves(const std::filesystem::path& dir, const std::vector<Curve>& curves, const std::vector<SweepModel>& models,
                 const SeriesStyles& styles, std::vector<std::string>& failed) {
    if (curves.empty()) return;
    std::string data, plot = "plot ";
    const auto file_of = [](std::size_t i) { return "'accuracy_vs_ber_curve.dat' index " + std::to_string(i); };
    for (std::size_t i = 0; i < curves.size(); ++i) {
        const std::string title = curve_title(curves[i], models), colour = "lc rgb '" + styles.colour(title) + "'";
        // Many translucent fills stack into grey: past three curves only the band's edges are drawn.
        const std::string fill = curves.size() <= 3 ? file_of(i) + " using 1:3:4 with filledcurves fs transparent solid 0.12 noborder " + colour + " notitle, " : "";
        data += io::data_text(title) + " 0 0 0\n";
        for (const auto& p : curves[i].points)
            if (p.tail <= curve_tail_limit)  // beyond, the band is the unmeasured tail's [0, 100]
                data += format_number(p.rate) + " " + format_number(p.mean) + " " + format_number(p.low) + " " + format_number(p.high) + "\n";
        data += "\n\n";
        const std::string file = file_of(i);
        plot += std::string(i ? ", " : "") + fill + file + " using 1:3 with lines lw 1 dt 3 " + colour + " notitle, " + file + " using 1:4 with lines lw 1 dt 3 " +
                colour + " notitle, " + file + " using 1:2 with lines lw 2 " + styles.style(title) + " title columnheader(1)";
    }
    io::write_file_atomic((dir / "accuracy_vs_ber_curve.dat").string(), data);
    detail::render_plot(failed, dir, "accuracy_vs_ber_curve",
           "set logscale x\nset format x '%.0e'\nset xlabel 'bit error rate'\nset ylabel 'top-1 accuracy (%), estimate and band (dotted)'\n"
           "set yrange [0:100]\nset key outside below\nset grid\n" + plot + "\n");
}

/// Per-layer results: clustered bars, one colour per series as in the other plots.
inline void plot_layers(const std::filesystem::path& dir, const std::vector<Configuration>& configs, const std::vector<SweepModel>& models,
                 const SeriesStyles& styles, std::vector<std::string>& failed) {
    const detail::AnalysisGroups groups = detail::group_analysis(configs, models, "layer");
    if (groups.empty()) return;
    std::string data, plot = "plot ";
    std::size_t index = 0;
    for (const auto& [title, g] : groups) {
        data += io::data_text(title) + " 0\n";
        for (const auto* c : g.second) data += io::data_text(c->layer) + " " + format_number(c->result.estimate.top1.mean) + "\n";
        data += "\n\n";
        plot += std::string(index ? ", " : "") + "'per_layer.dat' index " + std::to_string(index) + " using 2:xtic(1) " +
                "lc rgb '" + styles.colour(g.first) + "' title columnheader(1)";
        ++index;
    }
    io::write_file_atomic((dir / "per_layer.dat").string(), data);
    detail::render_plot(failed, dir, "per_layer",
           "set style data histograms\nset style histogram clustered gap 1\nset style fill solid 0.8 border -1\n"
           "set ylabel 'top-1 accuracy (%) under faults'\nset yrange [0:100]\nset xtics rotate by -60\nset key outside bottom center\n"
           "set xlabel 'faulty parameter tensor'\n" + plot + "\n");
}

/// Per-bit results: top-1 against the faulty bit position, one line per series, its clean
/// accuracy dashed in the same colour, and (when every series has one format) the word's
/// sign / exponent / mantissa (or integer / fraction) fields marked.
inline void plot_bits(const std::filesystem::path& dir, const std::vector<Configuration>& configs, const std::vector<SweepModel>& models,
               const SeriesStyles& styles, std::vector<std::string>& failed) {
    const detail::AnalysisGroups groups = detail::group_analysis(configs, models, "bit");
    if (groups.empty()) return;
    std::set<std::string> dtypes;
    int top = 0;
    for (const auto& [title, g] : groups)
        for (const auto* c : g.second) {
            dtypes.insert(c->dtype);
            top = std::max(top, c->bit);
        }
    std::string data, plot = "plot ", marks;
    std::size_t index = 0;
    for (const auto& [title, g] : groups) {
        data += io::data_text(title) + " 0 0\n";
        for (const auto* c : g.second)
            data += std::to_string(c->bit) + " " + format_number(c->result.estimate.top1.mean) + " " + format_number(c->result.clean.accuracy()) + "\n";
        data += "\n\n";
        const std::string file = "'per_bit.dat' index " + std::to_string(index), colour = "lc rgb '" + styles.colour(g.first) + "'";
        plot += std::string(index ? ", " : "") + file + " using 1:2 with linespoints lw 2 " + styles.style(g.first) + " title columnheader(1), " + file +
                " using 1:3 with lines lw 1 dt 2 " + colour + " notitle";
        ++index;
    }
    if (dtypes.size() == 1)
        for (const auto& [name, low, high] : word_fields(*dtypes.begin())) {
            if (low > 0) marks += "set arrow from " + std::to_string(low) + "-0.5, graph 0 to " + std::to_string(low) + "-0.5, graph 1 nohead dt 3 lc rgb '#777777'\n";
            marks += "set label '" + name + "' at " + format_number((low + high) / 2.0) + ", graph 0.97 center textcolor rgb '#555555'\n";
        }
    io::write_file_atomic((dir / "per_bit.dat").string(), data);
    detail::render_plot(failed, dir, "per_bit",
           "set xrange [-1:" + std::to_string(top + 1) + "]\nset xtics 1 font ',8'\nset ylabel 'top-1 accuracy (%) under faults (dashed: clean)'\n"
           "set yrange [0:100]\nset key outside bottom center\nset grid ytics\nset xlabel 'faulty bit position (0 = LSB)'\n" + marks + plot + "\n");
}

/// Every plot the results allow, into `dir`; returns the names of those gnuplot could not
/// render (see NAME.gnuplot.log there).
inline std::vector<std::string> draw_sweep_plots(const std::filesystem::path& dir, const std::vector<Configuration>& configs,
                                                 const std::vector<SweepModel>& models, const std::vector<Curve>& curves) {
    const SeriesStyles styles(configs, models);
    std::vector<std::string> failed;
    plot_ber(dir, configs, models, styles, failed);
    plot_curves(dir, curves, models, styles, failed);
    plot_bits(dir, configs, models, styles, failed);
    plot_layers(dir, configs, models, styles, failed);
    return failed;
}

}  // namespace safnet::fault
