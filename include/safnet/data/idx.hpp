// safnet/data/idx.hpp — IDX files (MNIST, Fashion-MNIST), gzip-compressed or raw.
//
// read_idx(path) returns the dimensions and the unsigned-byte payload of one IDX file; zlib
// reads .gz and raw files alike. load_idx_dataset(images, labels) pairs an idx3 image file
// with an idx1 label file into a Dataset (safnet/data/dataset.hpp): images N x 1 x H x W bytes,
// labels in [0, classes). Every inconsistency is a safnet::Error naming the file: missing or unreadable file,
// wrong magic, truncated payload, trailing bytes, image and label counts that differ, a label
// out of range. Nothing is returned partially.
#pragma once

#include <safnet/data/dataset.hpp>
#include <safnet/error.hpp>

#include <zlib.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace safnet::data {

struct IdxFile {
    std::vector<std::uint32_t> dims;
    std::vector<std::uint8_t> bytes;
};

namespace detail {

struct GzCloser {
    void operator()(gzFile f) const noexcept { gzclose(f); }
};

inline std::size_t read_fully(gzFile f, void* dst, std::size_t n) {
    std::size_t got = 0;
    auto* p = static_cast<unsigned char*>(dst);
    while (got < n) {
        const unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(n - got, 1u << 30));
        const int r = gzread(f, p + got, chunk);
        if (r <= 0) break;
        got += static_cast<std::size_t>(r);
    }
    return got;
}

}  // namespace detail

inline IdxFile read_idx(const std::string& path) {
    std::unique_ptr<gzFile_s, detail::GzCloser> f(gzopen(path.c_str(), "rb"));
    if (!f) throw Error(path + ": cannot open IDX file");
    unsigned char head[4];
    if (detail::read_fully(f.get(), head, 4) != 4) throw Error(path + ": truncated IDX header");
    if (head[0] != 0 || head[1] != 0 || head[2] != 0x08 || head[3] < 1 || head[3] > 4)
        throw Error(path + ": not an unsigned-byte IDX file (magic " + std::to_string(head[0]) + " " +
                    std::to_string(head[1]) + " " + std::to_string(head[2]) + " " + std::to_string(head[3]) + ")");
    IdxFile idx;
    std::size_t total = 1;
    for (int d = 0; d < head[3]; ++d) {
        unsigned char b[4];
        if (detail::read_fully(f.get(), b, 4) != 4) throw Error(path + ": truncated IDX header");
        const std::uint32_t v = (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) | b[3];
        if (v == 0 || v > (1u << 28)) throw Error(path + ": implausible dimension " + std::to_string(v));
        idx.dims.push_back(v);
        total *= v;
        if (total > (std::size_t{1} << 34)) throw Error(path + ": payload too large");
    }
    idx.bytes.resize(total);
    const std::size_t got = detail::read_fully(f.get(), idx.bytes.data(), total);
    if (got != total)
        throw Error(path + ": truncated: " + std::to_string(got) + " of " + std::to_string(total) + " payload bytes");
    unsigned char extra;
    if (detail::read_fully(f.get(), &extra, 1) != 0) throw Error(path + ": trailing bytes after the payload");
    int err = 0;
    gzerror(f.get(), &err);
    if (err != Z_OK && err != Z_STREAM_END) throw Error(path + ": corrupt gzip stream");
    return idx;
}

inline Dataset load_idx_dataset(const std::string& images_path, const std::string& labels_path, std::size_t classes = 10) {
    IdxFile im = read_idx(images_path);
    const IdxFile lb = read_idx(labels_path);
    if (im.dims.size() != 3) throw Error(images_path + ": expected 3 dimensions (N, H, W), got " + std::to_string(im.dims.size()));
    if (lb.dims.size() != 1) throw Error(labels_path + ": expected 1 dimension (N), got " + std::to_string(lb.dims.size()));
    if (im.dims[0] != lb.dims[0])
        throw Error(images_path + " has " + std::to_string(im.dims[0]) + " images but " + labels_path + " has " +
                    std::to_string(lb.dims[0]) + " labels");
    Dataset ds;
    ds.name = images_path;
    ds.classes = classes;
    const std::size_t n = im.dims[0];
    ds.channels = 1;
    ds.height = im.dims[1];
    ds.width = im.dims[2];
    ds.labels.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        if (lb.bytes[i] >= classes)
            throw Error(labels_path + ": label " + std::to_string(lb.bytes[i]) + " at index " + std::to_string(i) +
                        " is outside [0, " + std::to_string(classes) + ")");
        ds.labels[i] = lb.bytes[i];
    }
    ds.pixels = std::move(im.bytes);
    return ds;
}

/// Fashion-MNIST / MNIST in `dir` with the standard file names (train or t10k).
inline Dataset load_mnist_like(const std::string& dir, bool train) {
    const std::string prefix = dir + (train ? "/train" : "/t10k");
    Dataset ds = load_idx_dataset(prefix + "-images-idx3-ubyte.gz", prefix + "-labels-idx1-ubyte.gz");
    ds.name = dir + (train ? " (train)" : " (test)");
    return ds;
}

}  // namespace safnet::data
