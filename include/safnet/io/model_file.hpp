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
// label is the file name without its extension; saf the SAF's registry name.
#pragma once

#include <safnet/data/dataset.hpp>
#include <safnet/error.hpp>
#include <safnet/io/checkpoint.hpp>
#include <safnet/nn/resnet.hpp>
#include <safnet/saf.hpp>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace safnet::io {

struct ModelFile {
    std::string path, label, saf;
    std::unique_ptr<nn::ResNet<float>> net;
    data::Normalization norm;
};

inline ModelFile open_model(const std::string& path, const data::Dataset& test, const std::string& dataset_name, const std::string& saf_override,
                            const std::optional<data::Normalization>& norm_override = std::nullopt) {
    ModelFile m;
    m.path = path;
    m.label = std::filesystem::path(path).stem().string();
    const auto file = Safetensors::read_file(path);
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
                    "the model was trained with (benchmarks/pytorch/import_pytorch.py writes them into imported files)");
    }
    m.norm.check(test.channels, path);
    return m;
}

}  // namespace safnet::io
