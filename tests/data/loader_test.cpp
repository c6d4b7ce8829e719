#include <safnet/data/loader.hpp>

#include "support/synthetic.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <set>

using namespace safnet::data;

namespace {

// The dataset image index of every sample of an epoch, recovered from its first pixel value
// (the synthetic dataset below writes the index into pixel 0).
Dataset indexed_dataset(std::size_t n) {
    Dataset ds;
    ds.name = "indexed";
    ds.channels = 1;
    ds.height = ds.width = 4;
    ds.classes = 10;
    ds.labels.resize(n);
    ds.pixels.resize(n * 16);
    for (std::size_t i = 0; i < n; ++i) {
        ds.labels[i] = static_cast<std::int32_t>(i % 10);
        ds.pixels[i * 16] = static_cast<std::uint8_t>(i);
        for (std::size_t k = 1; k < 16; ++k) ds.pixels[i * 16 + k] = static_cast<std::uint8_t>(100 + k);
    }
    return ds;
}

std::vector<std::vector<float>> epoch_batches(BatchLoader& loader, std::uint64_t epoch, std::size_t first = 0) {
    std::vector<std::vector<float>> out;
    loader.start_epoch(epoch, first);
    for (Batch b; loader.next(b);) out.emplace_back(b.images.data(), b.images.data() + b.images.size());
    return out;
}

}  // namespace

TEST_CASE("a shuffled epoch visits every image once, reproducibly from (seed, epoch)", "[data][loader]") {
    const Dataset ds = indexed_dataset(200);
    for (bool prefetch : {false, true}) {
        BatchLoader loader(ds, {.batch = 32, .shuffle = true, .seed = 5, .prefetch = prefetch});
        REQUIRE(loader.batches_per_epoch() == 7);
        std::multiset<int> seen;
        std::size_t batches = 0;
        loader.start_epoch(0);
        for (Batch b; loader.next(b); ++batches) {
            CHECK(b.index == batches);
            CHECK(b.images.shape()[0] == (batches < 6 ? 32u : 8u));
            for (std::size_t k = 0; k < b.labels.size(); ++k) {
                const int i = static_cast<int>(std::lround(b.images[k * 16] * 255.0f));
                seen.insert(i);
                CHECK(b.labels[k] == i % 10);
            }
        }
        CHECK(batches == 7);
        CHECK(seen.size() == 200);
        CHECK(std::set<int>(seen.begin(), seen.end()).size() == 200);
    }
    BatchLoader a(ds, {.batch = 32, .seed = 5, .prefetch = true}), b(ds, {.batch = 32, .seed = 5, .prefetch = false});
    const auto e0 = epoch_batches(a, 0), e1 = epoch_batches(a, 1);
    CHECK(e0 == epoch_batches(b, 0));  // prefetch changes nothing
    CHECK(e1 == epoch_batches(b, 1));
    CHECK(e0 != e1);                    // epochs are shuffled differently
    CHECK(e0 == epoch_batches(a, 0));   // and reproducibly
    // Resuming at batch 3 yields exactly the tail of the full epoch.
    const auto tail = epoch_batches(a, 1, 3);
    CHECK(tail == std::vector<std::vector<float>>(e1.begin() + 3, e1.end()));
    BatchLoader other_seed(ds, {.batch = 32, .seed = 6});
    CHECK(epoch_batches(other_seed, 0) != e0);
}

TEST_CASE("no shuffle, limit and drop_last", "[data][loader]") {
    const Dataset ds = indexed_dataset(100);
    BatchLoader loader(ds, {.batch = 16, .shuffle = false, .drop_last = true, .limit = 50});
    CHECK(loader.images() == 50);
    CHECK(loader.batches_per_epoch() == 3);
    CHECK(loader.images_per_epoch() == 48);
    const auto batches = epoch_batches(loader, 3);
    REQUIRE(batches.size() == 3);
    for (std::size_t b = 0; b < 3; ++b)
        for (std::size_t k = 0; k < 16; ++k) CHECK(std::lround(batches[b][k * 16] * 255.0f) == static_cast<long>(b * 16 + k));
    CHECK_THROWS_WITH(BatchLoader(ds, {.batch = 0}), Catch::Contains("batch size"));
    CHECK_THROWS_WITH(BatchLoader(ds, {.augment = {5, false}}), Catch::Contains("padding"));
    CHECK_THROWS_WITH(BatchLoader(ds, {.norm = {{0.5f, 0.5f}, {1.0f, 1.0f}}}), Catch::Contains("2 means"));
}

TEST_CASE("normalization: per-channel statistics and the affine map", "[data][loader]") {
    Dataset ds;
    ds.name = "two";
    ds.channels = 2;
    ds.height = 1;
    ds.width = 2;
    ds.labels = {0, 1};
    ds.pixels = {0, 255, 51, 51, /* image 2 */ 0, 255, 102, 102};
    const Normalization n = channel_statistics(ds);
    CHECK(n.mean[0] == Approx(0.5));
    CHECK(n.std[0] == Approx(0.5));
    CHECK(n.mean[1] == Approx(0.3));
    CHECK(n.std[1] == Approx(0.1));
    safnet::nn::Tensor<float> t;
    to_tensor(ds, 0, 2, n, t);
    CHECK(t[0] == Approx(-1.0));
    CHECK(t[1] == Approx(1.0));
    CHECK(t[2] == Approx(-1.0));
    CHECK(t[7] == Approx(1.0));
    CHECK_THROWS_WITH(to_tensor(ds, 1, 2, n, t), Catch::Contains("outside"));
}

TEST_CASE("augmentation: crops are zero-padded translations, flips mirror, both seeded", "[data][loader]") {
    // One 6x6 image whose pixel (y, x) holds 10 * y + x + 1 (so 0 only appears as padding).
    Dataset ds;
    ds.name = "grid";
    ds.channels = 1;
    ds.height = ds.width = 6;
    ds.classes = 1;
    const std::size_t copies = 2000;
    ds.labels.assign(copies, 0);
    for (std::size_t i = 0; i < copies; ++i)
        for (std::size_t y = 0; y < 6; ++y)
            for (std::size_t x = 0; x < 6; ++x) ds.pixels.push_back(static_cast<std::uint8_t>(10 * y + x + 1));
    BatchLoader loader(ds, {.batch = 500, .shuffle = false, .augment = {2, true}, .seed = 11});
    loader.start_epoch(0);
    std::size_t flips = 0, shifted = 0;
    std::vector<std::size_t> dy_count(5, 0);
    for (Batch b; loader.next(b);)
        for (std::size_t k = 0; k < b.labels.size(); ++k) {
            const float* img = b.images.data() + k * 36;
            // Recover the transform from any inside pixel, then check every pixel against it.
            long dy = 99, dx = 0;
            bool flip = false;
            for (std::size_t p = 0; p < 36 && dy == 99; ++p) {
                const long v = std::lround(img[p] * 255.0f);
                const long y = static_cast<long>(p / 6), x = static_cast<long>(p % 6);
                const long right = x + 1 < 6 ? std::lround(img[p + 1] * 255.0f) : 0;
                if (v == 0 || right == 0) continue;  // need two adjacent inside pixels
                const long sy = (v - 1) / 10, sx = (v - 1) % 10;
                flip = right == v - 1;  // the right neighbour comes from the column to the left
                dy = sy - y;
                dx = sx - (flip ? 5 - x : x);
            }
            REQUIRE(dy != 99);
            REQUIRE(std::abs(dy) <= 2);
            REQUIRE(std::abs(dx) <= 2);
            for (long y = 0; y < 6; ++y)
                for (long x = 0; x < 6; ++x) {
                    const long sy = y + dy, sx = (flip ? 5 - x : x) + dx;
                    const long expected = (sy >= 0 && sy < 6 && sx >= 0 && sx < 6) ? 10 * sy + sx + 1 : 0;
                    REQUIRE(std::lround(img[y * 6 + x] * 255.0f) == expected);
                }
            flips += flip;
            shifted += dy != 0 || dx != 0;
            ++dy_count[static_cast<std::size_t>(dy + 2)];
        }
    // Flip probability 1/2: 2000 draws, |flips - 1000| < 4.5 sigma (sigma = 22.4).
    CHECK(std::abs(static_cast<long>(flips) - 1000) < 100);
    // Each of the 5 vertical offsets has probability 1/5 (400 expected, sigma 17.9).
    for (auto c : dy_count) CHECK(std::abs(static_cast<long>(c) - 400) < 80);
    CHECK(shifted > 1800);  // only 1/25 of crops are unshifted
}
