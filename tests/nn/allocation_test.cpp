// After the first training step, a step (forward, loss, backward, SGD) allocates nothing
// through any form of operator new: workspaces, parameter tables and optimizer state are reused.
// (Eigen's GEMM may malloc blocking buffers internally for large products; that is outside
// this count and noted in the README.)
#include <safnet/nn/loss.hpp>
#include <safnet/nn/optimizer.hpp>
#include <safnet/nn/resnet.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace {
std::atomic<bool> counting{false};
std::atomic<std::size_t> allocations{0};
}  // namespace

// Every replaceable form of operator new counts: plain and array, aligned (tensors allocate
// with the aligned array form) and nothrow. Replacing them conflicts with AddressSanitizer's
// own; the sanitized build checks memory errors, the release builds check this property.
#if !defined(__SANITIZE_ADDRESS__)
namespace {
void* counted_alloc(std::size_t n, std::size_t align) noexcept {
    if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
    if (align <= alignof(std::max_align_t)) return std::malloc(n ? n : 1);
    return std::aligned_alloc(align, (n + align - 1) / align * align);  // size must be a multiple of align
}
void* counted_or_throw(std::size_t n, std::size_t align) {
    if (void* p = counted_alloc(n, align)) return p;
    throw std::bad_alloc();
}
}  // namespace
void* operator new(std::size_t n) { return counted_or_throw(n, 0); }
void* operator new[](std::size_t n) { return counted_or_throw(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) { return counted_or_throw(n, static_cast<std::size_t>(a)); }
void* operator new[](std::size_t n, std::align_val_t a) { return counted_or_throw(n, static_cast<std::size_t>(a)); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return counted_alloc(n, 0); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return counted_alloc(n, 0); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept { return counted_alloc(n, static_cast<std::size_t>(a)); }
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept { return counted_alloc(n, static_cast<std::size_t>(a)); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
#endif

TEST_CASE("a training step and an eval forward allocate nothing after the first", "[nn][alloc]") {
#if defined(__SANITIZE_ADDRESS__)
    WARN("allocation counting is off under AddressSanitizer");
    return;
#endif
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
    allocations = 0;
    counting = true;
    step();
    m.forward(x, Mode::eval);
    counting = false;
    CHECK(allocations.load() == 0);

    // The counter sees what a reallocating workspace would do (aligned array new, both sizes).
    allocations = 0;
    counting = true;
    { Tensor<float> small(Shape{16}), large(Shape{1u << 20}); }
    counting = false;
    CHECK(allocations.load() == 2);
}
