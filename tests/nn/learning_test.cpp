// Learning tests on real data (Fashion-MNIST from Debian's dataset-fashion-mnist): they fail
// when a backward pass is wrong even if every gradient check passed for its own layer.
#include <safnet/data/idx.hpp>
#include <safnet/nn/activation.hpp>
#include <safnet/nn/batchnorm.hpp>
#include <safnet/nn/conv2d.hpp>
#include <safnet/nn/linear.hpp>
#include <safnet/nn/loss.hpp>
#include <safnet/nn/optimizer.hpp>
#include <safnet/nn/pooling.hpp>

#include <catch2/catch.hpp>

#include <cstdlib>

using namespace safnet::nn;

namespace {

std::string fashion_dir() {
    const char* env = std::getenv("SAFNET_FASHION_MNIST");
    return env ? env : "/usr/share/datasets/fashion-mnist";
}

// conv(1->16) BN ReLU maxpool conv(16->32) BN ReLU maxpool linear(32*7*7 -> 10), tanh SAF.
struct SmallCnn {
    Conv2d<float> c1{{1, 16, 3, 1, 1}, safnet::Tanh{}};
    BatchNorm2d<float> b1{16};
    MaxPool2d<float> p1{{2, 2, 0}};
    Conv2d<float> c2{{16, 32, 3, 1, 1}, safnet::Tanh{}};
    BatchNorm2d<float> b2{32};
    MaxPool2d<float> p2{{2, 2, 0}};
    Linear<float> fc{32 * 7 * 7, 10, true, safnet::Tanh{}};
    Tensor<float> a1, n1, r1, q1, a2, n2, r2, q2, logits, d1, d2;
    std::vector<Parameter<float>> params;

    SmallCnn() {
        std::mt19937 rng(3);
        for (auto* c : {&c1, &c2}) {
            const auto& o = c->options();
            std::normal_distribution<float> d(0.0f, std::sqrt(2.0f / static_cast<float>(o.in_channels * 9)));
            for (auto& v : c->weight().raw().span()) v = d(rng);
            c->refresh_weights();
        }
        std::uniform_real_distribution<float> u(-0.03f, 0.03f);
        for (auto& v : fc.weight().raw().span()) v = u(rng);
        fc.refresh_weights();
        auto add = [&](const std::string& prefix) { return [&, prefix](const Parameter<float>& p) { params.push_back(p); (void)prefix; }; };
        c1.for_each_parameter("c1", add("c1"));
        b1.for_each_parameter("b1", add("b1"));
        c2.for_each_parameter("c2", add("c2"));
        b2.for_each_parameter("b2", add("b2"));
        fc.for_each_parameter("fc", add("fc"));
    }
    std::vector<Parameter<float>>& parameters() { return params; }
    template <class V> void for_each_parameter(V&& v) { for (auto& p : params) v(p); }

    const Tensor<float>& forward(const Tensor<float>& x, Mode m) {
        c1.forward(x, a1); b1.forward(a1, n1, m); ReLU<float>::forward(n1, r1); p1.forward(r1, q1);
        c2.forward(q1, a2); b2.forward(a2, n2, m); ReLU<float>::forward(n2, r2); p2.forward(r2, q2);
        fc.forward(q2, logits);
        return logits;
    }
    void backward(const Tensor<float>& x, const Tensor<float>& dlogits) {
        fc.backward(q2, dlogits, d1);
        p2.backward(r2, d1, d2); ReLU<float>::backward(r2, d2, d1); b2.backward(a2, d1, d2); c2.backward(q1, d2, d1);
        p1.backward(r1, d1, d2); ReLU<float>::backward(r1, d2, d1); b1.backward(a1, d1, d2); c1.backward(x, d2, d1);
    }
};

}  // namespace

TEST_CASE("a small CNN with tanh SAF weights overfits 256 Fashion-MNIST images to 100 %", "[learning]") {
    const auto train = safnet::data::load_mnist_like(fashion_dir(), true);
    const std::size_t n = 256, batch = 64;
    SmallCnn net;
    AdamW<float> opt({3e-3, 0.9, 0.999, 1e-8, 0.0});
    SoftmaxCrossEntropy<float> ce;
    Tensor<float> x(Shape{batch, 1, 28, 28}), d;
    std::vector<std::int32_t> y(batch);
    for (int epoch = 0; epoch < 40; ++epoch)
        for (std::size_t b = 0; b < n; b += batch) {
            safnet::data::to_tensor(train, b, batch, {}, x);
            std::copy(train.labels.begin() + static_cast<long>(b), train.labels.begin() + static_cast<long>(b + batch), y.begin());
            ce.forward(net.forward(x, Mode::train), y);
            ce.backward(d);
            net.backward(x, d);
            opt.step(net);
        }
    std::size_t correct = 0;
    for (std::size_t b = 0; b < n; b += batch) {
        safnet::data::to_tensor(train, b, batch, {}, x);
        std::copy(train.labels.begin() + static_cast<long>(b), train.labels.begin() + static_cast<long>(b + batch), y.begin());
        correct += count_correct(net.forward(x, Mode::eval), y);
    }
    INFO("training accuracy " << correct << " / " << n);
    CHECK(correct == n);
}
