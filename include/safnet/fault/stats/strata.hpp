// safnet/fault/stats/strata.hpp — strata of a BER fault model by its number of critical-bit faults
// and, optionally, by how many of them hit negative stored values.
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
// Sign split (plan_by_sign): the critical bits are partitioned by the sign of the clean value
// their word holds, N_c = N_- + N_+; K_- ~ Binomial(N_-, p) and K_+ ~ Binomial(N_+, p) are
// independent. Every stratum k = 1 .. K_max is replaced by its sub-strata (k, j) = {K_c = k,
// K_- = j}, j = 0 .. k, of weight P(K_+ = k - j) P(K_- = j) (zero-weight ones left out; the
// weights sum to stratum k's), or, if that makes more than `max_strata` strata, none is: a
// partial split leaves an unsplit stratum with a rare mode next to split ones of small
// variance, and that stratum's pilot then decides the interval (88.6 % coverage instead of
// 95 % in tests/fault/stats/estimator_test.cpp when only k = 1 was split).
// Why: on an unprotected network one exponent-MSB fault is mild or catastrophic mostly by the
// sign of the weight it hits (docs/reference/statistics.md), so the single-fault stratum is bimodal and
// splitting it removes most of its variance. A split stratum draws its j negative-group
// faults from the critical stream and its k - j others from {seed, round, 0x40000000 + s}.
// Streams (Philox, from (seed, round) and the stratum only, so a round is reproducible in
// any order and on any thread): critical bits {seed, round, 2s + 1}, other bits
// {seed, round, 2s + 2}, the tail's K_c {seed, round, 0x80000000 + s}.
// Exact counts (plan_exact): `count` distinct faults uniform over the N eligible bits make K_c
// Hypergeometric(N, N_c, count) rather than binomial; strata, tail and sign split (given K_c = k
// the negative hits are Hypergeometric(N_c, N_-, k) either way) follow the same rules, and a
// round draws its critical and other faults as exact counts. This stratifies the BER curve's
// exact-count campaigns (ber_curve.hpp), whose single-fault stratum otherwise rests on rounds
// that mostly miss the rare critical hit.
// Complexity: plan O(max_strata) (exact counts: O(max_strata x the tail's support)); draw_count
// O(K_c - K_max) for the tail.
#pragma once

#include <safnet/error.hpp>
#include <safnet/random/philox.hpp>
#include <safnet/fault/stats/statistics.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace safnet::fault {

/// The sign split is planned only as far as a budget of R rounds still pilots every stratum with
/// at least this many rounds (at most R / (2 sign_split_pilot) strata): with 2-round pilots a
/// stratum whose outcome is a coin flip shows sd 0 half the time, Neyman allocation then starves
/// it and the interval undercovers (61 % instead of 95 % in tests/fault/stats/estimator_test.cpp).
inline constexpr std::size_t sign_split_pilot = 10;

/// No stratum is piloted with fewer rounds: a stratified design needs 2 min_stratum_rounds rounds
/// per stratum (half the budget pilots, half is allocated), and a budget that cannot pilot two
/// strata runs plain (fault/stats/design.hpp).
inline constexpr std::size_t min_stratum_rounds = 5;

/// The largest number of strata plan_by_sign may use for a budget of `rounds` (never fewer than `base`).
inline std::size_t sign_split_limit(std::size_t max_strata, std::size_t rounds, std::size_t base) {
    return std::max(base, std::min(max_strata, rounds / (2 * sign_split_pilot)));
}

struct Stratum {
    static constexpr std::uint64_t any = ~std::uint64_t{0};
    std::uint64_t k_low = 0, k_high = 0;  // K_c range, inclusive (k_low == k_high except the tail)
    double weight = 0;
    std::uint64_t negative = any;  // K_- of a sign-split stratum; `any` when not split
    bool is_tail() const noexcept { return k_high != k_low; }
    bool is_split() const noexcept { return negative != any; }
    std::string label() const { return is_tail() ? ">" + std::to_string(k_low - 1) : std::to_string(k_low); }
    /// K_- as text: the number, or "*" when not split.
    std::string negative_label() const { return is_split() ? std::to_string(negative) : "*"; }
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

    /// The strata of an exact count: `count` distinct faults uniform over `eligible_bits`, of
    /// which `critical_bits` are critical, so K_c ~ Hypergeometric(eligible, critical, count);
    /// strata and tail as plan() makes them for a rate. A round of stratum k then draws its k
    /// critical faults and count - k others, both exactly (inject_conditional).
    static CriticalStrata plan_exact(std::uint64_t critical_bits, std::uint64_t eligible_bits, std::uint64_t count, double tail_mass = 1e-3,
                                     std::size_t max_strata = 12) {
        if (critical_bits == 0) throw Error("stratified estimator: the critical class has no eligible bits");
        if (critical_bits > eligible_bits || count > eligible_bits)
            throw Error("stratified estimator: " + std::to_string(count) + " faults or " + std::to_string(critical_bits) + " critical bits exceed the " +
                        std::to_string(eligible_bits) + " eligible bits");
        if (max_strata < 2) throw Error("stratified estimator: needs at least 2 strata");
        CriticalStrata s;
        s.critical_bits_ = critical_bits;
        s.eligible_bits_ = eligible_bits;
        s.count_ = count;
        const std::uint64_t top = s.count_top();
        for (std::uint64_t k = s.count_bottom();; ++k) {
            const double tail = s.exact_tail(k);
            s.strata_.push_back({k, k, hypergeometric_pmf(eligible_bits, critical_bits, count, k)});
            if (tail <= tail_mass || k == top) {
                if (tail > 0 && k < top) s.strata_.push_back({k + 1, top, tail});
                break;
            }
            if (s.strata_.size() + 1 == max_strata) {
                s.strata_.push_back({k + 1, top, tail});
                break;
            }
        }
        return s;
    }

    /// plan() over N_c = negative_bits + positive_bits, then split_by_sign.
    static CriticalStrata plan_by_sign(std::uint64_t negative_bits, std::uint64_t positive_bits, double rate, double tail_mass = 1e-3,
                                       std::size_t max_strata = 12) {
        if (negative_bits > ~std::uint64_t{0} - positive_bits) throw Error("stratified estimator: too many critical bits");
        CriticalStrata s = plan(negative_bits + positive_bits, rate, tail_mass, max_strata);
        s.split_by_sign(negative_bits, max_strata);
        return s;
    }

    /// The sign split of the header comment over these count strata, when it makes at most
    /// `max_strata` strata (all or nothing); `negative_bits` of the critical bits are negative.
    void split_by_sign(std::uint64_t negative_bits, std::size_t max_strata) {
        if (negative_bits > critical_bits_) throw Error("stratified estimator: more negative than critical bits");
        negative_bits_ = negative_bits;
        const std::uint64_t positive_bits = critical_bits_ - negative_bits;
        if (negative_bits == 0 || positive_bits == 0) return;  // nothing to split
        std::vector<Stratum> out;
        for (const Stratum& st : strata_) {
            if (st.k_low == 0 || st.is_tail()) {
                out.push_back(st);
                continue;
            }
            for (std::uint64_t j = 0; j <= st.k_low; ++j) {
                // Given K_c = k the negative hits are Hypergeometric(N_c, N_-, k), at a rate and at an exact count alike.
                const double w = count_ ? st.weight * hypergeometric_pmf(critical_bits_, negative_bits, st.k_low, j)
                                        : binomial_pmf(negative_bits, j, rate_) * binomial_pmf(positive_bits, st.k_low - j, rate_);
                if (w > 0) out.push_back({st.k_low, st.k_low, w, j});
            }
        }
        if (out.size() <= max_strata) strata_ = std::move(out);  // all or nothing: see the header comment
    }

    std::uint64_t critical_bits() const noexcept { return critical_bits_; }
    /// N_-: critical bits in words holding a negative value (0 unless planned by sign).
    std::uint64_t negative_bits() const noexcept { return negative_bits_; }
    bool split_by_sign() const noexcept {
        return std::any_of(strata_.begin(), strata_.end(), [](const Stratum& st) { return st.is_split(); });
    }
    double rate() const noexcept { return rate_; }
    /// The exact fault count the strata were planned for (plan_exact), if any.
    std::optional<std::uint64_t> exact_count() const noexcept { return count_; }
    const std::vector<Stratum>& strata() const noexcept { return strata_; }
    std::size_t size() const noexcept { return strata_.size(); }
    const Stratum& operator[](std::size_t s) const { return strata_.at(s); }

    /// K_c for round `round` of stratum `s`: k itself, or a draw from the truncated binomial.
    std::uint64_t draw_count(std::size_t s, std::uint64_t seed, std::uint32_t round) const {
        const Stratum& st = strata_.at(s);
        if (!st.is_tail()) return st.k_low;
        random::PhiloxStream rng(tail_count_key(seed, round, s));
        const double target = rng.next_open0() * st.weight;  // P(K_c in [k_low, k]) >= target
        if (count_) {
            double pmf = hypergeometric_pmf(eligible_bits_, critical_bits_, *count_, st.k_low), cum = pmf;
            std::uint64_t k = st.k_low;
            while (cum < target && k < st.k_high) {
                pmf *= exact_ratio(k);
                ++k;
                cum += pmf;
                if (pmf == 0 && cum < target) break;
            }
            return k;
        }
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

    static random::StreamKey critical_key(std::uint64_t seed, std::uint32_t round, std::size_t s) {
        return {seed, round, static_cast<std::uint32_t>(2 * s + 1)};
    }
    static random::StreamKey other_key(std::uint64_t seed, std::uint32_t round, std::size_t s) {
        return {seed, round, static_cast<std::uint32_t>(2 * s + 2)};
    }
    /// The positive group's stream of a sign-split stratum (its negative group uses critical_key).
    static random::StreamKey positive_key(std::uint64_t seed, std::uint32_t round, std::size_t s) {
        return {seed, round, static_cast<std::uint32_t>(0x40000000u + s)};
    }
    static random::StreamKey tail_count_key(std::uint64_t seed, std::uint32_t round, std::size_t s) {
        return {seed, round, static_cast<std::uint32_t>(0x80000000u + s)};
    }

private:
    // The support of K_c at an exact count: [max(0, count - others), min(count, critical)].
    std::uint64_t count_top() const noexcept { return std::min(*count_, critical_bits_); }
    std::uint64_t count_bottom() const noexcept {
        const std::uint64_t others = eligible_bits_ - critical_bits_;
        return *count_ > others ? *count_ - others : 0;
    }
    /// P(K_c = k + 1) / P(K_c = k) at an exact count.
    double exact_ratio(std::uint64_t k) const noexcept {
        const double c = static_cast<double>(critical_bits_), n = static_cast<double>(*count_), o = static_cast<double>(eligible_bits_ - critical_bits_);
        const double kd = static_cast<double>(k);
        return (c - kd) * (n - kd) / ((kd + 1) * (o - n + kd + 1));
    }
    /// P(K_c > k) at an exact count, summed upward until the terms past the mode stop counting.
    double exact_tail(std::uint64_t k) const {
        const std::uint64_t top = count_top();
        if (k >= top) return 0.0;
        double pmf = hypergeometric_pmf(eligible_bits_, critical_bits_, *count_, k + 1), sum = pmf;
        const double mode = (static_cast<double>(*count_) + 1) * (static_cast<double>(critical_bits_) + 1) / (static_cast<double>(eligible_bits_) + 2);
        for (std::uint64_t j = k + 1; j < top; ++j) {
            pmf *= exact_ratio(j);
            sum += pmf;
            if (static_cast<double>(j) > mode && pmf < 1e-18 * sum) break;
        }
        return std::min(sum, 1.0);
    }

    std::uint64_t critical_bits_ = 0, negative_bits_ = 0, eligible_bits_ = 0;
    std::optional<std::uint64_t> count_;
    double rate_ = 0;
    std::vector<Stratum> strata_;
};

}  // namespace safnet::fault
