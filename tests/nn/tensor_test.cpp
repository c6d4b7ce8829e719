#include <safnet/nn/tensor.hpp>

#include <catch2/catch.hpp>

#include <cstdint>

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
