// safnet-campaign: Monte Carlo bit-error campaigns on the stored weights of trained models:
// accuracy vs BER per storage format, with and without SAFs, per layer and per bit position,
// against the weight-clipping baseline. Writes per-round CSV, summary CSV + JSON and gnuplot
// plots to --out. Run with --help for the flags.
#include "cli.hpp"
#include "progress.hpp"

#include <safnet/fault/campaign.hpp>
#include <safnet/io/checkpoint.hpp>
#include <safnet/safnet.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace {

namespace fs = std::filesystem;
using namespace safnet;

struct Flags {
    std::vector<std::string> models, dtypes{"fp32"}, protect{"none"}, layers;
    std::vector<double> bers{1e-5};
    std::string dataset = "fashion-mnist", data_dir, fault = "flip", bits = "all", rounds = "100", out, saf;
    std::uint64_t flips = 0, seed = 1;
    double margin = 0.05, confidence = 0.95, ci_halfwidth = 0;
    std::size_t threads = 2, test_limit = 0, batch = 500;
    bool biases = false, bn = false, per_layer = false, per_bit = false, quiet = false, resume = false;
};

/// One row of results: a configuration and its campaign.
struct Config {
    std::string analysis = "ber";  // ber | layer | bit
    std::size_t model = 0;
    std::string dtype, protect = "none", layer = "*";
    int bit = -1;
    double rate = 0;
    fault::CampaignSpec spec;
    fault::CampaignResult result;
};

struct LoadedModel {
    std::string path, label, saf;
    std::unique_ptr<nn::ResNet<float>> net;
    std::shared_ptr<train::PreparedSet> test;
    std::shared_ptr<train::PreparedSet> calibration;  // clipact thresholds: the first 2000 training images
};

std::uint64_t parse_mask(const std::string& s) {
    if (s == "all") return ~std::uint64_t{0};
    char* end = nullptr;
    const std::uint64_t v = std::strtoull(s.c_str(), &end, 0);
    if (s.empty() || *end != '\0' || v == 0) throw Error("--bits: '" + s + "' is not a bit mask (e.g. 0x7F800000, or all)");
    return v;
}

void add_flags(CLI::App& app, Flags& f) {
    app.add_option("--model", f.models, "checkpoint(s) to test (repeat the flag to compare models in one run)")->required();
    app.add_option("--dataset", f.dataset, "test split: fashion-mnist | mnist | cifar10 | cifar100 | cifar100-coarse")
        ->check(CLI::IsMember(data::dataset_names()))->capture_default_str();
    app.add_option("--data-dir", f.data_dir, "dataset directory (default for fashion-mnist: /usr/share/datasets/fashion-mnist)");
    app.add_option("--dtype", f.dtypes, "storage formats, comma-separated: fp32, fp16, bf16, q<I>.<F> (e.g. q2.5)")
        ->delimiter(',')->capture_default_str();
    app.add_option("--ber", f.bers, "bit error rates (or stuck-at rates), comma-separated, each in [0, 1]")->delimiter(',')->capture_default_str();
    app.add_option("--fault", f.fault, "fault model: flip | stuck0 | stuck1")->capture_default_str();
    app.add_option("--bits", f.bits, "eligible bit positions as a mask (0x7F800000 = fp32 exponent) or 'all'")->capture_default_str();
    app.add_option("--flips", f.flips, "exactly this many faulty bits per round instead of a rate (--ber is ignored)");
    app.add_option("--rounds", f.rounds, "rounds per configuration, or 'auto' (Leveugle et al. 2009 for --margin/--confidence)")
        ->capture_default_str();
    app.add_option("--margin", f.margin, "error margin for --rounds auto")->check(CLI::Range(1e-4, 0.5))->capture_default_str();
    app.add_option("--confidence", f.confidence, "confidence level for --rounds auto")->check(CLI::Range(0.5, 0.9999))->capture_default_str();
    app.add_option("--ci-halfwidth", f.ci_halfwidth, "stop a configuration early once its 95 % CI half-width is below this (accuracy points)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--seed", f.seed, "campaign seed: round r uses Philox stream (seed, r)")->capture_default_str();
    app.add_option("--threads", f.threads, "compute threads (results do not depend on it)")->check(CLI::Range(std::size_t{1}, std::size_t{256}))
        ->capture_default_str();
    app.add_option("--out", f.out, "output directory (created if missing)")->required();
    app.add_option("--saf", f.saf, "override the checkpoints' SAF (experiments only: the weights were trained for theirs)");
    app.add_option("--protect", f.protect, "protection, comma-separated: none | clip (clamp weights to their clean range at read) | clipact (bound each ReLU by its clean maximum)")
        ->delimiter(',')->capture_default_str();
    app.add_flag("--include-biases", f.biases, "also store linear biases in faulty memory");
    app.add_flag("--include-bn", f.bn, "also store BN weights and biases in faulty memory");
    app.add_option("--layers", f.layers, "only parameters whose name matches this glob (repeatable), e.g. 'layer3.*'");
    app.add_flag("--per-layer", f.per_layer, "analysis: faults in one parameter tensor at a time");
    app.add_flag("--per-bit", f.per_bit, "analysis: faults in one bit position at a time");
    app.add_option("--test-limit", f.test_limit, "evaluate on the first N test images only (0 = all)")->capture_default_str();
    app.add_option("--batch", f.batch, "evaluation batch size")->check(CLI::Range(std::size_t{1}, std::size_t{100000}))->capture_default_str();
    app.add_flag("--quiet", f.quiet, "no progress bar");
    app.add_flag("--resume", f.resume, "skip configurations already finished in --out (its campaign-state.json) by a run with the same flags");
}

// ---------------------------------------------------------------------------------------------

std::string csv_escape(const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string o = "\"";
    for (char c : s) o += c == '"' ? std::string("\"\"") : std::string(1, c);
    return o + "\"";
}

std::string num(double v, int precision = 6) {
    char b[64];
    std::snprintf(b, sizeof b, "%.*g", precision, v);
    return b;
}

std::string fault_label(const Config& c) {
    return c.spec.fault.count ? std::to_string(*c.spec.fault.count) + " flips" : num(c.rate);
}

std::string rounds_csv(const std::vector<Config>& configs, const std::vector<LoadedModel>& models) {
    std::string s = "analysis,model,saf,dtype,protect,fault,rate,flips_per_round,bit_mask,layer,bit,round,flips,top1,top5,nan_images,inf_images\n";
    for (const auto& c : configs)
        for (const auto& r : c.result.rounds) {
            s += c.analysis + "," + csv_escape(models[c.model].label) + "," + csv_escape(models[c.model].saf) + "," + c.dtype + "," + c.protect + "," +
                 std::string(fault::fault_kind_name(c.spec.fault.kind)) + "," + num(c.rate) + "," +
                 (c.spec.fault.count ? std::to_string(*c.spec.fault.count) : "") + "," + num(static_cast<double>(c.spec.fault.bit_mask), 20) + "," +
                 csv_escape(c.layer) + "," + std::to_string(c.bit) + "," + std::to_string(r.round) + "," + std::to_string(r.flips) + "," +
                 num(r.eval.accuracy(), 8) + "," + num(r.eval.top5_accuracy(), 8) + "," + std::to_string(r.eval.nan_images) + "," +
                 std::to_string(r.eval.inf_images) + "\n";
        }
    return s;
}

nlohmann::ordered_json summary_json(const Config& c, const std::vector<LoadedModel>& models) {
    const auto& r = c.result;
    double flips = 0;
    for (const auto& x : r.rounds) flips += static_cast<double>(x.flips);
    return {{"analysis", c.analysis}, {"model", models[c.model].label}, {"path", models[c.model].path}, {"saf", models[c.model].saf},
            {"dtype", c.dtype}, {"protect", c.protect}, {"fault", fault::fault_kind_name(c.spec.fault.kind)}, {"rate", c.rate},
            {"flips_per_round", c.spec.fault.count ? static_cast<long long>(*c.spec.fault.count) : -1},
            {"bit_mask", c.spec.fault.bit_mask}, {"layer", c.layer}, {"bit", c.bit}, {"clean_top1", r.clean.accuracy()},
            {"rounds", r.top1.rounds}, {"mean", r.top1.mean}, {"sd", r.top1.sd}, {"ci95_low", r.top1.ci_low}, {"ci95_high", r.top1.ci_high},
            {"median", r.top1.median}, {"min", r.top1.min}, {"max", r.top1.max}, {"chance_fraction", r.top1.chance_fraction},
            {"top5_mean", r.top5.mean}, {"nan_images", r.nan_images}, {"inf_images", r.inf_images}, {"rounds_with_nan", r.rounds_with_nan},
            {"rounds_with_inf", r.rounds_with_inf}, {"stored_bits", r.stored_bits}, {"faulty_tensors", r.tensors},
            {"mean_flips", r.rounds.empty() ? 0.0 : flips / static_cast<double>(r.rounds.size())},
            {"seconds_per_round", r.seconds_per_round}};
}

std::string summary_csv(const std::vector<Config>& configs, const std::vector<LoadedModel>& models) {
    std::string s;
    bool header = true;
    for (const auto& c : configs) {
        const auto j = summary_json(c, models);
        if (header) {
            for (auto it = j.begin(); it != j.end(); ++it) s += (it == j.begin() ? "" : ",") + it.key();
            s += "\n";
            header = false;
        }
        bool first = true;
        for (const auto& v : j) {
            s += first ? "" : ",";
            first = false;
            s += v.is_string() ? csv_escape(v.get<std::string>()) : v.dump();
        }
        s += "\n";
    }
    return s;
}

// ---------------------------------------------------------------------------------------------
// Resume state: after every configuration, --out/campaign-state.json (atomic) holds the flags
// and every finished configuration's raw counts; --resume reloads those instead of rerunning.

std::string config_key(const Config& c) {
    return c.analysis + "|" + std::to_string(c.model) + "|" + c.dtype + "|" + c.protect + "|" + num(c.rate, 17) + "|" + c.layer + "|" + std::to_string(c.bit);
}

nlohmann::json eval_json(const train::EvalResult& e) { return {e.images, e.top1, e.top5, e.nan_images, e.inf_images}; }
train::EvalResult eval_from(const nlohmann::json& j) {
    return {j.at(0).get<std::size_t>(), j.at(1).get<std::size_t>(), j.at(2).get<std::size_t>(), j.at(3).get<std::size_t>(), j.at(4).get<std::size_t>()};
}

nlohmann::json result_json(const fault::CampaignResult& r) {
    nlohmann::json rounds = nlohmann::json::array();
    for (const auto& rr : r.rounds) rounds.push_back({rr.round, rr.flips, eval_json(rr.eval)});
    return {{"clean", eval_json(r.clean)}, {"rounds", rounds}, {"stored_bits", r.stored_bits}, {"tensors", r.tensors},
            {"values", r.values}, {"seconds_per_round", r.seconds_per_round}};
}

fault::CampaignResult result_from(const nlohmann::json& j, std::size_t classes) {
    fault::CampaignResult r;
    r.clean = eval_from(j.at("clean"));
    for (const auto& x : j.at("rounds")) r.rounds.push_back({x.at(0).get<std::size_t>(), eval_from(x.at(2)), x.at(1).get<std::uint64_t>()});
    r.stored_bits = j.at("stored_bits").get<std::uint64_t>();
    r.tensors = j.at("tensors").get<std::size_t>();
    r.values = j.at("values").get<std::size_t>();
    r.seconds_per_round = j.at("seconds_per_round").get<double>();
    fault::summarize_rounds(r, classes);
    return r;
}

/// Finished results of a previous run with the same flags, by configuration key.
std::map<std::string, nlohmann::json> load_state(const fs::path& path, const nlohmann::json& config) {
    std::map<std::string, nlohmann::json> done;
    if (!fs::exists(path)) return done;
    nlohmann::json state;
    try {
        std::ifstream in(path);
        state = nlohmann::json::parse(in);
        if (state.at("config") != config) {
            for (auto it = config.begin(); it != config.end(); ++it)
                if (!state.at("config").contains(it.key()) || state.at("config").at(it.key()) != it.value())
                    throw Error(path.string() + ": --resume needs the flags of the interrupted run; '" + it.key() + "' was " +
                                (state.at("config").contains(it.key()) ? state.at("config").at(it.key()).dump() : "unset") + ", now " + it.value().dump());
            throw Error(path.string() + ": --resume needs the flags of the interrupted run, and they differ");
        }
        for (auto it = state.at("done").begin(); it != state.at("done").end(); ++it) done[it.key()] = it.value();
    } catch (const nlohmann::json::exception& e) {
        throw Error(path.string() + ": corrupt campaign state (" + e.what() + "); delete it to start over");
    }
    return done;
}

// ---------------------------------------------------------------------------------------------
// Plots: gnuplot renders to a temp file that is renamed, so a PNG is never half-written.

bool have_gnuplot() { return std::system("command -v gnuplot >/dev/null 2>&1") == 0; }

void render(const fs::path& dir, const std::string& name, const std::string& script) {
    const fs::path png = dir / (name + ".png"), tmp = dir / (name + ".png.tmp"), gp = dir / (name + ".gp");
    io::write_file_atomic(gp.string(), "set terminal pngcairo size 1000,640 noenhanced\nset output '" + tmp.string() + "'\n" + script);
    const std::string cmd = "gnuplot '" + gp.string() + "' 2>'" + (dir / (name + ".gnuplot.log")).string() + "'";
    if (std::system(cmd.c_str()) != 0) {
        std::fprintf(stderr, "safnet-campaign: warning: gnuplot failed for %s (see %s.gnuplot.log)\n", name.c_str(), name.c_str());
        fs::remove(tmp);
        return;
    }
    fs::rename(tmp, png);
    fs::remove(dir / (name + ".gnuplot.log"));
}

void plot_ber(const fs::path& dir, const std::vector<Config>& configs, const std::vector<LoadedModel>& models) {
    std::map<std::string, std::vector<const Config*>> lines;  // one line per model/SAF, dtype, protection
    for (const auto& c : configs)
        if (c.analysis == "ber" && !c.spec.fault.count && c.rate > 0)
            lines[models[c.model].label + " (" + models[c.model].saf + ") " + c.dtype + (c.protect == "none" ? "" : " +" + c.protect)].push_back(&c);
    if (lines.empty()) return;
    std::string data, plot = "plot ";
    std::size_t index = 0;
    for (const auto& [title, cs] : lines) {
        for (const auto* c : cs)
            data += num(c->rate) + " " + num(c->result.top1.mean) + " " + num(c->result.top1.ci_low) + " " + num(c->result.top1.ci_high) + "\n";
        data += "\n\n";
        plot += std::string(index ? ", " : "") + "'" + (dir / "accuracy_vs_ber.dat").string() + "' index " + std::to_string(index) +
                " using 1:2:3:4 with yerrorlines lw 2 title '" + title + "'";
        ++index;
    }
    io::write_file_atomic((dir / "accuracy_vs_ber.dat").string(), data);
    double lo = 1, hi = 0;
    for (const auto& [title, cs] : lines)
        for (const auto* c : cs) lo = std::min(lo, c->rate), hi = std::max(hi, c->rate);
    render(dir, "accuracy_vs_ber",
           "set logscale x\nset xrange [" + num(lo / 2) + ":" + num(hi * 2) + "]\nset format x '%.0e'\nset xlabel 'bit error rate'\nset ylabel 'top-1 accuracy (%), mean and 95% CI'\n"
           "set yrange [0:100]\nset key bottom left\nset grid\n" + plot + "\n");
}

void plot_bars(const fs::path& dir, const std::string& name, const std::string& analysis, const std::vector<Config>& configs,
               const std::vector<LoadedModel>& models) {
    std::map<std::string, std::vector<const Config*>> groups;
    for (const auto& c : configs)
        if (c.analysis == analysis) groups[models[c.model].label + " (" + models[c.model].saf + ") " + c.dtype + " @" + fault_label(c)].push_back(&c);
    if (groups.empty()) return;
    std::string data, plot = "plot ";
    std::size_t index = 0;
    for (const auto& [title, cs] : groups) {
        for (const auto* c : cs) data += "\"" + (analysis == "bit" ? std::to_string(c->bit) : c->layer) + "\" " + num(c->result.top1.mean) + "\n";
        data += "\n\n";
        plot += std::string(index ? ", " : "") + "'" + (dir / (name + ".dat")).string() + "' index " + std::to_string(index) +
                " using 2:xtic(1) title '" + title + "'";
        ++index;
    }
    io::write_file_atomic((dir / (name + ".dat")).string(), data);
    render(dir, name,
           "set style data histograms\nset style histogram clustered gap 1\nset style fill solid 0.8 border -1\n"
           "set ylabel 'top-1 accuracy (%) under faults'\nset yrange [0:100]\nset xtics rotate by -60\nset key outside bottom center\n"
           "set xlabel '" + std::string(analysis == "bit" ? "faulty bit position (0 = LSB)" : "faulty parameter tensor") + "'\n" + plot + "\n");
}

// ---------------------------------------------------------------------------------------------

std::vector<LoadedModel> load_models(const Flags& f, const data::Dataset& test, const std::function<const data::Dataset&()>& train) {
    std::vector<LoadedModel> models;
    // Test and calibration sets are prepared once per normalization, shared by the models using it.
    std::map<std::string, std::shared_ptr<train::PreparedSet>> prepared, calibration;
    for (const auto& path : f.models) {
        LoadedModel m;
        m.path = path;
        m.label = fs::path(path).stem().string();
        const auto file = io::Safetensors::read_file(path);
        nn::ResNetOptions o = io::resnet_options(file);
        if (!f.saf.empty()) o.saf = saf_from_name(f.saf);
        if (o.in_channels != test.channels)
            throw Error(path + ": the model takes " + std::to_string(o.in_channels) + "-channel images, " + f.dataset + " has " +
                        std::to_string(test.channels));
        if (o.num_classes != test.classes)
            throw Error(path + ": the model has " + std::to_string(o.num_classes) + " classes, " + f.dataset + " has " + std::to_string(test.classes));
        for (const auto& [key, size] : {std::pair{"input_height", test.height}, std::pair{"input_width", test.width}})
            if (!file.meta(key).empty() && file.meta(key) != std::to_string(size))
                throw Error(path + ": trained on " + file.meta("input_height") + "x" + file.meta("input_width") + " images, " + f.dataset + " has " +
                            std::to_string(test.height) + "x" + std::to_string(test.width));
        m.saf = saf_name(o.saf);
        m.net = std::make_unique<nn::ResNet<float>>(o);
        io::load_model(*m.net, file);
        data::Normalization norm;
        if (!file.meta("norm_mean").empty())
            norm = {io::split_floats(file.meta("norm_mean"), path + ": norm_mean"), io::split_floats(file.meta("norm_std"), path + ": norm_std")};
        else
            norm = data::channel_statistics(train());  // a PyTorch export without metadata: the usual convention
        norm.check(test.channels, path);
        const std::string key = io::join_floats(norm.mean) + "/" + io::join_floats(norm.std);
        if (!prepared.count(key)) prepared[key] = std::make_shared<train::PreparedSet>(train::prepare(test, norm, f.test_limit));
        m.test = prepared[key];
        if (std::find(f.protect.begin(), f.protect.end(), "clipact") != f.protect.end()) {
            if (!calibration.count(key)) calibration[key] = std::make_shared<train::PreparedSet>(train::prepare(train(), norm, 2000));
            m.calibration = calibration[key];
        }
        models.push_back(std::move(m));
    }
    return models;
}

std::vector<Config> plan(const Flags& f, std::vector<LoadedModel>& models, std::size_t rounds) {
    const auto kind = fault::fault_kind_from_name(f.fault);
    const std::uint64_t mask = parse_mask(f.bits);
    const std::vector<double> rates = f.flips ? std::vector<double>{0.0} : f.bers;  // validated in run()
    fault::Selection sel{true, f.biases, f.bn, f.layers};
    std::vector<Config> configs;
    auto add = [&](const std::string& analysis, std::size_t m, const std::string& dtype, const std::string& protect, double rate,
                   const fault::Selection& s, std::uint64_t bit_mask, const std::string& layer, int bit) {
        Config c;
        c.analysis = analysis;
        c.model = m;
        c.dtype = dtype;
        c.protect = protect;
        c.rate = rate;
        c.layer = layer;
        c.bit = bit;
        c.spec.codec = codec_from_name(dtype);
        c.spec.fault = fault::FaultModel{kind, rate, f.flips ? std::optional<std::uint64_t>(f.flips) : std::nullopt, bit_mask};
        c.spec.rounds = rounds;
        c.spec.seed = f.seed;
        c.spec.protection = fault::protection_from_name(protect);
        c.spec.selection = s;
        c.spec.ci_halfwidth = f.ci_halfwidth;
        c.spec.eval_batch = f.batch;
        configs.push_back(std::move(c));
    };
    for (std::size_t m = 0; m < models.size(); ++m)
        for (const auto& dtype : f.dtypes)
            for (double rate : rates) {
                for (const auto& protect : f.protect) add("ber", m, dtype, protect, rate, sel, mask, f.layers.empty() ? "*" : f.layers.front(), -1);
                if (f.per_layer)
                    models[m].net->for_each_parameter([&](const nn::Parameter<float>& p) {
                        if (!sel.matches(p)) return;
                        fault::Selection one = sel;
                        one.patterns = {p.name};
                        add("layer", m, dtype, "none", rate, one, mask, p.name, -1);
                    });
                if (f.per_bit) {
                    const int bpv = std::visit([](const auto& c) { return c.bits_per_value(); }, codec_from_name(dtype));
                    for (int b = 0; b < bpv; ++b)
                        if (mask >> b & 1) add("bit", m, dtype, "none", rate, sel, std::uint64_t{1} << b, "*", b);
                }
            }
    return configs;
}

void print_table(const std::vector<Config>& configs, const std::vector<LoadedModel>& models) {
    const bool top5 = models.front().test->classes > 10;
    std::printf("\n%-28s %-9s %-6s %-7s %-10s %7s %7s %16s %7s %6s %6s%s\n", "model", "saf", "dtype", "protect", "fault", "clean", "mean",
                "95% CI", "median", "chance", "NaN", top5 ? "   top5" : "");
    for (const auto& c : configs) {
        if (c.analysis != "ber") continue;
        const auto& r = c.result;
        char ci[40];
        std::snprintf(ci, sizeof ci, "[%.2f, %.2f]", r.top1.ci_low, r.top1.ci_high);
        std::printf("%-28s %-9s %-6s %-7s %-10s %7.2f %7.2f %16s %7.2f %5.0f%% %6zu", models[c.model].label.c_str(), models[c.model].saf.c_str(),
                    c.dtype.c_str(), c.protect.c_str(), fault_label(c).c_str(), r.clean.accuracy(), r.top1.mean, ci, r.top1.median,
                    100 * r.top1.chance_fraction, r.nan_images);
        if (top5) std::printf(" %6.2f", r.top5.mean);
        std::printf("\n");
    }
}

int run(const Flags& f) {
    // Validate every name before any work.
    for (const auto& d : f.dtypes) codec_from_name(d);
    for (const auto& p : f.protect) fault::protection_from_name(p);
    fault::fault_kind_from_name(f.fault);
    parse_mask(f.bits);
    if (!f.saf.empty()) saf_from_name(f.saf);
    for (double r : f.bers) fault::FaultModel::bit_flip(r).validate();
    std::size_t rounds = 0;
    if (f.rounds == "auto") {
        rounds = fault::leveugle_sample_size(f.margin, f.confidence);
    } else {
        char* end = nullptr;
        const unsigned long long v = std::strtoull(f.rounds.c_str(), &end, 10);
        if (f.rounds.empty() || *end != '\0' || v == 0 || v > 100000000) throw Error("--rounds: '" + f.rounds + "' is not a positive count or 'auto'");
        rounds = static_cast<std::size_t>(v);
    }
    const fs::path out(f.out);
    std::error_code ec;
    fs::create_directories(out, ec);
    if (ec || !fs::is_directory(out)) throw Error("--out: cannot create directory " + f.out + (ec ? " (" + ec.message() + ")" : ""));
    io::write_file_atomic((out / ".write-test").string(), "");  // fails early, naming the directory, if it is not writable
    fs::remove(out / ".write-test");

    set_threads(f.threads);
    const std::string dir = f.data_dir.empty() ? data::default_data_dir(f.dataset) : f.data_dir;
    if (dir.empty()) throw Error("--data-dir is required for --dataset " + f.dataset);
    const data::Dataset test = data::load_dataset(f.dataset, dir, false);
    std::optional<data::Dataset> train_split;
    auto train = [&]() -> const data::Dataset& {
        if (!train_split) train_split = data::load_dataset(f.dataset, dir, true);
        return *train_split;
    };
    auto models = load_models(f, test, train);
    auto configs = plan(f, models, rounds);
    std::printf("safnet-campaign: %zu model(s), %zu configuration(s), up to %zu rounds each, %zu test images, seed %llu, %zu threads%s\n",
                models.size(), configs.size(), rounds, models.front().test->size(), static_cast<unsigned long long>(f.seed), f.threads,
                f.rounds == "auto" ? " (rounds from --margin/--confidence)" : "");
    std::fflush(stdout);

    nlohmann::ordered_json config_json = {{"safnet_version", version_string}, {"models", f.models}, {"dataset", f.dataset},
                                          {"data_dir", dir}, {"dtypes", f.dtypes}, {"bers", f.bers}, {"fault", f.fault},
                                          {"bits", f.bits}, {"flips", f.flips}, {"rounds", f.rounds}, {"rounds_per_config", rounds},
                                          {"margin", f.margin}, {"confidence", f.confidence}, {"ci_halfwidth", f.ci_halfwidth},
                                          {"seed", f.seed}, {"threads", f.threads}, {"saf_override", f.saf}, {"protect", f.protect},
                                          {"include_biases", f.biases}, {"include_bn", f.bn}, {"layers", f.layers},
                                          {"per_layer", f.per_layer}, {"per_bit", f.per_bit}, {"test_images", models.front().test->size()}};
    const bool live = !f.quiet && examples::stdout_is_terminal();
    examples::ProgressBar bar(live);
    const auto start = std::chrono::steady_clock::now();
    std::size_t done_rounds = 0;
    const std::size_t total_rounds = configs.size() * rounds;
    // The resume state's identity: every flag that changes results (not --threads, --quiet).
    nlohmann::json state_config = nlohmann::json::parse(config_json.dump());
    state_config.erase("threads");
    const fs::path state_path = out / "campaign-state.json";
    std::map<std::string, nlohmann::json> done = f.resume ? load_state(state_path, state_config) : std::map<std::string, nlohmann::json>{};
    if (f.resume) std::printf("resuming: %zu of %zu configurations already done\n", done.size(), configs.size());
    for (std::size_t i = 0; i < configs.size(); ++i) {
        Config& c = configs[i];
        LoadedModel& m = models[c.model];
        const std::string label = m.label + " " + c.dtype + " " + fault_label(c) + (c.analysis == "ber" ? "" : " " + c.analysis + " " + (c.analysis == "bit" ? std::to_string(c.bit) : c.layer));
        if (auto it = done.find(config_key(c)); it != done.end()) {
            c.result = result_from(it->second, m.test->classes);
            done_rounds += rounds;
            continue;
        }
        c.spec.calibration = m.calibration.get();
        c.result = fault::run_campaign(*m.net, *m.test, c.spec, [&](const fault::RoundResult&) {
            ++done_rounds;
            const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            const double eta = elapsed / static_cast<double>(done_rounds) * static_cast<double>(total_rounds - done_rounds);
            bar.update("[" + std::to_string(i + 1) + "/" + std::to_string(configs.size()) + "]", done_rounds, total_rounds,
                       label + "  ETA " + examples::format_duration(eta));
        });
        done_rounds += rounds - c.result.rounds.size();  // early stop
        done[config_key(c)] = result_json(c.result);
        nlohmann::json state = {{"config", state_config}, {"done", nlohmann::json::object()}};
        for (const auto& [k, v] : done) state["done"][k] = v;
        io::write_file_atomic(state_path.string(), state.dump() + "\n");
        if (!live) {
            std::printf("[%zu/%zu] %s: clean %.2f %%, mean %.2f %% over %zu rounds (95%% CI [%.2f, %.2f])\n", i + 1, configs.size(), label.c_str(),
                        c.result.clean.accuracy(), c.result.top1.mean, c.result.top1.rounds, c.result.top1.ci_low, c.result.top1.ci_high);
            std::fflush(stdout);
        }
    }
    bar.finish();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    io::write_file_atomic((out / "rounds.csv").string(), rounds_csv(configs, models));
    io::write_file_atomic((out / "summary.csv").string(), summary_csv(configs, models));
    nlohmann::ordered_json results = nlohmann::ordered_json::array();
    for (const auto& c : configs) results.push_back(summary_json(c, models));
    config_json["seconds"] = seconds;
    io::write_file_atomic((out / "summary.json").string(), nlohmann::ordered_json{{"config", config_json}, {"results", results}}.dump(2) + "\n");
    if (have_gnuplot()) {
        plot_ber(out, configs, models);
        plot_bars(out, "per_bit", "bit", configs, models);
        plot_bars(out, "per_layer", "layer", configs, models);
    } else {
        std::fprintf(stderr, "safnet-campaign: warning: gnuplot not found, no plots (apt-get install gnuplot-nox)\n");
    }
    print_table(configs, models);
    std::size_t ran = 0;
    for (const auto& c : configs) ran += c.result.rounds.size();
    std::printf("\n%zu rounds in %.1f s (%.2f s per round, clean evaluations included); results in %s\n", ran, seconds,
                seconds / static_cast<double>(std::max<std::size_t>(1, ran)), f.out.c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return safnet::examples::run_cli<Flags>("safnet-campaign", "safnet-campaign: Monte Carlo bit-error campaigns on stored weights", argc, argv, add_flags, run);
}
