#include <safnet/detail/gemm.hpp>

#include <Eigen/Core>
#include <catch2/catch.hpp>

#include <random>

TEMPLATE_TEST_CASE("the unpacked GEMM kernel equals Eigen's product on all tile edges", "[detail][gemm]", float, double) {
    using M = Eigen::Matrix<TestType, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    std::mt19937 rng(1);
    std::uniform_real_distribution<TestType> u(-1, 1);
    for (std::size_t m : {1, 3, 4, 7, 8, 9, 16, 21, 64})
        for (std::size_t n : {1, 5, 16, 17, 31, 32, 33, 64, 100, 784})
            for (std::size_t k : {1, 9, 27, 144}) {
                M a(m, k), b(k, n), c(m, n), want(m, n);
                for (auto* x : {&a, &b})
                    for (Eigen::Index i = 0; i < x->size(); ++i) x->data()[i] = u(rng);
                want.noalias() = a * b;
                safnet::detail::gemm_nn<TestType>(m, n, k, a.data(), k, b.data(), n, c.data(), n);
                const double tol = std::is_same_v<TestType, float> ? 1e-5 : 1e-13;
                INFO(m << "x" << k << "x" << n);
                REQUIRE((c - want).cwiseAbs().maxCoeff() <= tol * static_cast<double>(k));
            }
}

TEMPLATE_TEST_CASE("the A*B^T accumulating kernel equals Eigen's product", "[detail][gemm]", float, double) {
    using M = Eigen::Matrix<TestType, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    std::mt19937 rng(2);
    std::uniform_real_distribution<TestType> u(-1, 1);
    for (std::size_t m : {1, 3, 4, 5, 16, 18})
        for (std::size_t n : {1, 4, 7, 27, 144})
            for (std::size_t k : {1, 15, 16, 17, 64, 784}) {
                M a(m, k), b(n, k), c(m, n), want(m, n);
                for (auto* x : {&a, &b, &c})
                    for (Eigen::Index i = 0; i < x->size(); ++i) x->data()[i] = u(rng);
                want = c;
                want.noalias() += a * b.transpose();
                safnet::detail::gemm_nt_accumulate<TestType>(m, n, k, a.data(), k, b.data(), k, c.data(), n);
                const double tol = std::is_same_v<TestType, float> ? 1e-5 : 1e-13;
                INFO(m << "x" << k << "x" << n);
                REQUIRE((c - want).cwiseAbs().maxCoeff() <= tol * static_cast<double>(k));
            }
}
