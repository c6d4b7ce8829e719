// safnet/io/checkpoint.hpp — models to and from safetensors files, in PyTorch's state_dict
// layout, so checkpoints move between safnet and PyTorch.
//
//   save_model(model, "m.safetensors", metadata)      raw parameters + BN running statistics
//   auto file = io::Safetensors::read_file("m.safetensors");
//   nn::ResNet<float> model(io::resnet_options(file));  // architecture from metadata or shapes
//   io::load_model(model, file);                          // strict: names and shapes must match
//
// What is stored for a SAF-parametrized weight is its raw value W (what memory holds and
// faults hit); the SAF is recorded in the metadata ("saf") and applied after loading. BN
// layers also get PyTorch's "<bn>.num_batches_tracked" (I64 scalar), which loading ignores.
// Metadata keys written by safnet: format=pt, safnet_version, arch, saf, shortcut,
// in_channels, num_classes, input_height, input_width, dataset, norm_mean, norm_std, epoch,
// test_accuracy, seed (any subset; values are strings).
// A file without metadata (a PyTorch export) still loads: resnet_options() infers the
// architecture from tensor shapes (see docs in README, "Importing a PyTorch model").
#pragma once

#include <safnet/checked.hpp>
#include <safnet/io/safetensors.hpp>
#include <safnet/nn/resnet.hpp>
#include <safnet/version.hpp>

#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <vector>

namespace safnet::io {

using Metadata = std::map<std::string, std::string>;

namespace detail {

inline std::vector<std::size_t> dims_of(const nn::Shape& s) {
    std::vector<std::size_t> d;
    for (std::size_t i = 0; i < s.rank(); ++i) d.push_back(s[i]);
    return d;
}

inline bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// A positive whole-number metadata value (strict: digits only, at most `max`), if present.
inline std::vector<std::size_t> parse_size(const Metadata& m, const std::string& key, const std::string& source, std::size_t max) {
    const auto it = m.find(key);
    if (it == m.end()) return {};
    const auto v = parse_unsigned(it->second, max, source + ": metadata '" + key + "'");
    if (v == 0) throw Error(source + ": metadata '" + key + "' = '0' must be positive");
    return {static_cast<std::size_t>(v)};
}

}  // namespace detail

/// Adds every parameter (raw values) and buffer of `model` to `w`; callers may add more
/// tensors (the trainer adds optimizer state) before writing.
template <class Model>
void add_model_tensors(SafetensorsWriter& w, Model& model, std::int64_t batches_tracked = 0) {
    using T = std::remove_cvref_t<decltype(*model.parameters().front().value->data())>;
    model.for_each_parameter([&](const nn::Parameter<T>& p) {
        w.add(p.name, std::span<const T>(p.value->data(), p.value->size()), detail::dims_of(p.value->shape()));
    });
    model.for_each_buffer([&](const std::string& name, nn::Tensor<T>& t) {
        w.add(name, std::span<const T>(t.data(), t.size()), detail::dims_of(t.shape()));
        if (detail::ends_with(name, ".running_mean")) {
            const std::int64_t n[1] = {batches_tracked};
            w.add(name.substr(0, name.size() - 13) + ".num_batches_tracked", std::span<const std::int64_t>(n, 1), {});
        }
    });
}

/// Writes the model's tensors plus `metadata` (and format/version keys) atomically to `path`.
template <class Model>
void save_model(Model& model, const std::string& path, Metadata metadata, std::int64_t batches_tracked = 0) {
    SafetensorsWriter w;
    add_model_tensors(w, model, batches_tracked);
    metadata.emplace("format", "pt");
    metadata["safnet_version"] = version_string;
    for (const auto& [k, v] : metadata) w.set_metadata(k, v);
    w.write(path);
}

/// Refuses values no trained model holds: NaN or Inf anywhere (a diverged run; every campaign
/// on it would report clean 0 and P(fail) 0), and a negative BatchNorm running variance.
template <class Values>
void check_values(const std::string& source, const std::string& name, const Values& v) {
    const bool variance = detail::ends_with(name, "running_var");
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (!std::isfinite(v[i]))
            throw Error(source + ": tensor '" + name + "' holds a non-finite value (" + std::to_string(v[i]) + ") at index " + std::to_string(i) +
                        "; a model with NaN or Inf parameters cannot be evaluated");
        if (variance && v[i] < 0)
            throw Error(source + ": tensor '" + name + "' holds a negative running variance (" + std::to_string(v[i]) + ") at index " + std::to_string(i));
    }
}

/// Loads every parameter and buffer of `model` from `file` (converting F16/BF16/F64 to the
/// model's scalar type) and refreshes the SAF weights. Strict: a missing tensor, a shape
/// that differs, a tensor the model does not have, or a value check_values refuses is an
/// error naming the file and tensor.
/// Tensors whose name starts with one of `ignore_prefixes` (e.g. optimizer state) and
/// BN "num_batches_tracked" counters are skipped.
template <class Model>
void load_model(Model& model, const Safetensors& file, const std::vector<std::string>& ignore_prefixes = {}) {
    using T = std::remove_cvref_t<decltype(*model.parameters().front().value->data())>;
    std::set<std::string> used;
    auto load = [&](const std::string& name, nn::Tensor<T>& t) {
        if (!file.contains(name)) throw Error(file.source() + ": missing tensor '" + name + "' (expected shape " + t.shape().str() + ")");
        const TensorInfo& info = file.info(name);
        if (info.shape != detail::dims_of(t.shape()))
            throw Error(file.source() + ": tensor '" + name + "' has shape " + info.shape_str() + ", the model expects " + t.shape().str());
        file.read_floats(name, t.span());
        check_values(file.source(), name, t.span());
        used.insert(name);
    };
    model.for_each_parameter([&](const nn::Parameter<T>& p) { load(p.name, *p.value); });
    model.for_each_buffer([&](const std::string& name, nn::Tensor<T>& t) { load(name, t); });
    for (const auto& [name, info] : file.tensors()) {
        if (used.count(name) || detail::ends_with(name, ".num_batches_tracked")) continue;
        bool ignored = false;
        for (const auto& p : ignore_prefixes) ignored = ignored || name.rfind(p, 0) == 0;
        if (!ignored) throw Error(file.source() + ": tensor '" + name + "' does not belong to this model (" + model.options().arch + ")");
    }
    model.refresh_weights();
}

/// The ResNet a checkpoint holds: from its metadata where present, otherwise inferred from
/// tensor shapes (conv1.weight gives input channels and CIFAR vs ImageNet stem, fc.weight the
/// classes, the number of layerN.M blocks the depth, downsample tensors the shortcut kind).
inline nn::ResNetOptions resnet_options(const Safetensors& file) {
    const Metadata& m = file.metadata();
    nn::ResNetOptions o;
    const TensorInfo& stem = file.info("conv1.weight");
    const TensorInfo& fc = file.info("fc.weight");
    if (stem.shape.size() != 4 || fc.shape.size() != 2) throw Error(file.source() + ": conv1.weight / fc.weight have unexpected ranks");
    for (const auto* t : {&stem, &fc})
        for (const auto d : t->shape)
            if (d == 0) throw Error(file.source() + ": " + (t == &stem ? "conv1.weight" : "fc.weight") + " has an empty dimension " + t->shape_str());
    o.in_channels = stem.shape[1];
    o.num_classes = fc.shape[0];
    std::size_t blocks = 0;
    bool downsample = false;
    for (const auto& [name, info] : file.tensors()) {
        if (name.rfind("layer1.", 0) == 0 && detail::ends_with(name, ".conv1.weight")) ++blocks;
        downsample = downsample || name.find(".downsample.") != std::string::npos;
    }
    if (stem.shape[2] == 7) o.arch = "resnet18";
    else o.arch = "resnet" + std::to_string(6 * blocks + 2);
    o.shortcut = downsample ? nn::Shortcut::B : nn::Shortcut::A;
    if (auto it = m.find("arch"); it != m.end()) o.arch = it->second;
    if (auto it = m.find("shortcut"); it != m.end()) {
        if (it->second != "A" && it->second != "B") throw Error(file.source() + ": metadata shortcut '" + it->second + "' is not A or B");
        o.shortcut = it->second == "A" ? nn::Shortcut::A : nn::Shortcut::B;
    }
    if (auto it = m.find("saf"); it != m.end()) {
        try {
            o.saf = saf_from_name(it->second);
        } catch (const Error& e) {
            throw Error(file.source() + ": metadata saf: " + e.what());
        }
    }
    // The metadata must agree with the tensors: those are backed by the file's bytes, so a
    // model built from these options never asks for more memory than the file justifies.
    const auto agree = [&](const char* key, std::size_t from_tensor, const char* tensor) {
        for (auto v : detail::parse_size(m, key, file.source(), std::numeric_limits<std::uint32_t>::max()))
            if (v != from_tensor)
                throw Error(file.source() + ": metadata '" + key + "' = " + std::to_string(v) + " disagrees with " + tensor + " (" +
                            std::to_string(from_tensor) + ")");
    };
    agree("in_channels", o.in_channels, "conv1.weight");
    agree("num_classes", o.num_classes, "fc.weight");
    return o;
}

/// Metadata describing a model's architecture (the part resnet_options() reads back).
inline Metadata architecture_metadata(const nn::ResNetOptions& o) {
    return {{"arch", o.arch},
            {"saf", saf_name(o.saf)},
            {"shortcut", o.shortcut == nn::Shortcut::A ? "A" : "B"},
            {"in_channels", std::to_string(o.in_channels)},
            {"num_classes", std::to_string(o.num_classes)}};
}

/// "0.4914,0.4822" <-> {0.4914f, 0.4822f}: per-channel statistics in metadata.
inline std::string join_floats(const std::vector<float>& v) {
    std::ostringstream s;
    s.precision(9);
    for (std::size_t i = 0; i < v.size(); ++i) s << (i ? "," : "") << v[i];
    return s.str();
}
inline std::vector<float> split_floats(const std::string& text, const std::string& what) {
    std::vector<float> v;
    std::stringstream s(text);
    for (std::string item; std::getline(s, item, ',');) {
        try {
            const double x = parse_finite(item, what);
            if (std::abs(x) > std::numeric_limits<float>::max()) throw Error(what);
            v.push_back(static_cast<float>(x));
        } catch (const Error&) {
            throw Error(what + ": '" + text + "' is not a comma-separated list of finite numbers");
        }
    }
    return v;
}

}  // namespace safnet::io
