// Codec encode/decode throughput, against memcpy of the float buffer (4 bytes per value).
#include "bench_util.hpp"

#include <safnet/codec/registry.hpp>

#include <random>

namespace {

constexpr std::size_t kValues = std::size_t{1} << 24;  // 16M values, 64 MiB of floats

const std::vector<float>& values() {
    static std::vector<float> x = [] {
        std::vector<float> v(kValues);
        std::mt19937 rng(2);
        std::normal_distribution<float> d(0.0f, 0.5f);
        for (auto& f : v) f = d(rng);
        return v;
    }();
    return x;
}

template <class C>
void report(benchmark::State& state, double seconds) {
    state.counters["x_memcpy"] = safnet::bench::memcpy_seconds(kValues * sizeof(float)) / seconds;
    state.counters["Gvalues/s"] = static_cast<double>(kValues) / seconds * 1e-9;
}

template <class C>
void BM_Encode(benchmark::State& state) {
    const C codec;
    std::vector<typename C::word_type> words(kValues, 0);
    safnet::bench::BestTimer t;
    t.run(state, [&] {
        codec.encode(values(), words);
        benchmark::DoNotOptimize(words.data());
    });
    report<C>(state, t.seconds());
}

template <class C>
void BM_Decode(benchmark::State& state) {
    const C codec;
    std::vector<typename C::word_type> words(kValues, 0);
    codec.encode(values(), words);
    std::vector<float> out(kValues, 0.0f);
    safnet::bench::BestTimer t;
    t.run(state, [&] {
        codec.decode(words, out);
        benchmark::DoNotOptimize(out.data());
    });
    report<C>(state, t.seconds());
}

}  // namespace

#define SAFNET_CODEC_BENCH(C)                                                                      \
    BENCHMARK_TEMPLATE(BM_Encode, C)->Unit(benchmark::kMillisecond)->MinTime(0.3);                 \
    BENCHMARK_TEMPLATE(BM_Decode, C)->Unit(benchmark::kMillisecond)->MinTime(0.3)

SAFNET_CODEC_BENCH(safnet::Float32);
SAFNET_CODEC_BENCH(safnet::Float16);
SAFNET_CODEC_BENCH(safnet::BFloat16);
SAFNET_CODEC_BENCH(safnet::Q2_5);
