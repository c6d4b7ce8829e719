#include <safnet/random/philox.hpp>
#include <support/ulp.hpp>

#include <catch2/catch.hpp>

#include <vector>

using namespace safnet::random;

TEST_CASE("Philox4x32-10 matches Random123's known-answer vectors", "[philox]") {
    CHECK(philox4x32_10({0, 0, 0, 0}, {0, 0}) == PhiloxCounter{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8});
    CHECK(philox4x32_10({0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff}) ==
          PhiloxCounter{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd});
    CHECK(philox4x32_10({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0}) ==
          PhiloxCounter{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1});
    static_assert(philox4x32_10({0, 0, 0, 0}, {0, 0})[0] == 0x6627e8d5);  // usable at compile time
}

TEST_CASE("vectorized Philox lanes equal the scalar function", "[philox]") {
    using B = xsimd::batch<std::uint64_t>;
    const PhiloxKey key{0xa4093822, 0x299f31d0};
    for (std::uint64_t base = 0; base < 4096; base += B::size) {
        alignas(64) std::uint64_t c[4][B::size];
        for (std::size_t l = 0; l < B::size; ++l) {
            c[0][l] = (base + l) * 2654435761u & 0xffffffffu;
            c[1][l] = base;
            c[2][l] = 0xffffffffu - l;
            c[3][l] = 7;
        }
        B c0 = B::load_aligned(c[0]), c1 = B::load_aligned(c[1]), c2 = B::load_aligned(c[2]), c3 = B::load_aligned(c[3]);
        safnet::random::detail::philox4x32_10_lanes(c0, c1, c2, c3, key);
        alignas(64) std::uint64_t out[4][B::size];
        c0.store_aligned(out[0]); c1.store_aligned(out[1]); c2.store_aligned(out[2]); c3.store_aligned(out[3]);
        for (std::size_t l = 0; l < B::size; ++l) {
            const PhiloxCounter ref = philox4x32_10(
                {static_cast<std::uint32_t>(c[0][l]), static_cast<std::uint32_t>(c[1][l]),
                 static_cast<std::uint32_t>(c[2][l]), static_cast<std::uint32_t>(c[3][l])}, key);
            for (int j = 0; j < 4; ++j) REQUIRE(out[j][l] == ref[j]);
        }
    }
}

TEST_CASE("PhiloxStream is addressed by (seed, round, tensor) and yields valid uniforms", "[philox]") {
    PhiloxStream a({42, 3, 7}), b({42, 3, 7}), c({42, 4, 7}), d({43, 3, 7});
    bool differs_round = false, differs_seed = false;
    for (int i = 0; i < 64; ++i) {
        const auto x = a.next_u32();
        CHECK(x == b.next_u32());
        differs_round |= x != c.next_u32();
        differs_seed |= x != d.next_u32();
    }
    CHECK(differs_round);
    CHECK(differs_seed);
    // A stream started at block k continues the stream started at block 0.
    PhiloxStream from0({1, 2, 3}), from5({1, 2, 3}, 5);
    for (int i = 0; i < 20; ++i) from0.next_u32();
    CHECK(from0.next_u32() == from5.next_u32());

    PhiloxStream s({9, 0, 0});
    double sum = 0;
    const int n = 200'000;
    for (int i = 0; i < n; ++i) {
        const double u = s.next_open0();
        REQUIRE(u > 0.0);
        REQUIRE(u <= 1.0);
        sum += u;
    }
    // mean of U(0,1]: 1/2, sd of the mean sqrt(1/12/n); |z| < 5
    CHECK(std::abs(sum / n - 0.5) < 5 * std::sqrt(1.0 / 12 / n));

    std::vector<int> bins(10);
    for (int i = 0; i < 100'000; ++i) ++bins[s.next_below(10)];
    double chi2 = 0;
    for (int count : bins) chi2 += (count - 10000.0) * (count - 10000.0) / 10000.0;
    CHECK(chi2 < safnet::test::chi2_critical_1e4(9));
}
