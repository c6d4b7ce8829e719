// The thread pool: static chunks cover [0, n) exactly once, exceptions reach the caller, and
// loop bodies run with denormals flushed to zero on every thread while the caller's own
// floating-point mode is left as it was.
#include <safnet/detail/thread_pool.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <limits>
#include <stdexcept>
#include <vector>

namespace {
// Computed at run time, so the compiler cannot fold it under its own (non-flushing) rules.
float halve(float x) {
    volatile float v = x;
    return v * 0.5f;
}
}  // namespace

TEST_CASE("thread pool: chunks cover the range once, for any thread count", "[detail][threads]") {
    for (std::size_t threads : {1, 2, 3, 5}) {
        safnet::detail::ThreadPool pool(threads);
        for (std::size_t n : {0, 1, 2, 7, 100}) {
            std::vector<std::atomic<int>> hits(n);
            pool.parallel_for(n, [&](std::size_t b, std::size_t e, std::size_t t) {
                CHECK(t < threads);
                for (std::size_t i = b; i < e; ++i) ++hits[i];
            });
            for (std::size_t i = 0; i < n; ++i) REQUIRE(hits[i] == 1);
        }
    }
}

TEST_CASE("thread pool: an exception in a chunk reaches the caller and the pool stays usable", "[detail][threads]") {
    safnet::detail::ThreadPool pool(2);
    CHECK_THROWS_AS(pool.parallel_for(4, [](std::size_t b, std::size_t, std::size_t) {
        if (b > 0) throw std::runtime_error("chunk failed");
    }), std::runtime_error);
    std::atomic<int> n{0};
    pool.parallel_for(4, [&](std::size_t b, std::size_t e, std::size_t) { n += static_cast<int>(e - b); });
    CHECK(n == 4);
}

#if defined(__SSE__) || defined(__x86_64__)
TEST_CASE("thread pool: loop bodies flush denormals, the caller's mode is restored", "[detail][threads]") {
    const float tiny = std::numeric_limits<float>::min();  // smallest normal: half of it is denormal
    REQUIRE(halve(tiny) > 0.0f);                          // the test thread itself does not flush
    for (std::size_t threads : {1, 2}) {
        safnet::detail::ThreadPool pool(threads);
        std::vector<float> out(4, -1.0f);
        pool.parallel_for(out.size(), [&](std::size_t b, std::size_t e, std::size_t) {
            for (std::size_t i = b; i < e; ++i) out[i] = halve(tiny);
        });
        for (float v : out) CHECK(v == 0.0f);
        CHECK(halve(tiny) > 0.0f);
    }
}
#endif
