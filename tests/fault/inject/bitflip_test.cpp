#include <safnet/fault/inject/bitflip.hpp>
#include <support/ulp.hpp>

#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <limits>
#include <random>
#include <thread>
#include <vector>

using namespace safnet;
using namespace safnet::fault;

namespace {

const SelectMethod both_methods[] = {SelectMethod::geometric, SelectMethod::bernoulli_mask};

const char* method_name(SelectMethod m) { return m == SelectMethod::geometric ? "geometric" : "bernoulli_mask"; }

template <class Word>
std::vector<Word> random_words(std::size_t n, unsigned seed) {
    std::mt19937_64 rng(seed);
    std::vector<Word> w(n);
    for (auto& x : w) x = static_cast<Word>(rng());
    return w;
}

// Mean and variance of the number of affected bits over `rounds` rounds, as z-scores against
// Binomial(n, p): mean se = sqrt(np(1-p)/R); variance se ~ var*sqrt(2/(R-1)) + kurtosis term.
struct BinomialZ {
    double z_mean, z_var;
};

template <class Word>
BinomialZ binomial_z(std::size_t n_words, int bpv, double p, SelectMethod method, int rounds) {
    std::vector<Word> words(n_words, 0);
    std::vector<BitFault> changed;
    double sum = 0, sum2 = 0;
    for (int r = 0; r < rounds; ++r) {
        inject(std::span<Word>(words), bpv, FaultModel::bit_flip(p), {2024, static_cast<std::uint32_t>(r), 1}, changed,
               method);
        restore(std::span<Word>(words), std::span<const BitFault>(changed));
        const double k = static_cast<double>(changed.size());
        sum += k;
        sum2 += k * k;
    }
    const double n = static_cast<double>(n_words) * bpv;
    const double mean = sum / rounds;
    const double var = (sum2 - rounds * mean * mean) / (rounds - 1);
    const double true_var = n * p * (1 - p);
    const double mu4 = true_var * (1 + 3 * (n - 2) * p * (1 - p));  // binomial 4th central moment
    const double var_se = std::sqrt((mu4 - true_var * true_var * (rounds - 3.0) / (rounds - 1.0)) / rounds);
    return {(mean - n * p) / std::sqrt(true_var / rounds), (var - true_var) / var_se};
}

}  // namespace

TEST_CASE("flip counts follow Binomial(n, p) in mean and variance", "[fault][statistics]") {
    struct Case { double p; std::size_t words; int rounds; };
    for (const Case c : {Case{1e-4, 4096, 2000}, Case{1e-2, 1024, 1000}, Case{1.0 / 64, 1024, 1000},
                         Case{0.3, 256, 1000}, Case{0.5, 256, 1000}}) {
        for (SelectMethod m : both_methods) {
            const auto z32 = binomial_z<std::uint32_t>(c.words, 32, c.p, m, c.rounds);
            const auto z16 = binomial_z<std::uint16_t>(c.words, 16, c.p, m, c.rounds);
            const auto z8 = binomial_z<std::uint8_t>(c.words, 7, c.p, m, c.rounds);  // q3.3: 7 of 8 bits
            INFO("p=" << c.p << " " << method_name(m) << " z32 " << z32.z_mean << "/" << z32.z_var << " z16 "
                      << z16.z_mean << "/" << z16.z_var << " z8 " << z8.z_mean << "/" << z8.z_var);
            CHECK(std::abs(z32.z_mean) < 5);
            CHECK(std::abs(z32.z_var) < 5);
            CHECK(std::abs(z16.z_mean) < 5);
            CHECK(std::abs(z16.z_var) < 5);
            CHECK(std::abs(z8.z_mean) < 5);
            CHECK(std::abs(z8.z_var) < 5);
        }
    }
}

TEST_CASE("flips are uniform over bit positions and over words", "[fault][statistics]") {
    for (SelectMethod m : both_methods) {
        for (double p : {1e-3, 0.05}) {
            const std::size_t n_words = 2048;
            std::vector<std::uint32_t> words(n_words, 0);
            std::vector<double> by_bit(32, 0), by_word_bin(64, 0);
            std::vector<BitFault> changed;
            double total = 0;
            for (std::uint32_t r = 0; r < 400; ++r) {
                inject(std::span<std::uint32_t>(words), 32, FaultModel::bit_flip(p), {5, r, 0}, changed, m);
                for (const auto& f : changed) {
                    by_bit[f.bit] += 1;
                    by_word_bin[f.word * 64 / n_words] += 1;
                }
                total += static_cast<double>(changed.size());
                restore(std::span<std::uint32_t>(words), std::span<const BitFault>(changed));
            }
            auto chi2 = [&](const std::vector<double>& bins) {
                const double e = total / static_cast<double>(bins.size());
                double s = 0;
                for (double b : bins) s += (b - e) * (b - e) / e;
                return s;
            };
            INFO(method_name(m) << " p=" << p << " total=" << total);
            CHECK(chi2(by_bit) < safnet::test::chi2_critical_1e4(31));
            CHECK(chi2(by_word_bin) < safnet::test::chi2_critical_1e4(63));
        }
    }
}

TEST_CASE("BER 0 flips nothing, BER 1 flips every storage bit and no padding bit", "[fault]") {
    for (SelectMethod m : both_methods) {
        auto w32 = random_words<std::uint32_t>(1000, 1);
        const auto orig32 = w32;
        CHECK(inject(std::span<std::uint32_t>(w32), 32, FaultModel::bit_flip(0.0), {1, 0, 0}, m).empty());
        CHECK(w32 == orig32);
        const auto all = inject(std::span<std::uint32_t>(w32), 32, FaultModel::bit_flip(1.0), {1, 0, 0}, m);
        CHECK(all.size() == 32'000);
        for (std::size_t i = 0; i < w32.size(); ++i) REQUIRE(w32[i] == static_cast<std::uint32_t>(~orig32[i]));

        auto w8 = random_words<std::uint8_t>(1001, 2);  // q3.3: 7 storage bits, bit 7 padding
        const auto orig8 = w8;
        const auto all8 = inject(std::span<std::uint8_t>(w8), 7, FaultModel::bit_flip(1.0), {1, 0, 0}, m);
        CHECK(all8.size() == 7007);
        for (std::size_t i = 0; i < w8.size(); ++i) REQUIRE(w8[i] == (orig8[i] ^ 0x7f));
    }
}

TEST_CASE("an injection is reproducible from its key and restore undoes it", "[fault]") {
    for (SelectMethod m : both_methods) {
        for (double p : {1e-3, 0.25}) {
            auto a = random_words<std::uint16_t>(5000, 3);
            const auto orig = a;
            auto b = a;
            const auto fa = inject(std::span<std::uint16_t>(a), 16, FaultModel::bit_flip(p), {7, 11, 2}, m);
            const auto fb = inject(std::span<std::uint16_t>(b), 16, FaultModel::bit_flip(p), {7, 11, 2}, m);
            CHECK(fa == fb);
            CHECK(a == b);
            REQUIRE(!fa.empty());
            // The report is exactly the difference, ascending.
            std::size_t diff_bits = 0;
            for (std::size_t i = 0; i < a.size(); ++i) diff_bits += std::popcount(static_cast<unsigned>(a[i] ^ orig[i]));
            CHECK(diff_bits == fa.size());
            for (std::size_t i = 1; i < fa.size(); ++i)
                REQUIRE((fa[i - 1].word < fa[i].word || (fa[i - 1].word == fa[i].word && fa[i - 1].bit < fa[i].bit)));
            restore(std::span<std::uint16_t>(a), std::span<const BitFault>(fa));
            CHECK(a == orig);
            auto c = orig;
            const auto fc = inject(std::span<std::uint16_t>(c), 16, FaultModel::bit_flip(p), {7, 12, 2}, m);
            CHECK(fc != fa);  // another round, another draw
        }
    }
}

TEST_CASE("rounds computed on several threads in any order equal the sequential ones", "[fault]") {
    const auto clean = random_words<std::uint32_t>(20'000, 4);
    const int rounds = 8;
    std::vector<std::vector<BitFault>> sequential(rounds), threaded(rounds);
    for (int r = 0; r < rounds; ++r) {
        auto w = clean;
        sequential[r] = inject(std::span<std::uint32_t>(w), 32, FaultModel::bit_flip(1e-3), {99, static_cast<std::uint32_t>(r), 0});
    }
    std::vector<std::thread> pool;
    for (int t = 0; t < 2; ++t)
        pool.emplace_back([&, t] {
            for (int r = rounds - 1 - t; r >= 0; r -= 2) {  // reversed, interleaved
                auto w = clean;
                threaded[r] = inject(std::span<std::uint32_t>(w), 32, FaultModel::bit_flip(1e-3), {99, static_cast<std::uint32_t>(r), 0});
            }
        });
    for (auto& th : pool) th.join();
    CHECK(threaded == sequential);
}

TEST_CASE("stuck-at never changes a bit already at its stuck value", "[fault]") {
    for (SelectMethod m : both_methods) {
        for (bool value : {false, true}) {
            const auto orig = random_words<std::uint32_t>(4096, 6);
            auto w = orig;
            const double rate = 0.1;
            const auto changed = inject(std::span<std::uint32_t>(w), 32, FaultModel::stuck_at(value, rate), {3, 0, 0}, m);
            std::size_t eligible = 0;  // bits not already at the stuck value
            for (std::uint32_t x : orig) eligible += std::popcount(value ? ~x : x);
            for (const auto& f : changed) {
                REQUIRE(((orig[f.word] >> f.bit) & 1u) == (value ? 0u : 1u));
                REQUIRE(((w[f.word] >> f.bit) & 1u) == (value ? 1u : 0u));
            }
            std::size_t diff = 0;
            for (std::size_t i = 0; i < w.size(); ++i) diff += std::popcount(w[i] ^ orig[i]);
            CHECK(diff == changed.size());
            // Changes ~ Binomial(eligible, rate).
            const double e = static_cast<double>(eligible) * rate;
            INFO(method_name(m) << " stuck" << value << " changed " << changed.size() << " expected " << e);
            CHECK(std::abs(static_cast<double>(changed.size()) - e) < 5 * std::sqrt(e * (1 - rate)));
            // Words already all-at-value are untouched.
            std::vector<std::uint32_t> same(512, value ? 0xffffffffu : 0u);
            CHECK(inject(std::span<std::uint32_t>(same), 32, FaultModel::stuck_at(value, 0.5), {3, 1, 0}, m).empty());
        }
    }
}

TEST_CASE("a bit mask restricts faults to chosen bit positions, uniformly", "[fault]") {
    const std::uint64_t exponent = 0x7f800000u;  // fp32 exponent bits
    for (SelectMethod m : both_methods) {
        std::vector<std::uint32_t> w(8192, 0);
        std::vector<double> by_bit(32, 0);
        double total = 0;
        std::vector<BitFault> changed;
        for (std::uint32_t r = 0; r < 200; ++r) {
            inject(std::span<std::uint32_t>(w), 32, FaultModel::bit_flip(0.02).with_mask(exponent), {8, r, 0}, changed, m);
            for (const auto& f : changed) {
                REQUIRE(((exponent >> f.bit) & 1u) == 1u);
                by_bit[f.bit] += 1;
            }
            total += static_cast<double>(changed.size());
            restore(std::span<std::uint32_t>(w), std::span<const BitFault>(changed));
        }
        const double n = 8192.0 * 8 * 200;
        CHECK(std::abs(total - n * 0.02) < 5 * std::sqrt(n * 0.02 * 0.98));
        double chi2 = 0;
        for (int b = 23; b < 31; ++b) chi2 += (by_bit[b] - total / 8) * (by_bit[b] - total / 8) / (total / 8);
        CHECK(chi2 < safnet::test::chi2_critical_1e4(7) * 1.02);
    }
    // Sign bit only, at BER 1: every word's sign flips, nothing else.
    std::vector<std::uint16_t> h(100, 0x3c00);
    inject(std::span<std::uint16_t>(h), 16, FaultModel::bit_flip(1.0).with_mask(0x8000), {1, 0, 0});
    for (auto x : h) CHECK(x == 0xbc00);
}

TEST_CASE("exact flip counts: that many distinct bits, uniformly placed", "[fault]") {
    std::vector<std::uint8_t> w(1000, 0);
    std::vector<double> by_bit(8, 0);
    std::vector<BitFault> changed;
    for (std::uint32_t r = 0; r < 500; ++r) {
        inject(std::span<std::uint8_t>(w), 8, FaultModel::exact_flips(37), {4, r, 0}, changed);
        REQUIRE(changed.size() == 37);
        std::size_t ones = 0;
        for (auto x : w) ones += std::popcount(x);
        REQUIRE(ones == 37);  // distinct: no bit flipped twice
        for (const auto& f : changed) by_bit[f.bit] += 1;
        restore(std::span<std::uint8_t>(w), std::span<const BitFault>(changed));
    }
    double chi2 = 0;
    const double e = 500.0 * 37 / 8;
    for (double b : by_bit) chi2 += (b - e) * (b - e) / e;
    CHECK(chi2 < 1.02 * safnet::test::chi2_critical_1e4(7));
    // Every bit of the span.
    CHECK(inject(std::span<std::uint8_t>(w), 8, FaultModel::exact_flips(8000), {4, 0, 0}).size() == 8000);
    CHECK_THROWS_WITH(inject(std::span<std::uint8_t>(w), 8, FaultModel::exact_flips(8001), {4, 0, 0}),
                      Catch::Contains("8001") && Catch::Contains("8000"));
}

TEST_CASE("bad rates and widths are rejected with a clear error", "[fault]") {
    std::vector<std::uint32_t> w(10, 0);
    const std::span<std::uint32_t> s(w);
    CHECK_THROWS_WITH(inject(s, 32, FaultModel::bit_flip(std::numeric_limits<double>::quiet_NaN()), {}),
                      Catch::Contains("[0, 1]") && Catch::Contains("nan"));
    CHECK_THROWS_WITH(inject(s, 32, FaultModel::bit_flip(-0.1), {}), Catch::Contains("-0.1"));
    CHECK_THROWS_WITH(inject(s, 32, FaultModel::bit_flip(1.5), {}), Catch::Contains("1.5"));
    CHECK_THROWS_AS(inject(s, 32, FaultModel::stuck_at(true, 2.0), {}), safnet::Error);
    CHECK_THROWS_WITH(inject(s, 33, FaultModel::bit_flip(0.1), {}), Catch::Contains("33"));
    CHECK_THROWS_AS(inject(s, 0, FaultModel::bit_flip(0.1), {}), safnet::Error);
    CHECK(w == std::vector<std::uint32_t>(10, 0));  // nothing touched
    CHECK(fault_kind_from_name("stuck1") == FaultKind::stuck1);
    CHECK_THROWS_WITH(fault_kind_from_name("zap"), Catch::Contains("'zap'") && Catch::Contains("stuck0"));
}

TEST_CASE("inject_conditional at an exact count: k faults, exactly j of them critical, each bit as often as the uniform k-subset law gives", "[fault][bitflip]") {
    // 64 fp32-like words, critical class bit 30: C = 64 critical and N - C = 1984 other bits.
    const std::size_t n_words = 64;
    const std::uint64_t k = 5, j = 2, critical_mask = 1u << 30;
    const FaultModel model = FaultModel::exact_flips(k);
    std::vector<std::uint32_t> words(n_words, 0);
    std::vector<BitFault> changed;
    std::vector<double> hits_critical(n_words, 0), hits_other(n_words * 32, 0);
    const int rounds = 20000;
    for (int r = 0; r < rounds; ++r) {
        inject_conditional(std::span<std::uint32_t>(words), 32, model, critical_mask, j, random::StreamKey{3, static_cast<std::uint32_t>(r), 1},
                           random::StreamKey{3, static_cast<std::uint32_t>(r), 2}, changed);
        REQUIRE(changed.size() == k);
        std::size_t critical = 0;
        for (std::size_t i = 0; i < changed.size(); ++i) {
            if (i) REQUIRE((changed[i - 1].word < changed[i].word || (changed[i - 1].word == changed[i].word && changed[i - 1].bit < changed[i].bit)));
            if (changed[i].bit == 30) ++critical, ++hits_critical[changed[i].word];
            else ++hits_other[changed[i].word * 32 + changed[i].bit];
        }
        REQUIRE(critical == j);
        restore(std::span<std::uint32_t>(words), std::span<const BitFault>(changed));
    }
    // Each critical bit is hit with probability j / C, each other bit with (k - j) / (N - C); the
    // sums over bits are exact, so check their spread: no bit more than 5 sd from its expectation.
    const double pc = static_cast<double>(j) / 64, po = static_cast<double>(k - j) / 1984;
    for (double h : hits_critical) CHECK(std::abs(h - rounds * pc) <= 5 * std::sqrt(rounds * pc * (1 - pc)));
    for (std::size_t b = 0; b < hits_other.size(); ++b)
        if (b % 32 != 30) CHECK(std::abs(hits_other[b] - rounds * po) <= 5 * std::sqrt(rounds * po * (1 - po)) + 1);
    // More critical faults than the count holds is an error, not a silent over-count.
    CHECK_THROWS_WITH(inject_conditional(std::span<std::uint32_t>(words), 32, model, critical_mask, 6, random::StreamKey{3, 0, 1}, random::StreamKey{3, 0, 2}, changed),
                      Catch::Contains("exact count of 5"));
}
