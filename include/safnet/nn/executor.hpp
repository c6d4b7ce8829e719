// safnet/nn/executor.hpp — depth-first evaluation of a chain of stages, one image at a time.
//
// Breadth-first evaluation streams a whole batch through memory between layers (at batch 1000
// a ResNet20 activation is 16-65 MB). Here each pool thread takes its images and runs every
// stage on one image before it starts the next, so an image's activations stay in the thread's
// scratch, in cache. Any model whose evaluation is a chain of such stages reuses this runner;
// the model only describes its stages.
//
// A stage (ImageStage) evaluates one image: prepare_eval_images(input shape) once per batch
// (returns the output shape), then forward_eval_image(x, y, scratch_a, scratch_b, thread) for
// any image of that shape, concurrently across pool threads; scratch_a and scratch_b hold an
// output image each. Each image is computed by the same operations whatever thread runs it, so
// results do not depend on the thread count.
//
// Contract of DepthFirstExecutor::run:
//  - requires: `input` holds stage `first`'s input for every image of the batch, contiguous;
//    every non-null record[i] has room for stage i's input for the whole batch;
//  - ensures: finish(n, out, stopped, t) ran once per image n, on the thread that computed it,
//    with `out` the last stage's output (or the input when first == stages.size()), and
//    stopped set if nan_exit found a NaN in channel 0 of a stage's output (the image then
//    skips its remaining stages).
#pragma once

#include <safnet/detail/thread_pool.hpp>
#include <safnet/nn/tensor.hpp>

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <span>
#include <vector>

namespace safnet::nn {

template <class S, class T>
concept ImageStage = requires(S s, const S cs, const Shape& in, const T* x, T* y, std::size_t t) {
    { s.prepare_eval_images(in) } -> std::same_as<Shape>;
    { cs.output_shape(in) } -> std::same_as<Shape>;
    s.forward_eval_image(x, y, y, y, t);
};

/// What one run computes: stages first .. end, recording stage inputs and stopping NaN images.
template <class T>
struct DepthFirstPass {
    std::size_t first = 0;         // first stage computed
    std::span<T* const> record{};  // record[i] non-null: stage i's input of every image goes there
    bool nan_exit = false;         // an image whose stage output holds a NaN (channel 0) stops
};

template <std::floating_point T>
class DepthFirstExecutor {
public:
    /// Runs stages[pass.first ..] over the batch whose stage-0 input shape is `shape` (stage
    /// `first`'s input read from `input`); calls finish(n, const T* out, bool stopped,
    /// std::size_t thread) per image. Returns the last stage's output shape.
    template <ImageStage<T> Stage, class Finish>
    Shape run(std::span<Stage> stages, Shape shape, const T* input, const DepthFirstPass<T>& pass, Finish&& finish) {
        const std::size_t batch = shape[0], count = stages.size(), first = std::min(pass.first, count);
        input_elements_.assign(count + 1, 0);
        out_plane_.assign(count, 0);
        std::size_t largest = 0;
        for (std::size_t i = 0; i < count; ++i) {
            input_elements_[i] = shape[1] * shape[2] * shape[3];
            shape = i < first ? stages[i].output_shape(shape) : stages[i].prepare_eval_images(shape);
            out_plane_[i] = shape[2] * shape[3];
            if (i >= first) largest = std::max({largest, input_elements_[i], shape[1] * shape[2] * shape[3]});
        }
        input_elements_[count] = shape[1] * shape[2] * shape[3];
        scratch_.resize(thread_pool().size());
        for (auto& s : scratch_) s.resize(Shape{4 * std::max<std::size_t>(largest, 1)});
        const std::size_t in_elements = input_elements_[first];
        thread_pool().parallel_for(batch, [&](std::size_t b, std::size_t e, std::size_t t) {
            T* buf = scratch_[t].data();
            for (std::size_t n = b; n < e; ++n) {
                const T* in = input + n * in_elements;
                bool stopped = false;
                for (std::size_t i = first; i < count && !stopped; ++i) {
                    if (T* r = i < pass.record.size() ? pass.record[i] : nullptr)
                        std::copy(in, in + input_elements_[i], r + n * input_elements_[i]);
                    T* out = buf + (i % 2) * largest;  // ping-pong; the other two are the stage's scratch
                    stages[i].forward_eval_image(in, out, buf + 2 * largest, buf + 3 * largest, t);
                    in = out;
                    stopped = pass.nan_exit && has_nan(out, out_plane_[i]);
                }
                finish(n, in, stopped, t);
            }
        });
        return shape;
    }

private:
    static bool has_nan(const T* p, std::size_t n) noexcept {
        bool nan = false;
        for (std::size_t j = 0; j < n; ++j) nan |= p[j] != p[j];
        return nan;
    }

    std::vector<Tensor<T>> scratch_;  // per thread: two ping-pong images and a stage's two scratch images
    std::vector<std::size_t> input_elements_, out_plane_;
};

}  // namespace safnet::nn
