// safnet/data/idx.hpp — IDX files (MNIST, Fashion-MNIST), gzip-compressed or raw.
//
// read_idx(path) returns the dimensions and the unsigned-byte payload of one IDX file, raw or
// gzip (recognized by its magic; concatenated members are read, anything else after them is
// an error). load_idx_dataset(images, labels) pairs an idx3 image file
// with an idx1 label file into a Dataset (safnet/data/dataset.hpp): images N x 1 x H x W bytes,
// labels in [0, classes). Every inconsistency is a safnet::Error naming the file: missing or unreadable file,
// wrong magic, truncated payload, trailing bytes, image and label counts that differ, a label
// out of range. Nothing is returned partially. Memory follows the file: a header that claims
// more payload than the file holds fails before anything of the claimed size is allocated.
#pragma once

#include <safnet/checked.hpp>
#include <safnet/data/dataset.hpp>
#include <safnet/error.hpp>
#include <safnet/io/read_file.hpp>

#include <zlib.h>

#include <algorithm>
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

/// The largest IDX payload read (16 GiB): beyond it a header's claim is not believed.
inline constexpr std::size_t max_idx_bytes = std::size_t{1} << 34;

namespace detail {

struct InflateEnd {
    void operator()(z_stream* z) const noexcept { inflateEnd(z); }
};

// Decompresses one or more concatenated gzip members; anything else after a member is an
// error. The output grows with what the stream really holds, so memory follows the data, not
// a header's claim; more than `limit` bytes is an error.
inline std::vector<std::uint8_t> gunzip(const std::vector<std::uint8_t>& in, std::size_t limit, const std::string& path) {
    z_stream z{};
    if (inflateInit2(&z, 15 + 16) != Z_OK) throw Error(path + ": cannot initialize zlib");
    std::unique_ptr<z_stream, InflateEnd> guard(&z);
    std::vector<std::uint8_t> out(std::min<std::size_t>(std::max<std::size_t>(in.size() * 4, 4096), limit + 1));
    std::size_t used = 0, at = 0;
    for (;;) {
        const std::size_t avail = std::min<std::size_t>(in.size() - at, 1u << 30);
        z.next_in = const_cast<Bytef*>(in.data() + at);
        z.avail_in = static_cast<uInt>(avail);
        if (used == out.size()) {
            if (out.size() > limit) throw Error(path + ": decompresses to more than the " + std::to_string(limit) + "-byte limit");
            out.resize(std::min(out.size() * 2, limit + 1));
        }
        z.next_out = out.data() + used;
        z.avail_out = static_cast<uInt>(std::min<std::size_t>(out.size() - used, 1u << 30));
        const uInt out_before = z.avail_out;
        const int rc = inflate(&z, Z_NO_FLUSH);
        at += avail - z.avail_in;
        used += out_before - z.avail_out;
        if (rc == Z_STREAM_END) {
            if (at == in.size()) break;
            if (in.size() - at < 2 || in[at] != 0x1f || in[at + 1] != 0x8b)
                throw Error(path + ": " + std::to_string(in.size() - at) + " trailing bytes after the gzip stream");
            inflateReset(&z);
            continue;
        }
        const bool stuck = avail == z.avail_in && out_before == z.avail_out;
        if ((rc == Z_BUF_ERROR || stuck) && z.avail_out != 0) throw Error(path + ": truncated gzip stream");
        if (rc != Z_OK && rc != Z_BUF_ERROR) throw Error(path + ": corrupt gzip stream (" + (z.msg ? z.msg : "zlib error") + ")");
    }
    if (used > limit) throw Error(path + ": decompresses to more than the " + std::to_string(limit) + "-byte limit");
    out.resize(used);
    out.shrink_to_fit();
    return out;
}

}  // namespace detail

/// The bytes of one IDX file, raw or gzip-compressed; `path` names it in errors. The payload
/// must be exactly what the header declares.
inline IdxFile parse_idx(std::vector<std::uint8_t> raw, const std::string& path) {
    std::vector<std::uint8_t> data = raw.size() >= 2 && raw[0] == 0x1f && raw[1] == 0x8b
                                         ? detail::gunzip(raw, max_idx_bytes + 4 + 4 * 4, path)
                                         : std::move(raw);
    if (data.size() < 4) throw Error(path + ": truncated IDX header");
    const unsigned char* head = data.data();
    if (head[0] != 0 || head[1] != 0 || head[2] != 0x08 || head[3] < 1 || head[3] > 4)
        throw Error(path + ": not an unsigned-byte IDX file (magic " + std::to_string(head[0]) + " " +
                    std::to_string(head[1]) + " " + std::to_string(head[2]) + " " + std::to_string(head[3]) + ")");
    const std::size_t header = 4 + 4 * std::size_t{head[3]};
    if (data.size() < header) throw Error(path + ": truncated IDX header");
    IdxFile idx;
    std::size_t total = 1;
    for (int d = 0; d < head[3]; ++d) {
        const unsigned char* b = data.data() + 4 + 4 * d;
        const std::uint32_t v = (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) | b[3];
        if (v == 0) throw Error(path + ": dimension " + std::to_string(d) + " is 0");
        idx.dims.push_back(v);
        total = checked_mul(total, v, path + ": IDX payload size", max_idx_bytes);
    }
    const std::size_t payload = data.size() - header;
    if (payload < total) throw Error(path + ": truncated: " + std::to_string(payload) + " of " + std::to_string(total) + " payload bytes");
    if (payload > total) throw Error(path + ": " + std::to_string(payload - total) + " trailing bytes after the payload");
    data.erase(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(header));
    idx.bytes = std::move(data);
    return idx;
}

inline IdxFile read_idx(const std::string& path) { return parse_idx(io::read_file(path, "IDX file", io::max_dataset_file_bytes), path); }

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
