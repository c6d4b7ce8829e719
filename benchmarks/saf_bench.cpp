// SAF apply / backward over large spans, against a scalar std:: loop and memcpy.
#include "bench_util.hpp"

#include <safnet/saf.hpp>

#include <cmath>
#include <random>

namespace {

std::vector<float>& input(std::size_t n) {
    static std::vector<float> x;
    if (x.size() != n) {
        x.resize(n);
        std::mt19937 rng(1);
        std::uniform_real_distribution<float> u(-3.0f, 3.0f);
        for (auto& v : x) v = u(rng);
    }
    return x;
}

template <class S>
float scalar_std(float x) {
    if constexpr (std::is_same_v<S, safnet::Tanh>) return std::tanh(x);
    else if constexpr (std::is_same_v<S, safnet::Arctan>) return std::atan(x);
    else return x / (1.0f + std::fabs(x));
}

template <class S>
SAFNET_SCALAR_REFERENCE void scalar_loop(const std::vector<float>& x, std::vector<float>& y) {
    for (std::size_t i = 0; i < x.size(); ++i) y[i] = scalar_std<S>(x[i]);
}

SAFNET_SCALAR_REFERENCE void scalar_tanh_backward(const std::vector<float>& x, const std::vector<float>& g,
                                                  std::vector<float>& out) {
    for (std::size_t i = 0; i < x.size(); ++i) {
        const float c = std::cosh(x[i]);
        out[i] = g[i] / (c * c);
    }
}

template <class S>
void BM_SafApply(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    const auto& x = input(n);
    std::vector<float> y(n, 0.0f);
    const S saf;
    safnet::bench::BestTimer t;
    t.run(state, [&] {
        safnet::apply(saf, std::span<const float>(x), std::span<float>(y));
        benchmark::DoNotOptimize(y.data());
    });
    const double scalar = safnet::bench::reference_seconds(saf.name() + "/scalar/" + std::to_string(n), [&] {
        scalar_loop<S>(x, y);
        benchmark::DoNotOptimize(y.data());
    }, 3);
    const double memcpy_s = safnet::bench::memcpy_seconds(n * sizeof(float));
    state.counters["x_scalar"] = scalar / t.seconds();
    state.counters["x_memcpy"] = memcpy_s / t.seconds();
    state.counters["Gelem/s"] = static_cast<double>(n) / t.seconds() * 1e-9;
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n * 2 * sizeof(float)));
}

void BM_TanhBackward(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    const auto& x = input(n);
    std::vector<float> g(n, 1.0f), out(n);
    safnet::bench::BestTimer t;
    t.run(state, [&] {
        safnet::backward(safnet::Tanh{}, std::span<const float>(x), std::span<const float>(g), std::span<float>(out));
        benchmark::DoNotOptimize(out.data());
    });
    const double scalar = safnet::bench::reference_seconds("tanh_backward/scalar/" + std::to_string(n), [&] {
        scalar_tanh_backward(x, g, out);
        benchmark::DoNotOptimize(out.data());
    }, 3);
    state.counters["x_scalar"] = scalar / t.seconds();
    state.counters["x_memcpy"] = safnet::bench::memcpy_seconds(n * sizeof(float)) / t.seconds();
}

}  // namespace

BENCHMARK_TEMPLATE(BM_SafApply, safnet::Tanh)->Arg(1 << 20)->Arg(1 << 24)->Unit(benchmark::kMicrosecond)->MinTime(0.3);
BENCHMARK_TEMPLATE(BM_SafApply, safnet::Arctan)->Arg(1 << 20)->Arg(1 << 24)->Unit(benchmark::kMicrosecond)->MinTime(0.3);
BENCHMARK_TEMPLATE(BM_SafApply, safnet::Softsign)->Arg(1 << 20)->Arg(1 << 24)->Unit(benchmark::kMicrosecond)->MinTime(0.3);
BENCHMARK(BM_TanhBackward)->Arg(1 << 20)->Unit(benchmark::kMicrosecond)->MinTime(0.3);
