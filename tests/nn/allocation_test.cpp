// After the first training step, a step (forward, loss, backward, SGD) allocates nothing
// through any form of operator new: workspaces, parameter tables and optimizer state are reused.
// (Eigen's GEMM may malloc blocking buffers internally for large products; that is outside
// this count and noted in the README.)
#include <safnet/nn/loss.hpp>
#include <safnet/nn/optimizer.hpp>
#include <safnet/nn/resnet.hpp>

#include "support/counting_allocator.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

TEST_CASE("a training step and an eval forward allocate nothing after the first", "[nn][alloc]") {
    if (!safnet::test::allocations_counted) {
        WARN("allocation counting is off under AddressSanitizer");
        return;
    }
    using namespace safnet::nn;
    ResNet<float> m({"resnet20", 1, 10, Shortcut::A, safnet::Tanh{}});
    m.initialize(1);
    Tensor<float> x(Shape{8, 1, 16, 16}, 0.25f), d;
    std::vector<std::int32_t> y{0, 1, 2, 3, 4, 5, 6, 7};
    SoftmaxCrossEntropy<float> ce;
    Sgd<float> opt({0.05, 0.9, 5e-4, false});
    auto step = [&] {
        ce.forward(m.forward(x, Mode::train), y);
        ce.backward(d);
        m.backward(d);
        opt.step(m);
    };
    step();
    m.forward(x, Mode::eval);  // eval mode keeps its own per-thread buffers (depth-first)
    step();
    safnet::test::start_counting();
    step();
    m.forward(x, Mode::eval);
    CHECK(safnet::test::stop_counting().calls == 0);

    // The counter sees what a reallocating workspace would do (aligned array new, both sizes).
    safnet::test::start_counting();
    { Tensor<float> small(Shape{16}), large(Shape{1u << 20}); }
    const auto seen = safnet::test::stop_counting();
    CHECK(seen.calls == 2);
    CHECK(seen.bytes == (16 + (1u << 20)) * sizeof(float));
}
