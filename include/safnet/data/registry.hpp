// safnet/data/registry.hpp — datasets by name, for command-line tools: the one place where
// "--dataset cifar10" becomes a loader and its defaults.
//
//   fashion-mnist, mnist   IDX files (train-*/t10k-*), 1x28x28, 10 classes, no augmentation
//   cifar10                CIFAR-10 binary, 3x32x32, 10 classes, crop(pad 4) + flip
//   cifar100               CIFAR-100 binary, fine labels (100 classes), crop + flip
//   cifar100-coarse        CIFAR-100 binary, coarse labels (20 superclasses), crop + flip
#pragma once

#include <safnet/data/cifar.hpp>
#include <safnet/data/idx.hpp>
#include <safnet/data/loader.hpp>

#include <string>
#include <vector>

namespace safnet::data {

inline std::vector<std::string> dataset_names() { return {"fashion-mnist", "mnist", "cifar10", "cifar100", "cifar100-coarse"}; }

inline void check_dataset_name(const std::string& name) {
    for (const auto& n : dataset_names())
        if (n == name) return;
    std::string msg = "unknown dataset '" + name + "'; valid:";
    for (const auto& n : dataset_names()) msg += " " + n;
    throw Error(msg);
}

inline bool is_cifar(const std::string& name) { return name.rfind("cifar", 0) == 0; }

/// Where the data lives when --data-dir is not given ("" = no default: the flag is required).
inline std::string default_data_dir(const std::string& name) {
    check_dataset_name(name);
    if (name == "fashion-mnist") return "/usr/share/datasets/fashion-mnist";
    return "";
}

/// Random crop (pad 4) + horizontal flip for natural images, nothing for digit-like data.
inline Augmentation default_augmentation(const std::string& name) {
    check_dataset_name(name);
    return is_cifar(name) ? Augmentation{4, true} : Augmentation{};
}

inline Dataset load_dataset(const std::string& name, const std::string& dir, bool train) {
    check_dataset_name(name);
    if (dir.empty()) throw Error("dataset " + name + ": no data directory given (--data-dir)");
    if (name == "cifar10") return load_cifar10(dir, train);
    if (name == "cifar100") return load_cifar100(dir, train, Cifar100Labels::fine);
    if (name == "cifar100-coarse") return load_cifar100(dir, train, Cifar100Labels::coarse);
    return load_mnist_like(dir, train);
}

}  // namespace safnet::data
