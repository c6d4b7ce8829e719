#include <safnet/nn/optimizer.hpp>
#include <safnet/nn/schedule.hpp>

#include <catch2/catch.hpp>

#include <cmath>

using namespace safnet::nn;

namespace {
// A one-parameter "model" with a SAF weight, to drive the optimizers.
struct Toy {
    SafWeight<double> w{Shape{3}, safnet::Tanh{}};
    Tensor<double> grad{Shape{3}, 0.0};
    std::vector<Parameter<double>> params{{"w", &w.raw(), &grad, &w}};
    std::vector<Parameter<double>>& parameters() { return params; }
    template <class V> void for_each_parameter(V&& v) { for (auto& p : params) v(p); }
};
}  // namespace

TEST_CASE("SGD follows PyTorch's update (momentum, Nesterov, weight decay) and refreshes tau", "[nn][optim]") {
    for (bool nesterov : {false, true}) {
        Toy m;
        m.w.raw()[0] = 0.5; m.w.raw()[1] = -1.0; m.w.raw()[2] = 2.0;
        Sgd<double> opt({0.1, 0.9, 0.01, nesterov});
        double w = 0.5, v = 0;
        for (int step = 0; step < 3; ++step) {
            const double g = 0.3 * (step + 1);
            m.grad[0] = g;
            opt.step(m);
            const double d = g + 0.01 * w;
            v = 0.9 * v + d;
            w -= 0.1 * (nesterov ? d + 0.9 * v : v);
            CHECK(m.w.raw()[0] == Approx(w).epsilon(1e-14));
            CHECK(m.w.effective()[0] == Approx(std::tanh(w)).epsilon(1e-14));
        }
    }
}

TEST_CASE("AdamW follows the decoupled-decay update", "[nn][optim]") {
    Toy m;
    m.w.raw()[0] = 0.5;
    AdamW<double> opt({0.01, 0.9, 0.999, 1e-8, 0.1});
    double w = 0.5, mm = 0, vv = 0;
    for (int t = 1; t <= 4; ++t) {
        const double g = 0.2 - 0.1 * t;
        m.grad[0] = g;
        opt.step(m);
        w *= 1 - 0.01 * 0.1;
        mm = 0.9 * mm + 0.1 * g;
        vv = 0.999 * vv + 0.001 * g * g;
        w -= 0.01 * (mm / (1 - std::pow(0.9, t))) / (std::sqrt(vv / (1 - std::pow(0.999, t))) + 1e-8);
        CHECK(m.w.raw()[0] == Approx(w).epsilon(1e-12));
    }
}

TEST_CASE("learning-rate schedules", "[nn][schedule]") {
    Schedule cosine{Schedule::Kind::cosine, 0.1, 0.0, 0.1, 100, 0, 1};
    CHECK(cosine(0) == Approx(0.1));
    CHECK(cosine(50) == Approx(0.05));
    CHECK(cosine(100) == Approx(0.0).margin(1e-15));
    Schedule step{Schedule::Kind::step, 0.1, 0.0, 0.1, 100, 10, 30};
    CHECK(step(0) == Approx(0.01));   // warm-up: lr * 1/10
    CHECK(step(9) == Approx(0.1));
    CHECK(step(10) == Approx(0.1));
    CHECK(step(40) == Approx(0.01));
    CHECK(step(75) == Approx(0.001));
    CHECK(Schedule::kind_from_name("step") == Schedule::Kind::step);
    CHECK_THROWS_WITH(Schedule::kind_from_name("linear"), Catch::Contains("cosine"));
}
