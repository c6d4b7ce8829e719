// Injector: BER 1e-5 into ResNet18-sized fp32 storage, against the naive one-draw-per-bit
// loop; and the two selection methods across rates (justifies the 1/64 switch point).
#include "bench_util.hpp"

#include <safnet/fault/inject/bitflip.hpp>

namespace {

using namespace safnet;
using namespace safnet::fault;

constexpr std::size_t kResNet18Words = 11'689'512;  // torchvision ResNet18 parameter count

std::vector<std::uint32_t>& storage(std::size_t n) {
    static std::vector<std::uint32_t> w;
    if (w.size() != n) w.assign(n, 0x3f000000u);
    return w;
}

// The textbook injector: one Bernoulli draw (a Philox u32 against a threshold) per bit.
SAFNET_SCALAR_REFERENCE std::size_t naive_inject(std::span<std::uint32_t> words, double ber, random::StreamKey key) {
    random::PhiloxStream rng(key);
    const auto threshold = static_cast<std::uint32_t>(ber * 4294967296.0);
    std::size_t flips = 0;
    for (auto& w : words)
        for (int b = 0; b < 32; ++b)
            if (rng.next_u32() < threshold) {
                w ^= 1u << b;
                ++flips;
            }
    return flips;
}

void BM_InjectResNet18(benchmark::State& state) {
    auto& w = storage(kResNet18Words);
    const double ber = 1e-5;
    std::vector<BitFault> changed;
    changed.reserve(8192);
    std::uint32_t round = 0;
    safnet::bench::BestTimer t;
    t.run(state, [&] {
        inject(std::span<std::uint32_t>(w), 32, FaultModel::bit_flip(ber), {1, round++, 0}, changed);
        restore(std::span<std::uint32_t>(w), std::span<const BitFault>(changed));
    });
    const double naive = safnet::bench::reference_seconds("naive_resnet18", [&] {
        benchmark::DoNotOptimize(naive_inject(std::span<std::uint32_t>(w), ber, {1, 0, 0}));
    }, 1);
    state.counters["x_naive"] = naive / t.seconds();
    state.counters["flips"] = static_cast<double>(changed.size());
    state.counters["ns/flip"] = t.seconds() * 1e9 / std::max<double>(1.0, static_cast<double>(changed.size()));
}

void BM_SelectMethod(benchmark::State& state) {
    const auto method = static_cast<SelectMethod>(state.range(0));
    const double ber = 1.0 / static_cast<double>(state.range(1));
    auto& w = storage(1 << 20);
    std::vector<BitFault> changed;
    std::uint32_t round = 0;
    safnet::bench::BestTimer t;
    t.run(state, [&] {
        inject(std::span<std::uint32_t>(w), 32, FaultModel::bit_flip(ber), {1, round++, 0}, changed, method);
        restore(std::span<std::uint32_t>(w), std::span<const BitFault>(changed));
    });
    state.counters["ns/bit"] = t.seconds() * 1e9 / (32.0 * (1 << 20));
    state.SetLabel(std::string(method == SelectMethod::geometric ? "geometric" : "bernoulli_mask") +
                   " ber=1/" + std::to_string(state.range(1)));
}

}  // namespace

BENCHMARK(BM_InjectResNet18)->Unit(benchmark::kMicrosecond)->MinTime(0.5);
BENCHMARK(BM_SelectMethod)
    ->ArgsProduct({{static_cast<int>(SelectMethod::geometric), static_cast<int>(SelectMethod::bernoulli_mask)},
                   {1024, 256, 64, 32, 16, 2}})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(0.2);
