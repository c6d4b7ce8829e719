#include <safnet/nn/tensor.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <utility>

using safnet::nn::Shape;
using safnet::nn::Tensor;

TEST_CASE("Tensor buffers are 64-byte aligned and reused by resize", "[nn][tensor]") {
    Tensor<float> t(Shape{2, 3, 4, 5}, 1.5f);
    CHECK(t.size() == 120);
    CHECK(reinterpret_cast<std::uintptr_t>(t.data()) % 64 == 0);
    CHECK(t[119] == 1.5f);
    const float* before = t.data();
    t.resize(Shape{10, 10});
    CHECK(t.data() == before);  // fits the capacity: no allocation
    CHECK(t.shape() == Shape{10, 10});
    t.resize(Shape{2, 3, 4, 5});
    CHECK(t.data() == before);
    t.resize(Shape{1000}, 0.0f);
    CHECK(t.capacity() == 1000);
    CHECK(reinterpret_cast<std::uintptr_t>(t.data()) % 64 == 0);
}

TEST_CASE("Tensor copies are deep and matrix views check their shape", "[nn][tensor]") {
    Tensor<double> a(Shape{2, 3}, 0.0);
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<double>(i);
    Tensor<double> b = a;
    b[0] = 42;
    CHECK(a[0] == 0);
    auto m = a.matrix(2, 3);
    CHECK(m(1, 2) == 5);  // row-major
    CHECK_THROWS_WITH(a.matrix(4, 2), Catch::Contains("[2,3]") && Catch::Contains("4x2"));
    CHECK_THROWS_WITH((Shape{1, 2, 3, 4, 5}), Catch::Contains("rank 5"));
}

TEST_CASE("shapes and sizes never wrap: an overflowing shape is an error naming it", "[nn][tensor]") {
    CHECK(Shape{}.elements() == 0);
    CHECK(Shape{0, 5}.elements() == 0);
    constexpr std::size_t huge = std::numeric_limits<std::size_t>::max();
    CHECK_THROWS_WITH((Shape{0, huge, 3, 3}), Catch::Contains("tensor shape [0,") && Catch::Contains("exceeds the limit"));
    CHECK_THROWS_WITH((Shape{std::size_t{1} << 32, std::size_t{1} << 32}), Catch::Contains("exceeds the limit"));
    CHECK_THROWS_AS((Shape{std::size_t{1} << 62}), safnet::Error);
    Tensor<double> t;  // 2^38 doubles are 2 TiB: beyond max_tensor_bytes, refused before allocating
    CHECK_THROWS_WITH(t.resize(Shape{std::size_t{1} << 38}), Catch::Contains("in bytes") && Catch::Contains("exceeds the limit"));
    CHECK(t.size() == 0);
    CHECK(Shape{100'000'000}.elements() == 100'000'000);  // a large real model still fits
}

TEST_CASE("a moved-from tensor is empty and reallocates when reused", "[nn][tensor]") {
    Tensor<float> a(Shape{4, 4}, 2.0f);
    Tensor<float> b = std::move(a);
    CHECK(b.size() == 16);
    CHECK(b[15] == 2.0f);
    CHECK(a.size() == 0);      // NOLINT(bugprone-use-after-move): the moved-from state is the point
    CHECK(a.capacity() == 0);  // NOLINT(bugprone-use-after-move)
    a.resize(Shape{2, 2}, 1.0f);
    CHECK(a.data() != nullptr);
    CHECK(a[3] == 1.0f);
    Tensor<float> c(Shape{3}, 5.0f);
    c = std::move(b);
    CHECK(c.size() == 16);
    CHECK(b.size() == 0);  // NOLINT(bugprone-use-after-move)
    b.resize(Shape{8}, 0.5f);
    CHECK(b[7] == 0.5f);
}
