// safnet/data/dataset.hpp — an image classification dataset held as bytes, and its
// per-channel normalization.
//
// Images stay 8-bit (CIFAR-10 train: 150 MB as bytes, 600 MB as floats); the batch loader
// converts, normalizes and augments them on its own thread (safnet/data/loader.hpp).
//   Dataset            pixels N x C x H x W (uint8), labels in [0, classes)
//   Normalization      x = (pixel / 255 - mean[c]) / std[c]
//   channel_statistics(ds)   mean and (population) std per channel on a 0..1 scale, in double
//   to_tensor(ds, first, count, norm, out)   a contiguous slice as a normalized float batch
#pragma once

#include <safnet/error.hpp>
#include <safnet/nn/tensor.hpp>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace safnet::data {

struct Dataset {
    std::string name;
    std::vector<std::uint8_t> pixels;  // N x C x H x W
    std::vector<std::int32_t> labels;  // N
    std::size_t channels = 1, height = 0, width = 0;
    std::size_t classes = 10;

    std::size_t size() const noexcept { return labels.size(); }
    std::size_t image_size() const noexcept { return channels * height * width; }
    const std::uint8_t* image(std::size_t i) const noexcept { return pixels.data() + i * image_size(); }
    nn::Shape image_shape() const { return nn::Shape{channels, height, width}; }
};

struct Normalization {
    std::vector<float> mean, std;  // per channel, on a 0..1 scale; empty = identity

    bool empty() const noexcept { return mean.empty(); }
    void check(std::size_t channels, const std::string& what) const {
        if (empty()) return;
        if (mean.size() != channels || std.size() != channels)
            throw Error(what + ": normalization has " + std::to_string(mean.size()) + " means and " +
                        std::to_string(std.size()) + " stds for " + std::to_string(channels) + " channels");
        for (float s : std)
            if (!(s > 0.0f) || !std::isfinite(s)) throw Error(what + ": normalization std must be positive and finite");
        for (float m : mean)
            if (!std::isfinite(m)) throw Error(what + ": normalization mean must be finite");
    }
    /// Per-channel (scale, shift) so that x = pixel * scale + shift.
    void affine(std::size_t c, float& scale, float& shift) const noexcept {
        if (empty()) {
            scale = 1.0f / 255.0f;
            shift = 0.0f;
            return;
        }
        scale = 1.0f / (255.0f * std[c]);
        shift = -mean[c] / std[c];
    }
};

/// Mean and standard deviation of each channel over the whole dataset (0..1 scale).
inline Normalization channel_statistics(const Dataset& ds) {
    if (ds.size() == 0) throw Error(ds.name + ": cannot compute statistics of an empty dataset");
    const std::size_t plane = ds.height * ds.width;
    std::vector<double> sum(ds.channels, 0.0), sq(ds.channels, 0.0);
    for (std::size_t i = 0; i < ds.size(); ++i)
        for (std::size_t c = 0; c < ds.channels; ++c) {
            const std::uint8_t* p = ds.image(i) + c * plane;
            std::uint64_t s = 0, q = 0;  // exact integer sums per plane
            for (std::size_t k = 0; k < plane; ++k) {
                s += p[k];
                q += std::uint64_t{p[k]} * p[k];
            }
            sum[c] += static_cast<double>(s);
            sq[c] += static_cast<double>(q);
        }
    Normalization n;
    const double count = static_cast<double>(ds.size() * plane);
    for (std::size_t c = 0; c < ds.channels; ++c) {
        const double m = sum[c] / count / 255.0;
        const double var = std::max(0.0, sq[c] / count / (255.0 * 255.0) - m * m);
        n.mean.push_back(static_cast<float>(m));
        n.std.push_back(static_cast<float>(std::sqrt(var) > 0 ? std::sqrt(var) : 1.0));
    }
    return n;
}

namespace detail {

/// Image i as C x H x W floats, pixel * scale + shift per channel (no augmentation).
inline void normalize_image(const Dataset& ds, std::size_t i, const Normalization& norm, float* dst) {
    const std::size_t plane = ds.height * ds.width;
    for (std::size_t c = 0; c < ds.channels; ++c) {
        float scale, shift;
        norm.affine(c, scale, shift);
        const std::uint8_t* src = ds.image(i) + c * plane;
        for (std::size_t k = 0; k < plane; ++k) dst[c * plane + k] = static_cast<float>(src[k]) * scale + shift;
    }
}

}  // namespace detail

/// Images [first, first + count) as a normalized N x C x H x W float tensor (no augmentation).
inline void to_tensor(const Dataset& ds, std::size_t first, std::size_t count, const Normalization& norm,
                      nn::Tensor<float>& out) {
    if (first + count > ds.size() || first + count < first)
        throw Error(ds.name + ": slice [" + std::to_string(first) + ", " + std::to_string(first + count) +
                    ") outside " + std::to_string(ds.size()) + " images");
    norm.check(ds.channels, ds.name);
    out.resize(nn::Shape{count, ds.channels, ds.height, ds.width});
    for (std::size_t i = 0; i < count; ++i) detail::normalize_image(ds, first + i, norm, out.data() + i * ds.image_size());
}

}  // namespace safnet::data
