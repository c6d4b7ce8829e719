// fault/report/plots.hpp: word fields that tile every codec's word, one style per series across
// a run's plots, and the plots' data files.
#include <safnet/fault/report/plots.hpp>

#include "support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <variant>

using namespace safnet;

TEST_CASE("word fields: each codec's bits covered once, lowest first, sign on top", "[fault][report]") {
    for (const std::string dtype : {"fp32", "fp16", "bf16", "q2.5", "q0.7", "q7.0", "q3.4"}) {
        INFO(dtype);
        const auto fields = fault::word_fields(dtype);
        const int bits = std::visit([](const auto& codec) { return codec.bits_per_value(); }, codec_from_name(dtype));
        int next = 0;
        for (const auto& [name, low, high] : fields) {
            CHECK(low == next);
            CHECK(high >= low);
            next = high + 1;
        }
        CHECK(next == bits);
        CHECK(std::get<0>(fields.back()) == "sign");
        CHECK(std::get<1>(fields.back()) == bits - 1);
    }
    CHECK(fault::word_fields("fp32")[1] == std::tuple<std::string, int, int>{"exponent", 23, 30});
    CHECK(fault::word_fields("q2.5")[1] == std::tuple<std::string, int, int>{"integer", 5, 6});
}

TEST_CASE("series styles: one style per series, the same whatever the configurations' order", "[fault][report]") {
    std::vector<fault::SweepModel> models;
    for (int m = 0; m < 9; ++m) models.push_back({"model" + std::to_string(m), "", "tanh"});
    std::vector<fault::Configuration> configs;
    for (std::size_t m = 0; m < models.size(); ++m)
        for (const char* dtype : {"fp32", "fp16"})
            for (const double rate : {1e-6, 1e-5}) {
                fault::Configuration c;
                c.model = m;
                c.dtype = dtype;
                c.rate = rate;
                configs.push_back(c);
            }
    const fault::SeriesStyles styles(configs, models);
    std::vector<fault::Configuration> reversed(configs.rbegin(), configs.rend());
    const fault::SeriesStyles again(reversed, models);
    std::set<std::string> seen;
    for (const auto& c : configs) {
        const std::string title = fault::line_title(c, models);
        CHECK(styles.style(title) == again.style(title));
        seen.insert(styles.style(title));
    }
    CHECK(seen.size() == 18);  // 9 models x 2 formats, past the palette's seven colours too
    CHECK(styles.colour(fault::line_title(configs[0], models)).rfind('#', 0) == 0);
}

TEST_CASE("BER plot data: one block per series, titles quoted, rates offset around each point", "[fault][report]") {
    const test::TempDir tmp("plots_test");  // per process: the native and portable runs go in parallel
    const std::filesystem::path& dir = tmp.path();
    std::vector<fault::SweepModel> models{{"a \"quoted\" model", "", "none"}, {"b", "", "tanh"}};
    std::vector<fault::Configuration> configs;
    for (std::size_t m = 0; m < 2; ++m) {
        fault::Configuration c;
        c.model = m;
        c.dtype = "fp32";
        c.rate = 1e-5;
        c.result.estimate.top1.mean = 50.0 + static_cast<double>(m);
        configs.push_back(c);
    }
    const auto failed = fault::draw_sweep_plots(dir, configs, models, {});
    std::ifstream in(dir / "accuracy_vs_ber.dat");
    std::stringstream data;
    data << in.rdbuf();
    const std::string text = data.str();
    CHECK(text.find("\"a 'quoted' model (none) fp32\" 0 0 0") != std::string::npos);  // a quote cannot end the field
    // Two series at one rate sit a factor 10^(+-0.015) apart, so their bars stay apart.
    CHECK(text.find("9.6605088e-06 50") != std::string::npos);
    CHECK(text.find("1.0351422e-05 51") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(dir / "per_bit.dat"));  // no per-bit results, no per-bit plot
    for (const auto& name : failed) CHECK(name == "accuracy_vs_ber");  // only if gnuplot is missing here
}
