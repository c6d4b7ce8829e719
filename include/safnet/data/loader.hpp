// safnet/data/loader.hpp — seeded, augmented, prefetched mini-batches.
//
//   BatchLoader loader(train, {.batch = 128, .shuffle = true, .augment = {4, true},
//                              .norm = norm, .seed = 1});
//   loader.start_epoch(epoch);
//   for (Batch b; loader.next(b);) { ... b.images (N x C x H x W float), b.labels ... }
//
// Reproducibility: what a batch contains depends only on (seed, epoch, batch index), never
// on timing or thread count: the epoch's permutation is a Fisher-Yates shuffle driven by
// Philox stream (seed, epoch, 1), and the image at position p of the epoch draws its crop
// offsets and flip from Philox block p of stream (seed, epoch, 2). So a run resumed at
// batch k of epoch e sees exactly the batches an uninterrupted run sees.
// Augmentation (torchvision's RandomCrop(size, padding) + RandomHorizontalFlip): the 8-bit
// image is zero-padded by `pad` pixels (black, before normalization, as torchvision does),
// a random HxW window is cut, and it is mirrored with probability 1/2.
// Prefetch: a background thread fills a ring of batch buffers while the caller trains, so
// loading overlaps with compute; next() swaps a finished buffer with the caller's (no copy,
// and after the first batches no allocation). Errors on the worker are rethrown by next().
#pragma once

#include <safnet/data/dataset.hpp>
#include <safnet/random/philox.hpp>

#include <condition_variable>
#include <exception>
#include <mutex>
#include <numeric>
#include <thread>
#include <utility>
#include <vector>

namespace safnet::data {

struct Augmentation {
    std::size_t pad = 0;  // random-crop padding in pixels; 0 = no crop
    bool flip = false;    // random horizontal flip
    bool enabled() const noexcept { return pad > 0 || flip; }
};

struct LoaderOptions {
    std::size_t batch = 128;
    bool shuffle = true;
    bool drop_last = false;  // drop a final partial batch
    Augmentation augment{};
    Normalization norm{};
    std::uint64_t seed = 0;
    bool prefetch = true;    // fill batches on a background thread
    std::size_t limit = 0;   // use only the first `limit` images (0 = all)
};

struct Batch {
    nn::Tensor<float> images;
    std::vector<std::int32_t> labels;
    std::size_t index = 0;  // batch index within the epoch
};

namespace detail {

/// One image, augmented and normalized, into dst (C x H x W floats).
inline void load_image(const Dataset& ds, std::size_t i, const Augmentation& aug, const Normalization& norm,
                       random::PhiloxStream* rng, float* dst) {
    const std::size_t h = ds.height, w = ds.width, plane = h * w;
    long dy = 0, dx = 0;
    bool flip = false;
    if (rng) {
        const std::uint32_t window = static_cast<std::uint32_t>(2 * aug.pad + 1);
        if (aug.pad > 0) {
            dy = static_cast<long>(rng->next_below(window)) - static_cast<long>(aug.pad);
            dx = static_cast<long>(rng->next_below(window)) - static_cast<long>(aug.pad);
        }
        flip = aug.flip && (rng->next_u32() & 1u);
    }
    if (dy == 0 && dx == 0 && !flip) {
        normalize_image(ds, i, norm, dst);
        return;
    }
    const std::uint8_t* src = ds.image(i);
    for (std::size_t c = 0; c < ds.channels; ++c) {
        float scale, shift;
        norm.affine(c, scale, shift);
        const std::uint8_t* sp = src + c * plane;
        float* dp = dst + c * plane;
        for (std::size_t y = 0; y < h; ++y) {
            const long sy = static_cast<long>(y) + dy;
            for (std::size_t x = 0; x < w; ++x) {
                const long xx = flip ? static_cast<long>(w - 1 - x) : static_cast<long>(x);
                const long sx = xx + dx;
                const bool inside = sy >= 0 && sy < static_cast<long>(h) && sx >= 0 && sx < static_cast<long>(w);
                const float pixel = inside ? static_cast<float>(sp[static_cast<std::size_t>(sy) * w + static_cast<std::size_t>(sx)]) : 0.0f;
                dp[y * w + x] = pixel * scale + shift;
            }
        }
    }
}

}  // namespace detail

class BatchLoader {
public:
    BatchLoader(const Dataset& ds, LoaderOptions o) : ds_(ds), o_(std::move(o)) {
        if (o_.batch == 0) throw Error(ds_.name + ": batch size must be positive");
        o_.norm.check(ds_.channels, ds_.name);
        count_ = o_.limit ? std::min(o_.limit, ds_.size()) : ds_.size();
        if (count_ == 0) throw Error(ds_.name + ": no images to load");
        if (o_.augment.pad > ds_.height || o_.augment.pad > ds_.width)
            throw Error(ds_.name + ": crop padding " + std::to_string(o_.augment.pad) + " exceeds the image size");
        order_.resize(count_);
        std::iota(order_.begin(), order_.end(), std::size_t{0});
        if (o_.prefetch) worker_ = std::thread([this] { work(); });
    }
    BatchLoader(const BatchLoader&) = delete;
    BatchLoader& operator=(const BatchLoader&) = delete;
    ~BatchLoader() {
        {
            const std::lock_guard lock(m_);
            stop_ = true;
        }
        cv_.notify_all();
        if (worker_.joinable()) worker_.join();
    }

    std::size_t images() const noexcept { return count_; }
    std::size_t batches_per_epoch() const noexcept {
        return o_.drop_last ? count_ / o_.batch : (count_ + o_.batch - 1) / o_.batch;
    }
    /// Images per epoch actually delivered (drop_last may drop some).
    std::size_t images_per_epoch() const noexcept { return o_.drop_last ? batches_per_epoch() * o_.batch : count_; }

    /// Begins epoch `epoch` at batch `first_batch` (for resuming mid-epoch).
    void start_epoch(std::uint64_t epoch, std::size_t first_batch = 0) {
        std::unique_lock lock(m_);
        cv_.wait(lock, [&] { return !filling_; });  // a half-filled slot belongs to the old epoch
        epoch_ = epoch;
        std::iota(order_.begin(), order_.end(), std::size_t{0});
        if (o_.shuffle) {
            random::PhiloxStream rng({o_.seed, static_cast<std::uint32_t>(epoch), 1});
            for (std::size_t i = count_; i > 1; --i) std::swap(order_[i - 1], order_[rng.next_below(i)]);
        }
        first_ = std::min(first_batch, batches_per_epoch());
        total_ = batches_per_epoch() - first_;
        produced_ = consumed_ = 0;
        error_ = nullptr;
        lock.unlock();
        cv_.notify_all();
    }

    /// Moves the next batch of the epoch into `out`; false once the epoch is exhausted.
    bool next(Batch& out) {
        if (!o_.prefetch) {
            if (consumed_ == total_) return false;
            fill(out, first_ + consumed_++);
            return true;
        }
        std::unique_lock lock(m_);
        if (consumed_ == total_) return false;
        cv_.wait(lock, [&] { return produced_ > consumed_ || error_; });
        if (error_) std::rethrow_exception(error_);
        Batch& slot = slots_[consumed_ % slots_.size()];
        std::swap(out.images, slot.images);
        std::swap(out.labels, slot.labels);
        out.index = slot.index;
        ++consumed_;
        lock.unlock();
        cv_.notify_all();
        return true;
    }

private:
    void fill(Batch& b, std::size_t index) const {
        const std::size_t begin = index * o_.batch, n = std::min(o_.batch, count_ - begin);
        b.index = index;
        b.images.resize(nn::Shape{n, ds_.channels, ds_.height, ds_.width});
        b.labels.resize(n);
        const std::size_t image = ds_.image_size();
        for (std::size_t k = 0; k < n; ++k) {
            const std::size_t pos = begin + k, i = order_[pos];
            b.labels[k] = ds_.labels[i];
            if (o_.augment.enabled()) {
                random::PhiloxStream rng({o_.seed, static_cast<std::uint32_t>(epoch_), 2}, pos);
                detail::load_image(ds_, i, o_.augment, o_.norm, &rng, b.images.data() + k * image);
            } else {
                detail::load_image(ds_, i, o_.augment, o_.norm, nullptr, b.images.data() + k * image);
            }
        }
    }

    void work() {
        std::unique_lock lock(m_);
        for (;;) {
            cv_.wait(lock, [&] { return stop_ || (!error_ && produced_ < total_ && produced_ - consumed_ < slots_.size()); });
            if (stop_) return;
            const std::size_t b = produced_;
            filling_ = true;
            lock.unlock();
            std::exception_ptr err;
            try {
                fill(slots_[b % slots_.size()], first_ + b);
            } catch (...) {
                err = std::current_exception();
            }
            lock.lock();
            filling_ = false;
            if (err) error_ = err;
            else ++produced_;
            cv_.notify_all();
        }
    }

    const Dataset& ds_;
    LoaderOptions o_;
    std::size_t count_ = 0;
    std::vector<std::size_t> order_;
    std::uint64_t epoch_ = 0;
    std::size_t first_ = 0, total_ = 0, produced_ = 0, consumed_ = 0;
    std::vector<Batch> slots_ = std::vector<Batch>(2);
    std::mutex m_;
    std::condition_variable cv_;
    bool stop_ = false, filling_ = false;
    std::exception_ptr error_;
    std::thread worker_;
};

}  // namespace safnet::data
