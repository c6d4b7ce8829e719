// Gradient checks (double, central differences, relative error < 1e-6) for every layer type,
// plus forward results against direct definitions.
#include "gradcheck.hpp"

#include <limits>

#include <safnet/nn/activation.hpp>
#include <safnet/nn/batchnorm.hpp>
#include <safnet/nn/conv2d.hpp>
#include <safnet/nn/linear.hpp>
#include <safnet/nn/loss.hpp>
#include <safnet/nn/pooling.hpp>
#include <safnet/threads.hpp>

using namespace safnet::nn;
using safnet::test::fill_uniform;
using safnet::test::max_gradient_error;
using safnet::test::parameters_of;

namespace {

// Direct definition of a convolution, for the forward check.
double conv_at(const Tensor<double>& x, const Tensor<double>& w, const Conv2dOptions& o, std::size_t n, std::size_t oc,
               std::size_t i, std::size_t j) {
    double s = 0;
    const std::size_t h = x.shape()[2], wd = x.shape()[3];
    for (std::size_t c = 0; c < o.in_channels; ++c)
        for (std::size_t ki = 0; ki < o.kernel; ++ki)
            for (std::size_t kj = 0; kj < o.kernel; ++kj) {
                const long r = static_cast<long>(i * o.stride + ki) - static_cast<long>(o.padding);
                const long q = static_cast<long>(j * o.stride + kj) - static_cast<long>(o.padding);
                if (r < 0 || q < 0 || r >= static_cast<long>(h) || q >= static_cast<long>(wd)) continue;
                s += w[((oc * o.in_channels + c) * o.kernel + ki) * o.kernel + kj] *
                     x[((n * o.in_channels + c) * h + static_cast<std::size_t>(r)) * wd + static_cast<std::size_t>(q)];
            }
    return s;
}

}  // namespace

TEST_CASE("Conv2d forward equals the definition and its gradients check", "[nn][conv]") {
    std::mt19937_64 rng(1);
    for (const Conv2dOptions o : {Conv2dOptions{3, 4, 3, 1, 1, false}, Conv2dOptions{2, 5, 3, 2, 1, true},
                                  Conv2dOptions{4, 3, 1, 1, 0, false}, Conv2dOptions{3, 2, 1, 2, 0, true},
                                  Conv2dOptions{2, 3, 5, 2, 2, false}, Conv2dOptions{1, 2, 7, 2, 3, true}}) {
        Conv2d<double> conv(o);
        fill_uniform(conv.weight().raw(), rng);
        conv.refresh_weights();
        if (o.bias) fill_uniform(conv.bias(), rng);
        Tensor<double> x(Shape{2, o.in_channels, 9, 8});
        fill_uniform(x, rng);
        Tensor<double> y, dx;
        conv.forward(x, y);
        for (std::size_t n = 0; n < 2; ++n)
            for (std::size_t oc = 0; oc < o.out_channels; ++oc)
                for (std::size_t i = 0; i < y.shape()[2]; ++i)
                    for (std::size_t j = 0; j < y.shape()[3]; ++j) {
                        const double want = conv_at(x, conv.weight().effective(), o, n, oc, i, j) + (o.bias ? conv.bias()[oc] : 0.0);
                        REQUIRE(y[((n * o.out_channels + oc) * y.shape()[2] + i) * y.shape()[3] + j] == Approx(want).epsilon(1e-12));
                    }
        const double err = max_gradient_error(
            x, parameters_of(conv), [&](const Tensor<double>& in) -> const Tensor<double>& { conv.forward(in, y); return y; },
            [&](const Tensor<double>& dy) { conv.backward(x, dy, dx); return dx; });
        INFO("kernel " << o.kernel << " stride " << o.stride << " padding " << o.padding);
        CHECK(err < 1e-6);
    }
}

TEST_CASE("SAF-parametrized Conv2d and Linear: gradients flow through tau for every SAF", "[nn][saf]") {
    std::mt19937_64 rng(2);
    for (const char* name : {"none", "tanh", "arctan", "softsign", "modtanh", "hardtanh"}) {
        Conv2d<double> conv({3, 4, 3, 1, 1, true}, safnet::saf_from_name(name));
        fill_uniform(conv.weight().raw(), rng, -2, 2);
        conv.refresh_weights();
        Tensor<double> x(Shape{2, 3, 6, 6}), y, dx;
        fill_uniform(x, rng);
        // tau is really applied: effective == tau(raw)
        std::visit([&](const auto& s) {
            for (std::size_t i = 0; i < conv.weight().raw().size(); ++i)
                REQUIRE(conv.weight().effective()[i] == safnet::apply_one(s, conv.weight().raw()[i]));
        }, conv.weight().saf());
        const double err = max_gradient_error(
            x, parameters_of(conv), [&](const Tensor<double>& in) -> const Tensor<double>& { conv.forward(in, y); return y; },
            [&](const Tensor<double>& dy) { conv.backward(x, dy, dx); return dx; });
        Linear<double> fc(12, 5, true, safnet::saf_from_name(name));
        fill_uniform(fc.weight().raw(), rng, -2, 2);
        fc.refresh_weights();
        Tensor<double> a(Shape{3, 12}), b, da;
        fill_uniform(a, rng);
        const double err_fc = max_gradient_error(
            a, parameters_of(fc), [&](const Tensor<double>& in) -> const Tensor<double>& { fc.forward(in, b); return b; },
            [&](const Tensor<double>& dy) { fc.backward(a, dy, da); return da; });
        INFO(name);
        CHECK(err < 1e-6);
        CHECK(err_fc < 1e-6);
    }
}

TEST_CASE("BatchNorm2d: train and eval modes, running statistics, gradients", "[nn][bn]") {
    std::mt19937_64 rng(3);
    BatchNorm2d<double> bn(3);
    fill_uniform(bn.weight(), rng, 0.5, 1.5);
    fill_uniform(bn.bias(), rng);
    Tensor<double> x(Shape{4, 3, 5, 5}), y, dx;
    fill_uniform(x, rng, -2, 3);
    bn.forward(x, y, Mode::train);
    for (std::size_t c = 0; c < 3; ++c) {  // output mean = bias, variance = weight^2 var/(var+eps)
        auto moments = [&](const Tensor<double>& t) {
            double s = 0, s2 = 0;
            for (std::size_t n = 0; n < 4; ++n)
                for (std::size_t k = 0; k < 25; ++k) s += t[(n * 3 + c) * 25 + k];
            for (std::size_t n = 0; n < 4; ++n)
                for (std::size_t k = 0; k < 25; ++k) s2 += (t[(n * 3 + c) * 25 + k] - s / 100) * (t[(n * 3 + c) * 25 + k] - s / 100);
            return std::pair{s / 100, s2 / 100};
        };
        const auto [my, vy] = moments(y);
        const auto [mx, vx] = moments(x);
        (void)mx;
        CHECK(my == Approx(bn.bias()[c]).margin(1e-12));
        CHECK(vy == Approx(bn.weight()[c] * bn.weight()[c] * vx / (vx + 1e-5)).epsilon(1e-10));
    }
    double xs = 0;  // running mean moved 10 % toward the batch mean
    for (std::size_t n = 0; n < 4; ++n)
        for (std::size_t k = 0; k < 25; ++k) xs += x[n * 75 + k];
    CHECK(bn.running_mean()[0] == Approx(0.1 * xs / 100).epsilon(1e-12));
    for (Mode mode : {Mode::train, Mode::eval}) {
        const double err = max_gradient_error(
            x, parameters_of(bn), [&](const Tensor<double>& in) -> const Tensor<double>& { bn.forward(in, y, mode); return y; },
            [&](const Tensor<double>& dy) { bn.backward(x, dy, dx); return dx; });
        INFO((mode == Mode::train ? "train" : "eval"));
        CHECK(err < 1e-6);
    }
    // eval uses the running statistics
    bn.forward(x, y, Mode::eval);
    const double expect = (x[0] - bn.running_mean()[0]) / std::sqrt(bn.running_var()[0] + 1e-5) * bn.weight()[0] + bn.bias()[0];
    CHECK(y[0] == Approx(expect).epsilon(1e-12));
}

TEST_CASE("BatchNorm2d in float: batch statistics exact for offset data, same bits for any thread count", "[nn][bn][threads]") {
    // Values 1000 + u, u in [-1, 1]: sum(x^2) - n mean^2 in float would lose every digit of the
    // variance (~1/3); the per-plane moments combined pairwise must not.
    std::mt19937_64 rng(11);
    const std::size_t n = 5, c = 3, h = 7, w = 9, hw = h * w;  // 5 images: uneven thread splits
    Tensor<float> x(Shape{n, c, h, w}), dy(Shape{n, c, h, w});
    std::uniform_real_distribution<float> u(-1, 1);
    for (std::size_t i = 0; i < x.size(); ++i) {
        x[i] = 1000.0f + u(rng) + static_cast<float>((i / hw) % 4);  // plane means differ too
        dy[i] = u(rng);
    }
    struct Run {
        std::vector<float> y, dx, grads, running, max;
    };
    const auto run = [&](std::size_t threads) {
        safnet::set_threads(threads);
        BatchNorm2d<float> bn(c);
        for (std::size_t k = 0; k < c; ++k) {
            bn.weight()[k] = 0.5f + 0.25f * static_cast<float>(k);
            bn.bias()[k] = 0.1f * static_cast<float>(k);
        }
        Tensor<float> y, dx;
        bn.track_activation_max(true);
        bn.forward(x, y, Mode::train, nullptr, true);
        bn.backward(x, dy, dx);
        Run r{{y.data(), y.data() + y.size()}, {dx.data(), dx.data() + dx.size()}, {}, {}, {bn.activation_max()}};
        bn.for_each_parameter("", [&](const Parameter<float>& p) { r.grads.insert(r.grads.end(), p.grad->data(), p.grad->data() + c); });
        bn.for_each_buffer("", [&](const std::string&, const Tensor<float>& b) { r.running.insert(r.running.end(), b.data(), b.data() + c); });
        return r;
    };
    const Run one = run(1);
    for (std::size_t threads : {2, 3}) {
        const Run more = run(threads);
        CAPTURE(threads);
        CHECK(more.y == one.y);
        CHECK(more.dx == one.dx);
        CHECK(more.grads == one.grads);
        CHECK(more.running == one.running);
        CHECK(more.max == one.max);
    }
    safnet::set_threads(safnet::default_threads());
    // running_var = 0.9 + 0.1 * unbiased batch variance, against a long-double two-pass reference
    for (std::size_t k = 0; k < c; ++k) {
        long double s = 0, s2 = 0;
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t j = 0; j < hw; ++j) s += x[(i * c + k) * hw + j];
        const long double mean = s / (n * hw);
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t j = 0; j < hw; ++j) s2 += (x[(i * c + k) * hw + j] - mean) * (x[(i * c + k) * hw + j] - mean);
        const double unbiased = static_cast<double>(s2 / (n * hw - 1));
        CAPTURE(k, unbiased);
        CHECK(one.running[c + k] == Approx(0.9 + 0.1 * unbiased).epsilon(2e-7));
        CHECK(one.running[k] == Approx(static_cast<double>(0.1L * mean)).epsilon(2e-7));
    }
    float largest = 0;  // the tracked maximum is the largest fused-ReLU output
    for (float v : one.y) largest = std::max(largest, v);
    CHECK(one.max[0] == largest);
}

TEST_CASE("ReLU, pooling and global average pooling gradients", "[nn][pool]") {
    std::mt19937_64 rng(4);
    Tensor<double> x(Shape{2, 3, 7, 6}), y, dx;
    fill_uniform(x, rng);
    std::vector<Parameter<double>> none;
    CHECK(max_gradient_error(x, none, [&](const Tensor<double>& in) -> const Tensor<double>& { ReLU<double>::forward(in, y); return y; },
                             [&](const Tensor<double>& dy) { ReLU<double>::backward(y, dy, dx); return dx; }) < 1e-6);
    for (const PoolOptions o : {PoolOptions{2, 2, 0}, PoolOptions{3, 2, 1}, PoolOptions{3, 1, 1}}) {
        MaxPool2d<double> mp(o);
        CHECK(max_gradient_error(x, none, [&](const Tensor<double>& in) -> const Tensor<double>& { mp.forward(in, y); return y; },
                                 [&](const Tensor<double>& dy) { mp.backward(x, dy, dx); return dx; }) < 1e-6);
        AvgPool2d<double> ap(o);
        CHECK(max_gradient_error(x, none, [&](const Tensor<double>& in) -> const Tensor<double>& { ap.forward(in, y); return y; },
                                 [&](const Tensor<double>& dy) { ap.backward(x, dy, dx); return dx; }) < 1e-6);
    }
    CHECK(max_gradient_error(x, none, [&](const Tensor<double>& in) -> const Tensor<double>& { GlobalAvgPool<double>::forward(in, y); return y; },
                             [&](const Tensor<double>& dy) { GlobalAvgPool<double>::backward(x, dy, dx); return dx; }) < 1e-6);
    // ReLU keeps NaN (a damaged weight's NaN must reach the logits), alone and fused into BN.
    Tensor<double> damaged(Shape{1, 1, 1, 3}, -1.0);
    damaged[1] = std::nan("");
    ReLU<double>::forward(damaged, y);
    CHECK(y[0] == 0.0);
    CHECK(std::isnan(y[1]));
    BatchNorm2d<double> bn(1);
    bn.forward(damaged, y, Mode::eval, nullptr, true);
    CHECK(y[0] == 0.0);
    CHECK(std::isnan(y[1]));
    MaxPool2d<double> mp({2, 2, 0});
    Tensor<double> small(Shape{1, 1, 2, 2});
    small[0] = 1; small[1] = 4; small[2] = 3; small[3] = 2;
    mp.forward(small, y);
    CHECK(y[0] == 4);
    // A window of -inf sends its gradient to one of its own elements; a NaN wins its window.
    Tensor<double> edge(Shape{1, 1, 2, 4}, 0.0), g(Shape{1, 1, 1, 2}, 1.0);
    for (std::size_t i : {2, 3, 6, 7}) edge[i] = -std::numeric_limits<double>::infinity();
    edge[1] = std::nan("");
    mp.forward(edge, y);
    CHECK(std::isnan(y[0]));
    CHECK(y[1] == -std::numeric_limits<double>::infinity());
    mp.backward(edge, g, dx);
    CHECK(dx[1] == 1.0);
    CHECK(dx[2] + dx[3] + dx[6] + dx[7] == 1.0);
    AvgPool2d<double> ap({3, 1, 1});  // count_include_pad: corner averages 4 values over 9
    ap.forward(small, y);
    CHECK(y[0] == Approx(10.0 / 9));
}

TEST_CASE("softmax cross-entropy: value, label smoothing, gradient, NaN rows", "[nn][loss]") {
    std::mt19937_64 rng(5);
    for (double eps : {0.0, 0.1}) {
        SoftmaxCrossEntropy<double> ce(eps);
        Tensor<double> z(Shape{4, 5}), dz;
        fill_uniform(z, rng, -3, 3);
        const std::vector<std::int32_t> labels{0, 4, 2, 2};
        const double l = ce.forward(z, labels);
        double want = 0;
        for (std::size_t i = 0; i < 4; ++i) {
            double s = 0;
            for (std::size_t j = 0; j < 5; ++j) s += std::exp(z[i * 5 + j]);
            for (std::size_t j = 0; j < 5; ++j) {
                const double q = (static_cast<int>(j) == labels[i] ? 1 - eps : 0) + eps / 5;
                want -= q * std::log(std::exp(z[i * 5 + j]) / s);
            }
        }
        CHECK(l == Approx(want / 4).epsilon(1e-12));
        ce.backward(dz);
        for (std::size_t i = 0; i < z.size(); ++i) {
            const double keep = z[i];
            z[i] = keep + 1e-6;
            const double lp = ce.forward(z, labels);
            z[i] = keep - 1e-6;
            const double lm = ce.forward(z, labels);
            z[i] = keep;
            CHECK(dz[i] == Approx((lp - lm) / 2e-6).epsilon(1e-6).margin(1e-9));
        }
    }
    SoftmaxCrossEntropy<float> ce;
    Tensor<float> big(Shape{1, 3});
    big[0] = 1000.0f; big[1] = -1000.0f; big[2] = 0.0f;  // stable: no overflow
    const std::vector<std::int32_t> one{0};
    CHECK(std::isfinite(ce.forward(big, one)));
    CHECK_THROWS_WITH(ce.forward(big, std::vector<std::int32_t>{3}), Catch::Contains("label 3"));
    Tensor<float> z(Shape{2, 3}, 0.0f);
    z[1] = 5;                       // row 0 predicts class 1
    z[3] = std::nanf(""); z[5] = 9;  // row 1 has a NaN: never correct
    const std::vector<std::int32_t> labels{1, 2};
    CHECK(count_correct(z, labels) == 1);
}
