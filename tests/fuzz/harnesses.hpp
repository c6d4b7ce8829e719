// tests/fuzz/harnesses.hpp — what each fuzz target does with one input, shared by the
// libFuzzer entry points (tests/fuzz/fuzz_<name>.cpp) and the unit test that replays the
// committed corpora and crash inputs (tests/fuzz/regression_test.cpp).
//
// Contract of every harness: bad input may only end in safnet::Error; anything else — another
// exception (std::length_error, a JSON library error), a sanitizer report, a hang — is a
// defect. Accepted input must satisfy the invariants checked here (InvariantBroken otherwise).
#pragma once

#include <safnet/checked.hpp>
#include <safnet/codec/registry.hpp>
#include <safnet/data/cifar.hpp>
#include <safnet/data/idx.hpp>
#include <safnet/fault/stats/ber_curve.hpp>
#include <safnet/fault/run/sweep.hpp>
#include <safnet/io/checkpoint.hpp>
#include <safnet/io/gnuplot.hpp>
#include <safnet/saf.hpp>
#include <safnet/train/trainer.hpp>

#include "../../tools/cli.hpp"

#include <algorithm>
#include <cstring>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace safnet::fuzz {

struct InvariantBroken : std::logic_error {
    using std::logic_error::logic_error;
};
inline void require(bool ok, const std::string& what) {
    if (!ok) throw InvariantBroken(what);
}

using Bytes = std::span<const std::uint8_t>;

/// safetensors: offsets tile the data buffer exactly, every tensor reads back at its size.
inline void safetensors_file(Bytes in) {
    io::Safetensors f;
    try {
        f = io::Safetensors::parse(std::vector<std::uint8_t>(in.begin(), in.end()), "fuzz.safetensors");
    } catch (const Error&) {
        return;
    }
    std::uint64_t header = 0;
    std::memcpy(&header, in.data(), 8);
    const std::size_t buffer = in.size() - 8 - header;
    std::vector<std::pair<std::size_t, std::size_t>> ranges;
    for (const auto& [name, t] : f.tensors()) {
        require(!name.empty(), "empty tensor name accepted");
        ranges.emplace_back(t.begin, t.end);
        require(f.raw_bytes(name).size() == t.elements() * io::dtype_size(t.dtype), "tensor '" + name + "' bytes != elements x dtype size");
        if (t.dtype == io::Dtype::F32 || t.dtype == io::Dtype::F64 || t.dtype == io::Dtype::F16 || t.dtype == io::Dtype::BF16) {
            std::vector<float> v(t.elements());
            f.read_floats(name, std::span<float>(v));
        } else if (t.dtype == io::Dtype::I64 || t.dtype == io::Dtype::I32 || t.dtype == io::Dtype::I16 || t.dtype == io::Dtype::I8 ||
                   t.dtype == io::Dtype::U8) {
            require(f.read_integers(name).size() == t.elements(), "tensor '" + name + "' integer count");
        }
    }
    std::sort(ranges.begin(), ranges.end());
    std::size_t at = 0;
    for (const auto& [b, e] : ranges) {
        require(b == at && e >= b, "tensor byte ranges do not tile the buffer");
        at = e;
    }
    require(at == buffer, "tensors do not cover the data buffer");
}

/// checkpoint -> options -> model -> load -> one forward pass; the model's shapes match the file.
inline void checkpoint_file(Bytes in) {
    try {
        const auto f = io::Safetensors::parse(std::vector<std::uint8_t>(in.begin(), in.end()), "fuzz.safetensors");
        const nn::ResNetOptions o = io::resnet_options(f);
        nn::ResNet<float> m(o);
        io::load_model(m, f);
        m.for_each_parameter([&](const nn::Parameter<float>& p) {
            require(f.info(p.name).shape == io::detail::dims_of(p.value->shape()), "loaded parameter '" + p.name + "' has another shape");
        });
        const std::size_t side = o.arch == "resnet18" ? 32 : 8;
        nn::Tensor<float> x(nn::Shape{1, o.in_channels, side, side}, 0.5f);
        const auto& y = m.forward(x, nn::Mode::eval);
        require(y.shape() == (nn::Shape{1, o.num_classes}), "forward output shape");
    } catch (const Error&) {
    }
}

/// IDX (raw or gzip): the payload is exactly the product of the dimensions.
inline void idx_file(Bytes in) {
    try {
        const auto idx = data::parse_idx(std::vector<std::uint8_t>(in.begin(), in.end()), "fuzz.idx");
        std::size_t n = 1;
        for (auto d : idx.dims) n *= d;
        require(!idx.dims.empty() && idx.dims.size() <= 4, "IDX rank");
        require(idx.bytes.size() == n, "IDX payload size != product of dimensions");
    } catch (const Error&) {
    }
}

/// CIFAR-10 and CIFAR-100 records: whole records only, labels in range.
inline void cifar_file(Bytes in) {
    const std::vector<std::uint8_t> bytes(in.begin(), in.end());
    for (const auto& [label_bytes, classes] : {std::pair<std::size_t, std::size_t>{1, 10}, std::pair<std::size_t, std::size_t>{2, 100}}) {
        data::Dataset ds = data::detail::empty_cifar("fuzz", classes);
        try {
            data::detail::append_cifar_bytes(ds, bytes, "fuzz.bin", label_bytes, label_bytes - 1);
        } catch (const Error&) {
            continue;
        }
        require(ds.pixels.size() == ds.labels.size() * 3072 && bytes.size() == ds.labels.size() * (3072 + label_bytes), "CIFAR record count");
        for (auto l : ds.labels) require(l >= 0 && static_cast<std::size_t>(l) < classes, "CIFAR label out of range");
    }
}

/// Campaign resume state: accepted rounds are consistent evaluations of the stated image count.
inline void campaign_state(Bytes in) {
    const nlohmann::json identity = {{"seed", 1}, {"rounds", 10}};
    fault::SweepState state("fuzz/campaign-state.json", identity);
    try {
        state.parse(std::string(in.begin(), in.end()));
    } catch (const Error&) {
        return;
    }
    for (const auto& [key, saved] : state.done()) {
        std::vector<fault::RoundResult> rounds;
        try {
            rounds = fault::rounds_from_json(saved, 100);
        } catch (const Error&) {
            continue;
        }
        for (const auto& r : rounds) {
            const auto& e = r.eval;
            require(e.images == 100 && e.top1 <= e.top5 && e.top5 <= e.images && e.nan_images <= e.images && e.inf_images <= e.images,
                    "inconsistent saved round accepted");
            require(r.round <= 0xffffffffu, "round number beyond 32 bits accepted");
        }
    }
}

/// The name and number parsers behind flags and metadata; the first byte picks the parser.
inline void parsers(Bytes in) {
    if (in.empty()) return;
    const std::string text(in.begin() + 1, in.end());
    try {
        switch (in[0] % 8) {
            case 0: {
                const auto saf = saf_from_name(text);
                require(saf_name(saf_from_name(saf_name(saf))) == saf_name(saf), "SAF name does not round-trip");
                break;
            }
            case 1: {
                const auto c = codec_from_name(text);
                require(codec_name(codec_from_name(codec_name(c))) == codec_name(c), "codec name does not round-trip");
                break;
            }
            case 2: {
                const auto v = parse_unsigned(text, 1'000'000'000'000ull, "fuzz");
                const auto digits = text.find_first_not_of('0');
                require(std::to_string(v) == (digits == std::string::npos ? "0" : text.substr(digits)), "parse_unsigned is not exact");
                break;
            }
            case 3: require(std::isfinite(parse_finite(text, "fuzz")), "parse_finite returned a non-finite value"); break;
            case 4:
                for (float v : io::split_floats(text, "fuzz")) require(std::isfinite(v), "split_floats returned a non-finite value");
                break;
            case 5: {
                const auto c = fault::parse_curve(text);
                require(c.low > 0 && c.low <= c.high && c.high < 1 && c.points >= 1 && c.points <= 1000, "curve spec out of range");
                break;
            }
            case 6: {
                const auto h = train::parse_history_csv(text, "fuzz.csv");
                for (std::size_t i = 0; i < h.size(); ++i) require(h[i].epoch == i + 1, "history epochs out of order");
                break;
            }
            default: {
                const auto kind = fault::fault_kind_from_name(text);
                require(fault::fault_kind_from_name(fault::fault_kind_name(kind)) == kind, "fault kind does not round-trip");
                break;
            }
        }
    } catch (const Error&) {
    }
}

/// Shard states as a merge reads them: the input is split at '\x00' into the states' texts.
/// Accepted: every configuration of the union comes from exactly one shard, and the shards
/// together own exactly as many configurations as the union holds.
inline void merge_states(Bytes in) {
    std::vector<std::pair<std::string, std::string>> states;
    std::string cur;
    for (const std::uint8_t b : in) {
        if (b == 0) {
            states.emplace_back("shard" + std::to_string(states.size()), cur);
            cur.clear();
        } else {
            cur += static_cast<char>(b);
        }
    }
    states.emplace_back("shard" + std::to_string(states.size()), cur);
    if (states.size() > 16) return;
    try {
        const fault::ShardUnion u = fault::merge_shard_texts(states);
        require(u.done.size() == u.configurations, "the union holds another number of configurations than the shards own");
        for (const auto& [key, result] : u.done) require(u.source.count(key) == 1, "a merged configuration without its shard");
    } catch (const Error&) {
    }
}

/// A name (a model file's, a layer's) as plot data: one quoted field on one line, the same length.
inline void gnuplot_text(Bytes in) {
    const std::string name(in.begin(), in.end());
    const std::string field = io::data_text(name);
    require(field.size() == name.size() + 2 && field.front() == '"' && field.back() == '"', "not one quoted field");
    for (std::size_t i = 1; i + 1 < field.size(); ++i) {
        const auto c = static_cast<unsigned char>(field[i]);
        require(c != '"' && c >= 0x20 && c != 0x7f, "a quote or a control character inside the field");
    }
}

/// The tools' flag parsing (tools/cli.hpp's strict numbers under CLI11): the input is split
/// at '\x00' into arguments. Accepted values are exactly what their text says.
inline void flags(Bytes in) {
    std::vector<std::string> args{"tool"};
    std::string cur;
    for (const std::uint8_t b : in) {
        if (b == 0) {
            args.push_back(cur);
            cur.clear();
        } else {
            cur += static_cast<char>(b);
        }
    }
    args.push_back(cur);
    if (args.size() > 64) return;
    CLI::App app{"fuzz"};
    std::uint64_t count = 0;
    std::vector<double> rates;
    long long offset = 0;
    app.add_option("--count", count);
    app.add_option("--rates", rates)->delimiter(',');
    app.add_option("--offset", offset);
    examples::strict_numbers(app);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    try {
        app.parse(static_cast<int>(argv.size()), argv.data());
    } catch (const CLI::ParseError&) {
        return;
    }
    for (const double r : rates) require(std::isfinite(r), "a non-finite rate was accepted");
    if (app.count("--count")) {
        const std::string text = app.get_option("--count")->results().back();
        require(!text.empty() && text.find_first_not_of("0123456789") == std::string::npos && std::to_string(count) == text.substr(std::min(text.find_first_not_of('0'), text.size() - 1)),
                "--count holds another value than its digits");
    }
}

/// Every harness by name (the names of tests/fuzz/fuzz_<name>.cpp and of the corpus folders).
inline const std::map<std::string, std::function<void(Bytes)>>& harnesses() {
    static const std::map<std::string, std::function<void(Bytes)>> all = {
        {"safetensors", safetensors_file}, {"checkpoint", checkpoint_file}, {"idx", idx_file},
        {"cifar", cifar_file},             {"campaign_state", campaign_state}, {"parsers", parsers},
        {"merge", merge_states},           {"gnuplot", gnuplot_text},          {"flags", flags}};
    return all;
}

}  // namespace safnet::fuzz
