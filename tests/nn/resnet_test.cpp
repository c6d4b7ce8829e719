#include "gradcheck.hpp"

#include <safnet/nn/loss.hpp>
#include <safnet/nn/optimizer.hpp>
#include <safnet/nn/resnet.hpp>
#include <safnet/threads.hpp>

#include <bit>

using namespace safnet::nn;
using safnet::test::fill_uniform;
using safnet::test::max_gradient_error;
using safnet::test::parameters_of;

TEST_CASE("ResNet parameter counts match the published architectures", "[nn][resnet]") {
    CHECK(ResNet<float>({"resnet20", 3, 10, Shortcut::A, safnet::Identity{}}).parameter_count() == 269'722);
    CHECK(ResNet<float>({"resnet20", 3, 10, Shortcut::B, safnet::Tanh{}}).parameter_count() == 272'474);
    CHECK(ResNet<float>({"resnet18", 3, 1000, Shortcut::B, safnet::Identity{}}).parameter_count() == 11'689'512);
    // resnet32/44/56 add 2 blocks per stage each: (9*16^2+2*16 + 9*32^2+2*32 + 9*64^2+2*64) * 2 convs
    const std::size_t per_depth_step = 2 * ((9 * 256 + 32) + (9 * 1024 + 64) + (9 * 4096 + 128));
    CHECK(ResNet<float>({"resnet32", 3, 10}).parameter_count() == 269'722 + 2 * per_depth_step);
    CHECK(ResNet<float>({"resnet56", 3, 10}).parameter_count() == 269'722 + 6 * per_depth_step);
    CHECK_THROWS_WITH(ResNet<float>({"resnet21", 3, 10}), Catch::Contains("resnet21") && Catch::Contains("resnet56"));
}

TEST_CASE("parameter names follow PyTorch's state_dict", "[nn][resnet]") {
    ResNet<float> m({"resnet20", 3, 10, Shortcut::B});
    std::vector<std::string> names;
    for (auto& p : m.parameters()) names.push_back(p.name);
    CHECK(names.front() == "conv1.weight");
    CHECK(std::find(names.begin(), names.end(), "layer2.0.downsample.0.weight") != names.end());
    CHECK(std::find(names.begin(), names.end(), "layer3.2.bn2.bias") != names.end());
    CHECK(names.back() == "fc.bias");
    std::vector<std::string> buffers;
    m.for_each_buffer([&](const std::string& n, Tensor<float>&) { buffers.push_back(n); });
    CHECK(std::find(buffers.begin(), buffers.end(), "layer1.0.bn1.running_var") != buffers.end());
}

TEST_CASE("residual blocks: gradient check with both shortcut options and a SAF", "[nn][resnet]") {
    std::mt19937_64 rng(7);
    struct Case { std::size_t in, out, stride; Shortcut kind; const char* saf; };
    for (const Case c : {Case{4, 4, 1, Shortcut::A, "none"}, Case{4, 8, 2, Shortcut::A, "tanh"},
                         Case{4, 8, 2, Shortcut::B, "softsign"}, Case{3, 6, 1, Shortcut::B, "modtanh"}}) {
        BasicBlock<double> block(c.in, c.out, c.stride, c.kind, safnet::saf_from_name(c.saf));
        std::vector<Parameter<double>> ps;
        block.for_each_parameter("", [&](const Parameter<double>& p) { ps.push_back(p); });
        for (auto& p : ps) {
            if (p.saf) {
                fill_uniform(*p.value, rng, -0.8, 0.8);
                p.saf->refresh();
            }
        }
        Tensor<double> x(Shape{3, c.in, 6, 6}), y, dx;
        fill_uniform(x, rng);
        const double err = max_gradient_error(
            x, ps, [&](const Tensor<double>& in) -> const Tensor<double>& { block.forward(in, y, Mode::train); return y; },
            [&](const Tensor<double>& dy) { block.backward(x, y, dy, dx); return dx; }, true, 25);
        INFO(c.in << "->" << c.out << " stride " << c.stride << (c.kind == Shortcut::A ? " A " : " B ") << c.saf);
        CHECK(err < 1e-6);
    }
}

namespace {
// Largest relative gradient error of a whole model (parameters and input) on random input
// of in_channels x 8 x 8, batch 2.
double whole_model_gradient_error(const ResNetOptions& o, std::uint64_t init_seed, std::uint64_t data_seed) {
    ResNet<double> m(o);
    m.initialize(init_seed);
    Tensor<double> x(Shape{2, o.in_channels, 8, 8});
    std::mt19937_64 rng(data_seed);
    fill_uniform(x, rng);
    return max_gradient_error(
        x, m.parameters(), [&](const Tensor<double>& in) -> const Tensor<double>& { return m.forward(in, Mode::train); },
        [&](const Tensor<double>& dy) { m.backward(dy, true); return m.input_grad(); }, true, 3);
}

// A fixed, varied input in [-1, 1).
void fill_pattern(Tensor<float>& x) {
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 2654435761u) % 1000) / 500.0f - 1.0f;
}
}  // namespace

TEST_CASE("a whole ResNet20 with a tanh SAF: gradient check", "[nn][resnet]") {
    CHECK(whole_model_gradient_error({"resnet20", 1, 4, Shortcut::A, safnet::Tanh{}}, 3, 8) < 1e-6);
}

TEST_CASE("ResNet18 forward/backward runs on small inputs with any channel count", "[nn][resnet]") {
    ResNet<float> m({"resnet18", 2, 7});
    m.initialize(1);
    Tensor<float> x(Shape{2, 2, 32, 32}, 0.1f);
    const auto& logits = m.forward(x, Mode::train);
    CHECK(logits.shape() == Shape{2, 7});
    Tensor<float> d(logits.shape(), 0.01f);
    m.backward(d, true);
    CHECK(m.input_grad().shape() == x.shape());
    CHECK_THROWS_WITH(m.forward(Tensor<float>(Shape{2, 3, 32, 32}), Mode::eval), Catch::Contains("3 channels"));
}

TEST_CASE("inference does not depend on the thread count", "[nn][resnet][threads]") {
    ResNet<float> m({"resnet20", 3, 10, Shortcut::A, safnet::Tanh{}});
    m.initialize(5);
    Tensor<float> x(Shape{6, 3, 16, 16});
    fill_pattern(x);
    std::vector<std::vector<float>> results;
    for (std::size_t threads : {1, 2, 3}) {
        safnet::set_threads(threads);
        const auto& y = m.forward(x, Mode::eval);
        results.emplace_back(y.data(), y.data() + y.size());
    }
    safnet::set_threads(safnet::default_threads());
    for (std::size_t i = 0; i < results[0].size(); ++i) {
        REQUIRE(std::bit_cast<std::uint32_t>(results[1][i]) == std::bit_cast<std::uint32_t>(results[0][i]));
        REQUIRE(std::bit_cast<std::uint32_t>(results[2][i]) == std::bit_cast<std::uint32_t>(results[0][i]));
    }
}

namespace {
// Eval-mode logits through the unfused path: BN tracking its activation maxima cannot run in
// a conv epilogue, so the model falls back to separate conv, BN and ReLU passes.
std::vector<float> unfused_eval(ResNet<float>& m, const Tensor<float>& x) {
    m.for_each_relu_batchnorm([](BatchNorm2d<float>& bn) { bn.track_activation_max(true); });
    const auto& y = m.forward(x, Mode::eval);
    std::vector<float> out(y.data(), y.data() + y.size());
    m.for_each_relu_batchnorm([](BatchNorm2d<float>& bn) { bn.track_activation_max(false); });
    return out;
}
}  // namespace

TEST_CASE("eval mode (depth-first, BN, residual and ReLU applied per image) equals the unfused path bit for bit", "[nn][resnet]") {
    for (const auto& [arch, kind] : {std::pair{"resnet20", Shortcut::A}, std::pair{"resnet20", Shortcut::B}, std::pair{"resnet18", Shortcut::B}}) {
        CAPTURE(arch, kind == Shortcut::A);
        ResNet<float> m({arch, 3, 10, kind, safnet::Tanh{}});
        m.initialize(4);
        // Non-trivial running statistics and affine parameters, so that every term matters.
        std::mt19937_64 rng(11);
        m.for_each_buffer([&](const std::string& name, Tensor<float>& b) {
            for (auto& v : b.span()) v = name.ends_with("var") ? 0.5f + static_cast<float>(rng() % 1000) / 1000.0f
                                                               : static_cast<float>(rng() % 1000) / 2000.0f - 0.25f;
        });
        for (auto& p : m.parameters())
            if (p.name.find("bn") != std::string::npos || p.name.find("downsample.1") != std::string::npos)
                for (auto& v : p.value->span()) v = static_cast<float>(rng() % 1000) / 1000.0f + 0.25f;
        Tensor<float> x(Shape{3, 3, 32, 32});
        fill_pattern(x);
        const std::vector<float> reference = unfused_eval(m, x);
        const auto& y = m.forward(x, Mode::eval);
        REQUIRE(y.size() == reference.size());
        for (std::size_t i = 0; i < y.size(); ++i)
            REQUIRE(std::bit_cast<std::uint32_t>(y[i]) == std::bit_cast<std::uint32_t>(reference[i]));
    }
}

TEST_CASE("a residual block's eval forward (per image, BN applied in place) equals the unfused path bit for bit", "[nn][resnet]") {
    struct Case { std::size_t in, out, stride; Shortcut kind; };
    for (const Case c : {Case{16, 16, 1, Shortcut::A}, Case{16, 32, 2, Shortcut::A}, Case{16, 32, 2, Shortcut::B}}) {
        CAPTURE(c.in, c.out, c.stride, c.kind == Shortcut::A);
        BasicBlock<float> block(c.in, c.out, c.stride, c.kind, safnet::Tanh{});
        std::mt19937_64 rng(c.out + c.stride);
        block.for_each_parameter("", [&](const Parameter<float>& p) {
            for (auto& v : p.value->span()) v = static_cast<float>(rng() % 1000) / 1000.0f - 0.4f;
            if (p.saf) p.saf->refresh();
        });
        block.for_each_buffer("", [&](const std::string& name, Tensor<float>& b) {
            for (auto& v : b.span()) v = name.ends_with("var") ? 0.5f + static_cast<float>(rng() % 1000) / 1000.0f : 0.1f;
        });
        Tensor<float> x(Shape{3, c.in, 16, 16}), fused, unfused;
        fill_pattern(x);
        block.for_each_relu_batchnorm([](BatchNorm2d<float>& bn) { bn.track_activation_max(true); });
        block.forward(x, unfused, Mode::eval);
        block.for_each_relu_batchnorm([](BatchNorm2d<float>& bn) { bn.track_activation_max(false); });
        block.forward(x, fused, Mode::eval);
        REQUIRE(fused.shape() == unfused.shape());
        for (std::size_t i = 0; i < fused.size(); ++i)
            REQUIRE(std::bit_cast<std::uint32_t>(fused[i]) == std::bit_cast<std::uint32_t>(unfused[i]));
    }
}

TEST_CASE("backward skips the input gradient unless asked, with identical parameter gradients", "[nn][resnet]") {
    ResNet<float> m({"resnet20", 3, 10, Shortcut::B, safnet::Tanh{}});
    m.initialize(6);
    Tensor<float> x(Shape{2, 3, 16, 16});
    fill_pattern(x);
    Tensor<float> d(Shape{2, 10}, 0.05f);
    m.forward(x, Mode::train);
    m.backward(d, true);
    REQUIRE(m.input_grad().shape() == x.shape());
    std::vector<std::vector<float>> with;
    for (auto& p : m.parameters()) with.emplace_back(p.grad->data(), p.grad->data() + p.grad->size());
    m.forward(x, Mode::train);
    m.backward(d);
    CHECK(m.input_grad().size() == 0);
    for (std::size_t k = 0; k < with.size(); ++k) {
        CAPTURE(m.parameters()[k].name);
        const Tensor<float>& g = *m.parameters()[k].grad;
        for (std::size_t i = 0; i < g.size(); ++i) REQUIRE(std::bit_cast<std::uint32_t>(g[i]) == std::bit_cast<std::uint32_t>(with[k][i]));
    }
    m.forward(x, Mode::eval);
    CHECK_THROWS_WITH(m.backward(d), Catch::Contains("train-mode forward"));
}

TEST_CASE("a ResNet20 with projection shortcuts: gradient check", "[nn][resnet]") {
    CHECK(whole_model_gradient_error({"resnet20", 2, 3, Shortcut::B, safnet::Softsign{}}, 9, 10) < 1e-6);
}
