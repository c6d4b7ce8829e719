// safnet/data/cifar.hpp — CIFAR-10 and CIFAR-100 in their official binary formats.
//
// CIFAR-10 (`cifar-10-batches-bin/`): data_batch_1..5.bin (train), test_batch.bin; records of
// 1 label byte + 3072 pixel bytes (R, G, B planes, 32x32 each, row-major).
// CIFAR-100 (`cifar-100-binary/`): train.bin, test.bin; records of a coarse label byte (20
// superclasses), a fine label byte (100 classes), 3072 pixel bytes.
// Each file is validated as a whole before anything is returned: a missing file, a size that is
// not a positive multiple of the record size, or a label out of range throws safnet::Error
// naming the file (and, for a label, the record).
#pragma once

#include <safnet/data/dataset.hpp>
#include <safnet/error.hpp>
#include <safnet/io/read_file.hpp>

#include <string>
#include <vector>

namespace safnet::data {

enum class Cifar100Labels { fine, coarse };

namespace detail {

/// Appends the records of one CIFAR file: `label_bytes` leading bytes, of which the one at
/// `label_index` is kept and must be < classes.
inline void append_cifar_bytes(Dataset& ds, const std::vector<std::uint8_t>& bytes, const std::string& path, std::size_t label_bytes,
                               std::size_t label_index) {
    constexpr std::size_t image_bytes = 3 * 32 * 32;
    const std::size_t record = label_bytes + image_bytes;
    if (bytes.empty() || bytes.size() % record != 0)
        throw Error(path + ": size " + std::to_string(bytes.size()) + " bytes is not a positive multiple of the " +
                    std::to_string(record) + "-byte CIFAR record (truncated or not a CIFAR binary file)");
    const std::size_t n = bytes.size() / record;
    const std::size_t old = ds.size();
    ds.labels.resize(old + n);
    ds.pixels.resize((old + n) * image_bytes);
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint8_t* r = bytes.data() + i * record;
        if (r[label_index] >= ds.classes)
            throw Error(path + ": record " + std::to_string(i) + " has label " + std::to_string(r[label_index]) +
                        " outside [0, " + std::to_string(ds.classes) + ")");
        ds.labels[old + i] = r[label_index];
        std::copy(r + label_bytes, r + record, ds.pixels.data() + (old + i) * image_bytes);
    }
}

inline void append_cifar_file(Dataset& ds, const std::string& path, std::size_t label_bytes, std::size_t label_index) {
    append_cifar_bytes(ds, io::read_file(path, "file", io::max_dataset_file_bytes), path, label_bytes, label_index);
}

inline Dataset empty_cifar(std::string name, std::size_t classes) {
    Dataset ds;
    ds.name = std::move(name);
    ds.channels = 3;
    ds.height = ds.width = 32;
    ds.classes = classes;
    return ds;
}

}  // namespace detail

/// CIFAR-10 from `dir` (the extracted cifar-10-batches-bin directory).
inline Dataset load_cifar10(const std::string& dir, bool train) {
    Dataset ds = detail::empty_cifar(dir + (train ? " (train)" : " (test)"), 10);
    if (train)
        for (int b = 1; b <= 5; ++b) detail::append_cifar_file(ds, dir + "/data_batch_" + std::to_string(b) + ".bin", 1, 0);
    else
        detail::append_cifar_file(ds, dir + "/test_batch.bin", 1, 0);
    return ds;
}

/// CIFAR-100 from `dir` (the extracted cifar-100-binary directory), fine or coarse labels.
inline Dataset load_cifar100(const std::string& dir, bool train, Cifar100Labels labels = Cifar100Labels::fine) {
    const bool fine = labels == Cifar100Labels::fine;
    Dataset ds = detail::empty_cifar(dir + (train ? " (train)" : " (test)"), fine ? 100 : 20);
    detail::append_cifar_file(ds, dir + (train ? "/train.bin" : "/test.bin"), 2, fine ? 1 : 0);
    return ds;
}

}  // namespace safnet::data
