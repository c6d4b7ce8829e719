// Slow learning test (not in the default test run: `ctest --preset release -L slow`):
// ResNet20 trained for one epoch on Fashion-MNIST passes 85 % test accuracy.
#define CATCH_CONFIG_MAIN
#include <safnet/data/idx.hpp>
#include <safnet/nn/loss.hpp>
#include <safnet/nn/optimizer.hpp>
#include <safnet/nn/resnet.hpp>
#include <safnet/nn/schedule.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <numeric>
#include <random>

using namespace safnet::nn;

TEST_CASE("ResNet20 (tanh SAF) reaches 85 % on Fashion-MNIST after one epoch", "[slow]") {
    const char* env = std::getenv("SAFNET_FASHION_MNIST");
    const std::string dir = env ? env : "/usr/share/datasets/fashion-mnist";
    auto train = safnet::data::load_mnist_like(dir, true);
    auto test = safnet::data::load_mnist_like(dir, false);
    for (auto* ds : {&train, &test})
        for (auto& v : ds->images.span()) v = (v - 0.2860f) / 0.3530f;

    ResNet<float> m({"resnet20", 1, 10, Shortcut::A, safnet::Tanh{}});
    m.initialize(1);
    const std::size_t batch = 128, steps = train.size() / batch;
    Sgd<float> opt({0.1, 0.9, 5e-4, true});
    const Schedule lr{Schedule::Kind::cosine, 0.1, 0.0, 0.1, static_cast<long>(steps), 30, 1};
    SoftmaxCrossEntropy<float> ce;
    std::vector<std::size_t> order(train.size());
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), std::mt19937_64(7));
    Tensor<float> x(Shape{batch, 1, 28, 28}), d;
    std::vector<std::int32_t> y(batch);
    const auto t0 = std::chrono::steady_clock::now();
    for (std::size_t s = 0; s < steps; ++s) {
        for (std::size_t i = 0; i < batch; ++i) {
            const std::size_t k = order[s * batch + i];
            std::copy(train.images.data() + k * 784, train.images.data() + (k + 1) * 784, x.data() + i * 784);
            y[i] = train.labels[k];
        }
        opt.set_lr(lr(static_cast<long>(s)));
        ce.forward(m.forward(x, Mode::train), y);
        ce.backward(d);
        m.backward(d);
        opt.step(m);
    }
    const double train_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::size_t correct = 0;
    const std::size_t eval_batch = 500;
    Tensor<float> xe(Shape{eval_batch, 1, 28, 28});
    std::vector<std::int32_t> ye(eval_batch);
    for (std::size_t b = 0; b < test.size(); b += eval_batch) {
        std::copy(test.images.data() + b * 784, test.images.data() + (b + eval_batch) * 784, xe.data());
        std::copy(test.labels.begin() + static_cast<long>(b), test.labels.begin() + static_cast<long>(b + eval_batch), ye.begin());
        correct += count_correct(m.forward(xe, Mode::eval), ye);
    }
    const double acc = 100.0 * static_cast<double>(correct) / static_cast<double>(test.size());
    WARN("one epoch: " << train_s << " s (" << static_cast<double>(steps * batch) / train_s << " img/s), test accuracy " << acc << " %");
    CHECK(acc >= 85.0);
}
