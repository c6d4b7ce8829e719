// safnet/fault/strata.hpp — strata of a BER fault model by its number of critical-bit faults.
//
// Under independent per-bit faults at rate p, the number K_c of selected bits among the N_c
// eligible "critical" bits (the positions whose faults do the most damage, e.g. the fp32
// exponent MSB) is exactly Binomial(N_c, p), independent of the faults elsewhere.
// CriticalStrata::plan(N_c, p, ...) splits the outcomes into
//   stratum k = 0 .. K_max     K_c = k,          weight P(K_c = k)
//   tail stratum (if any)      K_c > K_max,      weight P(K_c > K_max)
// with K_max the smallest k whose tail mass is at most `tail_mass`, capped so that there are
// at most `max_strata` strata; the weights sum to 1 (to double rounding). A round of stratum
// s draws K_c (fixed k, or for the tail from the truncated binomial by inversion) and then
// the exact conditional law (inject_conditional in bitflip.hpp).
// Streams (Philox, from (seed, round) and the stratum only, so a round is reproducible in
// any order and on any thread): critical bits {seed, round, 2s + 1}, other bits
// {seed, round, 2s + 2}, the tail's K_c {seed, round, 0x80000000 + s}.
// Complexity: plan O(max_strata); draw_count O(K_c - K_max) for the tail.
#pragma once

#include <safnet/error.hpp>
#include <safnet/fault/philox.hpp>
#include <safnet/fault/statistics.hpp>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace safnet::fault {

struct Stratum {
    std::uint64_t k_low = 0, k_high = 0;  // K_c range, inclusive (k_low == k_high except the tail)
    double weight = 0;
    bool is_tail() const noexcept { return k_high != k_low; }
    std::string label() const { return is_tail() ? ">" + std::to_string(k_low - 1) : std::to_string(k_low); }
};

class CriticalStrata {
public:
    CriticalStrata() = default;

    static CriticalStrata plan(std::uint64_t critical_bits, double rate, double tail_mass = 1e-3, std::size_t max_strata = 12) {
        if (critical_bits == 0) throw Error("stratified estimator: the critical class has no eligible bits");
        if (!(rate >= 0 && rate <= 1)) throw Error("stratified estimator: rate must be in [0, 1], got " + std::to_string(rate));
        if (max_strata < 2) throw Error("stratified estimator: needs at least 2 strata");
        CriticalStrata s;
        s.critical_bits_ = critical_bits;
        s.rate_ = rate;
        std::uint64_t k = 0;
        for (;; ++k) {
            const double tail = binomial_sf(critical_bits, k, rate);
            s.strata_.push_back({k, k, binomial_pmf(critical_bits, k, rate)});
            if (tail <= tail_mass || k == critical_bits) {
                if (tail > 0) s.strata_.push_back({k + 1, critical_bits, tail});
                break;
            }
            if (s.strata_.size() + 1 == max_strata) {
                s.strata_.push_back({k + 1, critical_bits, tail});
                break;
            }
        }
        return s;
    }

    std::uint64_t critical_bits() const noexcept { return critical_bits_; }
    double rate() const noexcept { return rate_; }
    const std::vector<Stratum>& strata() const noexcept { return strata_; }
    std::size_t size() const noexcept { return strata_.size(); }
    const Stratum& operator[](std::size_t s) const { return strata_.at(s); }

    /// K_c for round `round` of stratum `s`: k itself, or a draw from the truncated binomial.
    std::uint64_t draw_count(std::size_t s, std::uint64_t seed, std::uint32_t round) const {
        const Stratum& st = strata_.at(s);
        if (!st.is_tail()) return st.k_low;
        PhiloxStream rng(tail_count_key(seed, round, s));
        const double target = rng.next_open0() * st.weight;  // P(K_c in [k_low, k]) >= target
        double pmf = binomial_pmf(critical_bits_, st.k_low, rate_), cum = pmf;
        std::uint64_t k = st.k_low;
        const double ratio = rate_ / (1 - rate_);
        while (cum < target && k < st.k_high) {
            pmf *= static_cast<double>(critical_bits_ - k) / static_cast<double>(k + 1) * ratio;
            ++k;
            cum += pmf;
            if (pmf == 0 && cum < target) break;  // rounding left target unreachable: the mode is behind us
        }
        return k;
    }

    static StreamKey critical_key(std::uint64_t seed, std::uint32_t round, std::size_t s) {
        return {seed, round, static_cast<std::uint32_t>(2 * s + 1)};
    }
    static StreamKey other_key(std::uint64_t seed, std::uint32_t round, std::size_t s) {
        return {seed, round, static_cast<std::uint32_t>(2 * s + 2)};
    }
    static StreamKey tail_count_key(std::uint64_t seed, std::uint32_t round, std::size_t s) {
        return {seed, round, static_cast<std::uint32_t>(0x80000000u + s)};
    }

private:
    std::uint64_t critical_bits_ = 0;
    double rate_ = 0;
    std::vector<Stratum> strata_;
};

}  // namespace safnet::fault
