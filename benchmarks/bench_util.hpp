// Helpers for ratio benchmarks: every figure is reported next to a reference measured in the
// same process (the machines are noisy; ratios measured side by side are what we compare).
#pragma once

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace safnet::bench {

/// Marks a reference loop that must stay scalar: GCC would otherwise auto-vectorize simple
/// ones (softsign), and the benchmark would compare SIMD with SIMD.
#define SAFNET_SCALAR_REFERENCE __attribute__((noinline, optimize("no-tree-vectorize")))

/// Best-of-`reps` wall time of fn() in seconds, cached under `key` so each reference is
/// measured once per process.
template <class F>
double reference_seconds(const std::string& key, F&& fn, int reps = 7) {
    static std::map<std::string, double> cache;
    if (auto it = cache.find(key); it != cache.end()) return it->second;
    fn();  // warm up: page in buffers, fill caches
    double best = 1e300;
    for (int r = 0; r < reps; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        fn();
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    return cache[key] = best;
}

/// memcpy of `bytes` bytes between two pre-touched buffers: the bandwidth reference.
inline double memcpy_seconds(std::size_t bytes) {
    static std::vector<char> src, dst;
    return reference_seconds("memcpy/" + std::to_string(bytes), [&] {
        if (src.size() < bytes) {
            src.assign(bytes, 1);
            dst.assign(bytes, 0);
        }
        std::memcpy(dst.data(), src.data(), bytes);
        benchmark::DoNotOptimize(dst.data());
        benchmark::ClobberMemory();
    });
}

/// Times the benchmark loop itself (min over iterations) so ratios use the same statistic as
/// the references: best-of, robust to the other core's noise.
class BestTimer {
public:
    template <class F>
    void run(benchmark::State& state, F&& fn) {
        fn();  // warm-up outside the timing: lazily built inputs, first-touch page faults
        for (auto _ : state) {
            const auto t0 = std::chrono::steady_clock::now();
            fn();
            best_ = std::min(best_, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        }
    }
    double seconds() const { return best_; }

private:
    double best_ = 1e300;
};

}  // namespace safnet::bench
