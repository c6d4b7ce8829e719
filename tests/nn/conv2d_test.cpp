// The direct stride-1 convolution (detail/conv/direct.hpp) against im2col + GEMM: the same
// operations in the same order, so outputs and gradients must agree bit for bit, on shapes
// that exercise every edge: partial vectors (widths 7, 13, 14, 28, 33), output channels that
// are not a multiple of the register tile, row counts that leave remainders, kernels 3 and 5,
// paddings 0 to k - 1, and a bias. (Bit for bit where the GEMM path uses its own kernel.)
#include <catch2/catch.hpp>

#include <safnet/detail/conv/tuning.hpp>
#include <safnet/nn/conv2d.hpp>

#include <bit>
#include <cmath>
#include <random>

using namespace safnet::nn;

namespace {

template <class T>
void fill(Tensor<T>& t, std::mt19937_64& rng) {
    std::uniform_real_distribution<double> u(-1, 1);
    for (auto& v : t.span()) v = static_cast<T>(u(rng));
}

template <class T>
void require_same_bits(const Tensor<T>& a, const Tensor<T>& b, const char* what) {
    INFO(what);
    REQUIRE(a.shape() == b.shape());
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::bit_cast<std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>>(a[i]) !=
            std::bit_cast<std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>>(b[i])) {
            FAIL(what << ": element " << i << " differs: " << a[i] << " vs " << b[i]);
        }
    }
}

// Where the GEMM path hands a product to Eigen (whose summation order
// is its own), the two agree to rounding only.
template <class T>
void require_close(const Tensor<T>& a, const Tensor<T>& b, const char* what) {
    INFO(what);
    REQUIRE(a.shape() == b.shape());
    const double tol = sizeof(T) == 4 ? 1e-5 : 1e-13;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::abs(double(a[i]) - double(b[i])) > tol * (1 + std::abs(double(a[i]))))
            FAIL(what << ": element " << i << " differs: " << a[i] << " vs " << b[i]);
}

// Sums of thousands of terms in different orders: the error bound scales with the largest
// gradient element, not with each (possibly cancelled) element.
template <class T>
void require_close_to_scale(const Tensor<T>& a, const Tensor<T>& b, const char* what) {
    INFO(what);
    REQUIRE(a.shape() == b.shape());
    double scale = 1;
    for (std::size_t i = 0; i < b.size(); ++i) scale = std::max(scale, std::abs(double(b[i])));
    const double tol = (sizeof(T) == 4 ? 1e-5 : 1e-13) * scale;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::abs(double(a[i]) - double(b[i])) > tol) FAIL(what << ": element " << i << " differs: " << a[i] << " vs " << b[i]);
}

// Two convolutions with the same random weights (and bias), computing with algorithms a and b.
template <class T>
void make_twins(Conv2d<T>& first, Conv2d<T>& second, ConvAlgorithm a, ConvAlgorithm b, bool bias, std::mt19937_64& rng) {
    fill(first.weight().raw(), rng);
    second.weight().raw() = first.weight().raw();
    if (bias) {
        fill(first.bias(), rng);
        second.bias() = first.bias();
    }
    first.refresh_weights();
    second.refresh_weights();
    first.set_algorithm(a);
    second.set_algorithm(b);
}

// What two convolutions give for the same input x and the same random output gradient
// (drawn from rng after the forward pass): outputs, input gradients, parameter gradients.
template <class T>
struct TwinResults {
    Tensor<T> ya, yb, dxa, dxb;
    std::vector<Tensor<T>> grads_a, grads_b;  // in for_each_parameter order
};
template <class T>
TwinResults<T> run_twins(Conv2d<T>& a, Conv2d<T>& b, const Tensor<T>& x, std::mt19937_64& rng) {
    TwinResults<T> r;
    a.forward(x, r.ya);
    b.forward(x, r.yb);
    Tensor<T> dy(r.ya.shape());
    fill(dy, rng);
    a.backward(x, dy, r.dxa);
    b.backward(x, dy, r.dxb);
    a.for_each_parameter("", [&](const Parameter<T>& p) { r.grads_a.push_back(*p.grad); });
    b.for_each_parameter("", [&](const Parameter<T>& p) { r.grads_b.push_back(*p.grad); });
    return r;
}

struct Case {
    std::size_t c, o, k, p, h, w;
    bool bias;
    std::size_t stride = 1;  // stride 2: the weight gradient still runs direct
};

template <class T>
void compare_algorithms(const Case& cs) {
    CAPTURE(cs.c, cs.o, cs.k, cs.p, cs.h, cs.w, cs.bias, cs.stride, sizeof(T));
    std::mt19937_64 rng(cs.c * 1000 + cs.o * 100 + cs.w);
    const Conv2dOptions opt{cs.c, cs.o, cs.k, cs.stride, cs.p, cs.bias};
    Conv2d<T> gemm(opt, safnet::Tanh{}), direct(opt, safnet::Tanh{});
    make_twins(gemm, direct, ConvAlgorithm::gemm, ConvAlgorithm::direct, cs.bias, rng);
    Tensor<T> x(Shape{3, cs.c, cs.h, cs.w});
    fill(x, rng);
    const TwinResults<T> r = run_twins(gemm, direct, x, rng);
    // Conv2d's rule for its own GEMM kernel (the tuning table's).
    const auto own_gemm = [](std::size_t rows, std::size_t n) { return safnet::detail::use_own_gemm(rows, n, xsimd::batch<T>::size); };
    const std::size_t ohw = r.ya.shape()[2] * r.ya.shape()[3];
    if (own_gemm(cs.o, ohw)) require_same_bits(r.ya, r.yb, "forward"); else require_close(r.ya, r.yb, "forward");
    if (own_gemm(cs.c, cs.h * cs.w)) require_same_bits(r.dxa, r.dxb, "input gradient"); else require_close(r.dxa, r.dxb, "input gradient");
    // The direct weight gradient sums in its own order (pixel-major, per thread): to rounding.
    for (std::size_t i = 0; i < r.grads_a.size(); ++i) require_close_to_scale(r.grads_a[i], r.grads_b[i], "parameter gradient");
}

const Case kCases[] = {
    {16, 16, 3, 1, 32, 32, false}, {3, 16, 3, 1, 32, 32, false}, {1, 16, 3, 1, 28, 28, false}, {32, 32, 3, 1, 16, 16, false},
    {16, 16, 3, 1, 14, 14, false}, {8, 8, 3, 1, 7, 7, false},    {5, 6, 3, 1, 9, 13, true},    {4, 3, 3, 0, 11, 33, true},
    {3, 7, 5, 2, 10, 17, false},   {2, 5, 5, 1, 12, 20, true},   {6, 9, 3, 2, 8, 8, false},
    {64, 64, 3, 1, 8, 8, false},   {32, 16, 3, 1, 7, 7, true},   {9, 10, 3, 1, 4, 5, false},   {8, 8, 5, 2, 6, 6, false},
    {16, 32, 3, 1, 32, 32, false, 2}, {3, 8, 7, 3, 33, 31, true, 2},  {5, 4, 1, 0, 9, 9, false, 2},
};

}  // namespace

TEST_CASE("direct convolution equals im2col + GEMM (float)", "[nn][conv]") {
    for (const Case& c : kCases) compare_algorithms<float>(c);
}

TEST_CASE("direct convolution equals im2col + GEMM (double)", "[nn][conv]") {
    for (const Case& c : kCases) compare_algorithms<double>(c);
}

namespace {

// Winograd (3x3, stride 1) against the direct kernel: forward, input gradient and weight
// gradient agree to rounding, relative to the largest element (Winograd's own error bound is
// tested per element in tests/detail/winograd_conv_test.cpp).
template <class T>
void compare_winograd(const Case& cs, double tolerance) {
    CAPTURE(cs.c, cs.o, cs.p, cs.h, cs.w, cs.bias, sizeof(T));
    std::mt19937_64 rng(cs.c * 1000 + cs.o * 100 + cs.w + 7);
    const Conv2dOptions opt{cs.c, cs.o, 3, 1, cs.p, cs.bias};
    Conv2d<T> direct(opt, safnet::Softsign{}), wino(opt, safnet::Softsign{});
    make_twins(direct, wino, ConvAlgorithm::direct, ConvAlgorithm::winograd, cs.bias, rng);
    Tensor<T> x(Shape{3, cs.c, cs.h, cs.w});
    fill(x, rng);
    const TwinResults<T> r = run_twins(direct, wino, x, rng);
    auto close = [&](const Tensor<T>& a, const Tensor<T>& b, const char* what) {
        INFO(what);
        REQUIRE(a.shape() == b.shape());
        double scale = 0, worst = 0;
        for (std::size_t i = 0; i < a.size(); ++i) {
            scale = std::max(scale, std::abs(double(a[i])));
            worst = std::max(worst, std::abs(double(a[i]) - double(b[i])));
        }
        CHECK(worst <= tolerance * scale);
    };
    close(r.ya, r.yb, "forward");
    close(r.dxa, r.dxb, "input gradient");
    for (std::size_t i = 0; i < r.grads_a.size(); ++i) close(r.grads_a[i], r.grads_b[i], "parameter gradient");
}

const Case kWinogradCases[] = {{16, 16, 3, 1, 32, 32, false}, {3, 16, 3, 1, 32, 32, true}, {1, 16, 3, 1, 28, 28, false},
                               {32, 32, 3, 1, 16, 16, false}, {16, 16, 3, 1, 14, 14, false}, {64, 64, 3, 1, 8, 8, false},
                               {5, 6, 3, 1, 9, 13, true},     {4, 3, 3, 0, 11, 33, true},    {6, 9, 3, 2, 8, 8, false},
                               {9, 10, 3, 1, 4, 5, false}};

}  // namespace

TEST_CASE("Winograd convolution equals the direct kernel to rounding", "[nn][conv][winograd]") {
    for (const Case& c : kWinogradCases) compare_winograd<float>(c, 1e-5);
    for (const Case& c : kWinogradCases) compare_winograd<double>(c, 1e-13);
}

TEST_CASE("a convolution's reused workspaces keep their zero borders right when the input shape changes", "[nn][conv]") {
    // The padded-input and Winograd workspaces write their zero borders only when their
    // geometry changes. One layer runs forward and backward on alternating input sizes (its
    // workspaces switch geometry between images of a batch and between calls); every result
    // must equal that of a fresh layer. Sizes: Winograd (16, 14 wide), direct (8x8 flat,
    // 12 wide rows), with padding 1 and 2.
    std::mt19937_64 rng(21);
    for (const std::size_t pad : {1, 2}) {
        const Conv2dOptions opt{16, 16, 3, 1, pad, false};
        Conv2d<float> reused(opt, safnet::Tanh{});
        fill(reused.weight().raw(), rng);
        reused.refresh_weights();
        for (const std::size_t size : {16, 8, 14, 16, 12, 8, 14}) {
            CAPTURE(pad, size);
            Tensor<float> x(Shape{2, 16, size, size});
            fill(x, rng);
            Conv2d<float> fresh(opt, safnet::Tanh{});
            fresh.weight().raw() = reused.weight().raw();
            fresh.refresh_weights();
            const TwinResults<float> r = run_twins(reused, fresh, x, rng);
            require_same_bits(r.ya, r.yb, "forward");
            require_same_bits(r.dxa, r.dxb, "input gradient");
            REQUIRE(r.grads_a.size() == 1);  // the weight (no bias)
            require_same_bits(r.grads_a[0], r.grads_b[0], "weight gradient");
        }
    }
}
