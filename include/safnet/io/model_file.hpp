// safnet/io/model_file.hpp — a trained model file made ready to evaluate on a dataset.
//
//   auto m = io::open_model("runs/r20_tanh.safetensors", test_split, "cifar10");
//   m.net->...; m.norm   // the model (weights loaded) and the normalization it was trained with
//
// open_model(path, test, dataset_name, saf_override, norm_override):
//   requires: `path` is a safnet checkpoint (safetensors with safnet's ResNet metadata) or a
//             PyTorch export in safnet's naming (safnet/io/checkpoint.hpp).
//   ensures:  the model takes the dataset's channels, classes and image size (an Error names
//             the file and both values otherwise); norm is `norm_override` when given, else the
//             file's norm_mean/norm_std; a file without them and no override is refused (a
//             model means something only with the normalization it was trained with, so it is
//             never guessed from the dataset); norm matches the channel count (checked).
// label is the file name without its extension; saf the SAF's registry name. A file listed in a
// SHA256SUMS beside it must match its listed digest (io/sha256.hpp); recorded_accuracy and
// recorded_dataset are what the file says it scored, for the tools to compare with what it does.
#pragma once

#include <safnet/data/dataset.hpp>
#include <safnet/error.hpp>
#include <safnet/checked.hpp>
#include <safnet/detail/fnv1a.hpp>
#include <safnet/io/checkpoint.hpp>
#include <safnet/io/sha256.hpp>
#include <safnet/nn/resnet.hpp>
#include <safnet/saf.hpp>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace safnet::io {

/// FNV-1a digest of a file's metadata (every key and value, in key order).
inline std::string metadata_digest(const Metadata& meta) {
    safnet::detail::Fnv1a h;
    for (const auto& [k, v] : meta) {
        h.add_field(k);
        h.add_field(v);
    }
    return h.hex();
}

struct ModelFile {
    std::string path, label, saf, metadata_digest;
    std::string recorded_dataset;  // the file's "dataset" metadata ("" if none)
    std::optional<double> recorded_accuracy;  // its "test_accuracy", when recorded
    std::optional<std::size_t> recorded_test_images;  // the images that accuracy was measured on, when recorded
    std::unique_ptr<nn::ResNet<float>> net;
    data::Normalization norm;
};

inline ModelFile open_model(const std::string& path, const data::Dataset& test, const std::string& dataset_name, const std::string& saf_override,
                            const std::optional<data::Normalization>& norm_override = std::nullopt) {
    ModelFile m;
    m.path = path;
    m.label = std::filesystem::path(path).stem().string();
    verify_listed_checksum(path);  // a shipped model is checked against the SHA256SUMS beside it
    const auto file = Safetensors::read_file(path);
    m.metadata_digest = io::metadata_digest(file.metadata());
    m.recorded_dataset = file.meta("dataset");
    if (!file.meta("test_images").empty())
        m.recorded_test_images = static_cast<std::size_t>(parse_unsigned(file.meta("test_images"), std::size_t{1} << 40, path + ": metadata 'test_images'"));
    if (!file.meta("test_accuracy").empty()) m.recorded_accuracy = parse_finite(file.meta("test_accuracy"), path + ": metadata 'test_accuracy'");
    nn::ResNetOptions o = resnet_options(file);
    if (!saf_override.empty()) o.saf = saf_from_name(saf_override);
    if (o.in_channels != test.channels)
        throw Error(path + ": the model takes " + std::to_string(o.in_channels) + "-channel images, " + dataset_name + " has " + std::to_string(test.channels));
    if (o.num_classes != test.classes)
        throw Error(path + ": the model has " + std::to_string(o.num_classes) + " classes, " + dataset_name + " has " + std::to_string(test.classes));
    for (const auto& [key, size] : {std::pair{"input_height", test.height}, std::pair{"input_width", test.width}})
        if (!file.meta(key).empty() && file.meta(key) != std::to_string(size))
            throw Error(path + ": trained on " + file.meta("input_height") + "x" + file.meta("input_width") + " images, " + dataset_name + " has " +
                        std::to_string(test.height) + "x" + std::to_string(test.width));
    m.saf = saf_name(o.saf);
    m.net = std::make_unique<nn::ResNet<float>>(o);
    load_model(*m.net, file);
    if (norm_override) {
        m.norm = *norm_override;
    } else if (!file.meta("norm_mean").empty() && !file.meta("norm_std").empty()) {
        m.norm = {split_floats(file.meta("norm_mean"), path + ": norm_mean"), split_floats(file.meta("norm_std"), path + ": norm_std")};
    } else {
        throw Error(path + ": no normalization in the file's metadata (norm_mean, norm_std); pass --norm-mean/--norm-std with the values "
                    "the model was trained with (tools/import_pytorch.py writes them into imported files)");
    }
    m.norm.check(test.channels, path);
    return m;
}

}  // namespace safnet::io
