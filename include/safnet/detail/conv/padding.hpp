// safnet/detail/conv/padding.hpp — one image copied into a zero-padded buffer (the input of the
// direct and weight-gradient kernels), and the per-thread buffer that keeps its zero border.
#pragma once

#include <safnet/detail/conv/short_copy.hpp>
#include <safnet/nn/tensor.hpp>

#include <algorithm>
#include <array>
#include <cstddef>

namespace safnet::detail {

/// Copies the rows of one image (channels x h x w) into a padded buffer of `channels` planes
/// `plane` apart, each hp rows of wp, at row and column offset `pad` (clipped to the buffer),
/// and writes nothing else: the zero border is the caller's (pad_image writes it; a workspace
/// that keeps its geometry keeps its border).
template <class T>
void pad_image_rows(const T* x, std::size_t channels, std::size_t h, std::size_t w, std::size_t pad, std::size_t hp,
                    std::size_t wp, std::size_t plane, T* xp) {
    const std::size_t first = std::min(pad, wp), count = std::min(w, wp - first);
    const std::size_t r0 = std::min(pad, hp), r1 = std::min(pad + h, hp);
    for (std::size_t c = 0; c < channels; ++c)
        for (std::size_t r = r0; r < r1; ++r) copy_short(x + (c * h + (r - pad)) * w, xp + c * plane + r * wp + first, count);
}

/// Copies one image into a padded buffer as pad_image_rows does, with `pad` zeros on the top
/// and left and zeros everywhere else outside the image and in each plane's tail: every
/// element is written.
template <class T>
void pad_image(const T* x, std::size_t channels, std::size_t h, std::size_t w, std::size_t pad, std::size_t hp,
               std::size_t wp, std::size_t plane, T* xp) {
    std::fill(xp, xp + channels * plane, T(0));
    pad_image_rows(x, channels, h, w, pad, hp, wp, plane, xp);
}

/// A thread's workspace for padded (or Winograd-transformed) images. Its zero border depends
/// only on the geometry, so it is written when the geometry changes and kept otherwise: per
/// image only the image's own rows are written (zeroing every row per image cost ~5 % of a
/// training step, much of it in memset calls for runs of one or two elements).
template <class T>
struct BorderedWorkspace {
    nn::Tensor<T> data;
    std::array<std::size_t, 8> geometry{};  // of the border in place; all zero: none yet
    /// Sizes the buffer for geometry g; true if its border is already in place.
    bool prepare(const std::array<std::size_t, 8>& g, std::size_t size) {
        data.resize(nn::Shape{size});
        const bool ready = g == geometry;
        geometry = g;
        return ready;
    }
    /// x (channels x h x w) zero-padded by `pad` into planes of hp x wp rows, `plane` apart.
    T* pad(const T* x, std::size_t channels, std::size_t h, std::size_t w, std::size_t pad, std::size_t hp,
           std::size_t wp, std::size_t plane) {
        if (prepare({1, channels, h, w, pad, hp, wp, plane}, channels * plane)) {
            pad_image_rows(x, channels, h, w, pad, hp, wp, plane, data.data());
        } else {
            pad_image(x, channels, h, w, pad, hp, wp, plane, data.data());
        }
        return data.data();
    }
};

}  // namespace safnet::detail
