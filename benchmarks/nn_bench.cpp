// ResNet20 at batch 128: images/s for a training step (forward, loss, backward, SGD) and for
// inference, SAF none and tanh, 3x32x32 and 1x28x28 inputs; with the time breakdown by layer
// kind and the convolutions' achieved GFLOP/s. PyTorch's figures come from
// benchmarks/pytorch/resnet_bench.py, run side by side by benchmarks/compare_pytorch.sh.
#include "bench_util.hpp"

#include <safnet/profile.hpp>
#include <safnet/nn/loss.hpp>
#include <safnet/nn/optimizer.hpp>
#include <safnet/nn/resnet.hpp>

#include <xsimd/xsimd.hpp>

namespace {

using namespace safnet::nn;

struct Setup {
    const char* saf;
    std::size_t channels, size;
};
const Setup kSetups[] = {{"none", 3, 32}, {"tanh", 3, 32}, {"none", 1, 28}, {"tanh", 1, 28}};

Tensor<float> input(std::size_t batch, std::size_t c, std::size_t hw) {
    Tensor<float> x(Shape{batch, c, hw, hw});
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 2654435761u) % 2000) / 1000.0f - 1.0f;
    return x;
}

// The machine's fp32 FMA peak on safnet's thread pool, measured in this process: every thread
// runs 16 independent FMA chains of full SIMD vectors (no loads), so nothing but the FMA
// units' throughput limits it. Convolution GFLOP/s are reported against this, not a data-sheet
// figure (the clock under load is not known in advance).
double peak_gflops() {
    using B = xsimd::batch<float>;
    constexpr std::size_t chains = 16, iterations = 1 << 22;
    const std::size_t threads = safnet::thread_pool().size();
    const double s = safnet::bench::reference_seconds("peak fma", [&] {
        safnet::thread_pool().parallel_for(threads, [&](std::size_t, std::size_t, std::size_t t) {
            B acc[chains];
            for (std::size_t c = 0; c < chains; ++c) acc[c] = B(static_cast<float>(t + c) * 1e-3f);
            const B a(0.999999f), b(1e-7f);
            for (std::size_t i = 0; i < iterations; ++i)
                for (std::size_t c = 0; c < chains; ++c) acc[c] = xsimd::fma(acc[c], a, b);
            float sum = 0;
            for (std::size_t c = 0; c < chains; ++c) sum += xsimd::hadd(acc[c]);
            benchmark::DoNotOptimize(sum);
        });
    });
    return 2.0 * B::size * chains * iterations * static_cast<double>(threads) / s * 1e-9;
}

void report_breakdown(benchmark::State& state, double steps) {
    double total = 0;
    for (int k = 0; k < static_cast<int>(safnet::profile::Kind::count); ++k) {
        const auto kind = static_cast<safnet::profile::Kind>(k);
        const double ms = safnet::profile::seconds(kind) / steps * 1e3;
        if (kind != safnet::profile::Kind::saf) total += ms;  // saf refresh runs inside optimizer/forward
        if (ms > 0) state.counters[std::string(safnet::profile::kind_names[k]) + " ms"] = ms;
    }
    const double conv_s = safnet::profile::seconds(safnet::profile::Kind::conv_forward) +
                          safnet::profile::seconds(safnet::profile::Kind::conv_backward);
    const double peak = peak_gflops();
    state.counters["conv GFLOP/s"] = safnet::profile::conv_flops() / conv_s * 1e-9;
    state.counters["peak GFLOP/s"] = peak;
    state.counters["conv % of peak"] = 100 * safnet::profile::conv_flops() / conv_s * 1e-9 / peak;
}

void BM_ResNet20Train(benchmark::State& state) {
    const Setup s = kSetups[state.range(0)];
    const std::size_t batch = 128;
    ResNet<float> m({"resnet20", s.channels, 10, Shortcut::A, safnet::saf_from_name(s.saf)});
    m.initialize(1);
    const Tensor<float> x = input(batch, s.channels, s.size);
    std::vector<std::int32_t> labels(batch);
    for (std::size_t i = 0; i < batch; ++i) labels[i] = static_cast<std::int32_t>(i % 10);
    SoftmaxCrossEntropy<float> ce;
    Sgd<float> opt({0.01, 0.9, 5e-4, false});
    Tensor<float> d;
    auto step = [&] {
        ce.forward(m.forward(x, Mode::train), labels);
        ce.backward(d);
        m.backward(d);
        opt.step(m);
    };
    safnet::bench::BestTimer t;
    t.run(state, step);
    safnet::profile::reset();
    safnet::profile::enable(true);
    for (int i = 0; i < 3; ++i) step();
    safnet::profile::enable(false);
    report_breakdown(state, 3);
    state.counters["img/s"] = batch / t.seconds();
    state.SetLabel(std::string("saf=") + s.saf + " input " + std::to_string(s.channels) + "x" + std::to_string(s.size) + "x" + std::to_string(s.size));
}

void BM_ResNet20Infer(benchmark::State& state) {
    const Setup s = kSetups[state.range(0)];
    const auto batch = static_cast<std::size_t>(state.range(1));
    ResNet<float> m({"resnet20", s.channels, 10, Shortcut::A, safnet::saf_from_name(s.saf)});
    m.initialize(1);
    const Tensor<float> x = input(batch, s.channels, s.size);
    safnet::bench::BestTimer t;
    t.run(state, [&] { benchmark::DoNotOptimize(m.forward(x, Mode::eval).data()); });
    safnet::profile::reset();
    safnet::profile::enable(true);
    m.forward(x, Mode::eval);
    safnet::profile::enable(false);
    report_breakdown(state, 1);
    state.counters["img/s"] = static_cast<double>(batch) / t.seconds();
    state.SetLabel(std::string("saf=") + s.saf + " input " + std::to_string(s.channels) + "x" + std::to_string(s.size) + "x" + std::to_string(s.size));
}

// BatchNorm2d in training mode at ResNet20's activation shapes (batch 128): forward with the
// fused ReLU, and backward; against memcpy of the activation (both are bound by memory
// traffic: forward reads x and writes y, backward reads x and dy and writes dx).
const std::size_t kBnShapes[][3] = {{16, 32, 32}, {32, 16, 16}, {64, 8, 8}, {16, 28, 28}, {32, 14, 14}, {64, 7, 7}};

void BM_BatchNorm(benchmark::State& state) {
    const auto* s = kBnShapes[state.range(0)];
    const bool backward = state.range(1) != 0;
    BatchNorm2d<float> bn(s[0]);
    const Tensor<float> x = input(128, s[0], s[1]), dy = input(128, s[0], s[1]);
    Tensor<float> y, dx;
    bn.forward(x, y, Mode::train, nullptr, true);
    safnet::bench::BestTimer t;
    t.run(state, [&] {
        if (backward)
            bn.backward(x, dy, dx);
        else
            bn.forward(x, y, Mode::train, nullptr, true);
    });
    state.counters["x_memcpy"] = safnet::bench::memcpy_seconds(x.size() * sizeof(float)) / t.seconds();
    state.SetLabel(std::string(backward ? "backward " : "forward ") + std::to_string(s[0]) + "x" + std::to_string(s[1]) + "x" + std::to_string(s[2]));
}

}  // namespace

BENCHMARK(BM_BatchNorm)->ArgsProduct({{0, 1, 2, 3, 4, 5}, {0, 1}})->Unit(benchmark::kMicrosecond)->MinTime(0.3);
BENCHMARK(BM_ResNet20Train)->DenseRange(0, 3)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_ResNet20Infer)->ArgsProduct({{0, 1, 2, 3}, {128, 1000}})->Unit(benchmark::kMillisecond)->MinTime(2.0);
