// Small synthetic datasets for fast training-pipeline tests: each class is a distinct
// brightness pattern plus seeded noise, so a tiny ResNet learns it in a few steps.
#pragma once

#include <safnet/data/dataset.hpp>

#include <algorithm>
#include <random>

namespace safnet::test {

inline data::Dataset synthetic_dataset(std::size_t n, std::size_t channels, std::size_t side, std::size_t classes, unsigned seed) {
    data::Dataset ds;
    ds.name = "synthetic";
    ds.channels = channels;
    ds.height = ds.width = side;
    ds.classes = classes;
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> noise(-40, 40);
    ds.labels.resize(n);
    ds.pixels.resize(n * ds.image_size());
    for (std::size_t i = 0; i < n; ++i) {
        const auto label = static_cast<std::int32_t>(i % classes);
        ds.labels[i] = label;
        for (std::size_t c = 0; c < channels; ++c)
            for (std::size_t y = 0; y < side; ++y)
                for (std::size_t x = 0; x < side; ++x) {
                    const int base = static_cast<int>((x + y * static_cast<std::size_t>(label)) % classes) * 200 / static_cast<int>(classes) + 20;
                    ds.pixels[i * ds.image_size() + (c * side + y) * side + x] = static_cast<std::uint8_t>(std::clamp(base + noise(rng), 0, 255));
                }
    }
    return ds;
}

}  // namespace safnet::test
