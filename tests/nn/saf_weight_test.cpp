#include <safnet/nn/saf_weight.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

using safnet::nn::SafWeight;
using safnet::nn::Shape;

namespace {
const char* const kSafs[] = {"none", "tanh", "arctan", "softsign", "modtanh", "hardtanh"};
}

TEST_CASE("refresh_at after a few raw changes equals a full refresh", "[nn][saf_weight]") {
    for (const char* name : kSafs) {
        SafWeight<float> w(Shape{16, 8, 3, 3}, safnet::saf_from_name(name));
        std::mt19937 rng(1);
        std::normal_distribution<float> d(0.0f, 1.0f);
        for (auto& v : w.raw().span()) v = d(rng);
        w.refresh();
        // Damage some raw values as a fault would, including NaN and Inf.
        std::vector<std::uint64_t> touched{0, 7, 100, 1151};
        w.raw()[0] = std::numeric_limits<float>::quiet_NaN();
        w.raw()[7] = -std::numeric_limits<float>::infinity();
        w.raw()[100] = 3e38f;
        w.raw()[1151] = -0.25f;
        w.refresh_at(touched);
        SafWeight<float> full = w;
        full.refresh();
        for (std::size_t i = 0; i < w.raw().size(); ++i) {
            const float a = w.effective()[i], b = full.effective()[i];
            INFO(name << " i=" << i);
            REQUIRE(((std::isnan(a) && std::isnan(b)) || a == b));
        }
        CHECK_THROWS_WITH(w.refresh_at(std::vector<std::uint64_t>{1152}), Catch::Contains("1152"));
    }
}

TEST_CASE("SafWeight::backward is the chain rule through tau (finite differences, double)", "[nn][saf_weight]") {
    for (const char* name : kSafs) {
        SafWeight<double> w(Shape{5, 7}, safnet::saf_from_name(name));
        std::mt19937_64 rng(2);
        std::uniform_real_distribution<double> u(-2.0, 2.0);
        for (auto& v : w.raw().span()) v = u(rng);
        std::vector<double> c(w.raw().size());  // L = sum_i c_i * tau(R_i)
        for (auto& v : c) v = u(rng);
        std::vector<double> grad(c.size());
        w.backward(c, grad);
        auto loss = [&](SafWeight<double>& x) {
            x.refresh();
            double l = 0;
            for (std::size_t i = 0; i < c.size(); ++i) l += c[i] * x.effective()[i];
            return l;
        };
        for (std::size_t i = 0; i < c.size(); ++i) {
            const double r = w.raw()[i];
            if (std::string(name) == "hardtanh" && std::abs(std::abs(r) - 1.0) < 1e-4) continue;  // kink
            const double h = 1e-6;
            SafWeight<double> p = w, m = w;
            p.raw()[i] = r + h;
            m.raw()[i] = r - h;
            const double fd = (loss(p) - loss(m)) / (2 * h);
            INFO(name << " i=" << i << " fd=" << fd << " analytic=" << grad[i]);
            CHECK(std::abs(fd - grad[i]) <= 1e-6 * std::max(1.0, std::abs(grad[i])));
        }
    }
}
