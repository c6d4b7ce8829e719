// safnet/fault/inject/bitflip.hpp — the injector: applies a FaultModel to a span of storage words.
//
// inject(words, bits_per_value, model, key, changed) damages `words` in place and fills
// `changed` (cleared first, capacity reused) with every bit it changed, in ascending
// (word, bit) order; restore(words, changed) undoes it in O(changed).
//
// Distribution: each eligible bit is selected independently with probability `rate`, exactly
// (up to the 53-bit resolution of the uniforms), or `count` distinct bits uniformly (Floyd's
// algorithm). Two selection methods, chosen by rate unless forced:
//  * geometric (rate < 1/32): the gaps between selected bits are Geometric(rate), drawn by
//    inversion; cost O(selected bits), independent of the span's size.
//  * Bernoulli mask (rate >= 1/32): 32-bit masks whose bits are Bernoulli(rate), built by
//    comparing random bits with rate's binary expansion one level at a time (a bit is
//    decided at the first level where its random bit differs from rate's), over 1024-bit
//    groups with xsimd-vectorized Philox. ~11 Philox draws per group whatever the rate.
// Randomness comes from the Philox stream of `key` (seed, round, tensor) only, so the result
// is a pure function of (words, model, key): reproducible on any thread, in any order.
// Words wider than 32 bits are not supported (no codec needs them).
#pragma once

#include <safnet/codec/codec.hpp>
#include <safnet/fault/inject/fault_model.hpp>
#include <safnet/random/philox.hpp>

#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <unordered_set>
#include <vector>

namespace safnet::fault {

enum class SelectMethod { automatic, geometric, bernoulli_mask };

/// Rates at or above this use the Bernoulli-mask method: measured on Zen 4 (benchmarks/
/// fault_bench.cpp, BM_SelectMethod) the geometric method is faster up to 1/64 and the mask
/// method from about 1/32 on (2x at 1/16).
inline constexpr double bernoulli_mask_threshold = 1.0 / 32.0;

namespace detail {

/// Eligible bit positions of one word, ascending.
struct EligibleBits {
    std::uint64_t mask = 0;
    int count = 0;
    std::uint8_t position[32] = {};
};

inline EligibleBits eligible_bits(int bits_per_value, std::uint64_t model_mask) {
    EligibleBits e;
    const std::uint64_t storage = bits_per_value >= 64 ? ~std::uint64_t{0}
                                                       : (std::uint64_t{1} << bits_per_value) - 1;
    e.mask = storage & model_mask;
    for (int b = 0; b < bits_per_value; ++b)
        if (e.mask >> b & 1u) e.position[e.count++] = static_cast<std::uint8_t>(b);
    return e;
}

/// Calls visit(word, bit) for each selected eligible bit, ascending: geometric gaps.
template <class Visit>
void select_geometric(std::uint64_t n_words, const EligibleBits& e, double p, random::StreamKey key, Visit&& visit) {
    const std::uint64_t n = n_words * static_cast<std::uint64_t>(e.count);
    if (n == 0 || p <= 0.0) return;
    random::PhiloxStream rng(key);
    if (p >= 1.0) {
        for (std::uint64_t i = 0; i < n; ++i) visit(i / e.count, e.position[i % e.count]);
        return;
    }
    const double log_q = std::log1p(-p);
    std::uint64_t pos = 0;
    for (;;) {
        // P(gap >= g) = (1-p)^g: inversion of the geometric law.
        const double gap = std::floor(std::log(rng.next_open0()) / log_q);
        if (!(gap < static_cast<double>(n - pos))) return;
        pos += static_cast<std::uint64_t>(gap);
        visit(pos / e.count, e.position[pos % e.count]);
        if (++pos >= n) return;
    }
}

/// Calls visit(word, bit) for `count` distinct eligible bits, uniformly chosen, ascending.
template <class Visit>
void select_exact(std::uint64_t n_words, const EligibleBits& e, std::uint64_t count, random::StreamKey key, Visit&& visit) {
    const std::uint64_t n = n_words * static_cast<std::uint64_t>(e.count);
    if (count > n)
        throw Error("exact fault count " + std::to_string(count) + " exceeds the " + std::to_string(n) +
                    " eligible bits");
    random::PhiloxStream rng(key);
    std::vector<std::uint64_t> chosen;
    chosen.reserve(count);
    std::unordered_set<std::uint64_t> seen(count * 2 + 1);
    for (std::uint64_t j = n - count; j < n; ++j) {  // Floyd's algorithm: count draws, no retries
        const std::uint64_t t = rng.next_below(j + 1);
        const std::uint64_t pick = seen.insert(t).second ? t : j;
        if (pick == j) seen.insert(j);
        chosen.push_back(pick);
    }
    std::sort(chosen.begin(), chosen.end());
    for (std::uint64_t i : chosen) visit(i / e.count, e.position[i % e.count]);
}

/// Calls visit_mask(word, mask) for each word with selected bits, ascending: Bernoulli masks.
/// The storage is read as a stream of 32-bit chunks (4 uint8 words, 2 uint16, 1 uint32);
/// chunk r of 1024-bit group G takes word r/8 of Philox block ((G*64 + level)*8 + r%8).
template <class Word, class VisitMask>
void select_bernoulli_mask(std::uint64_t n_words, const EligibleBits& e, double p, random::StreamKey key,
                           VisitMask&& visit_mask) {
    static_assert(sizeof(Word) <= 4);
    if (n_words == 0 || e.count == 0 || p <= 0.0) return;
    constexpr int word_bits = std::numeric_limits<Word>::digits;
    constexpr std::uint64_t words_per_chunk = 32 / word_bits;
    const std::uint64_t n_chunks = (n_words + words_per_chunk - 1) / words_per_chunk;
    const std::uint64_t n_groups = (n_chunks + 31) / 32;
    // rate as a 64-bit binary fraction; p == 1 selects everything.
    const bool all = p >= 1.0;
    const auto p_bits = all ? 0 : static_cast<std::uint64_t>(std::ldexp(p, 64));

    using B = xsimd::batch<std::uint64_t>;
    constexpr std::size_t L = B::size;
    static_assert(8 % L == 0, "lane count must divide 8");
    alignas(64) std::uint64_t undecided[32], selected[32], lane_offset[8];
    for (std::size_t i = 0; i < 8; ++i) lane_offset[i] = i;
    const random::PhiloxKey pkey = random::philox_key(key);
    const B lo32(0xffffffffull);

    for (std::uint64_t g = 0; g < n_groups; ++g) {
        if (all) {
            std::fill(std::begin(selected), std::end(selected), 0xffffffffull);
        } else {
            std::fill(std::begin(undecided), std::end(undecided), 0xffffffffull);
            std::fill(std::begin(selected), std::end(selected), 0ull);
            for (int level = 0; level < 64; ++level) {
                const bool p_bit = (p_bits >> (63 - level)) & 1u;
                const std::uint64_t base = (g * 64 + static_cast<std::uint64_t>(level)) * 8;
                B any(0ull);
                for (std::size_t q = 0; q < 8; q += L) {
                    const B block = B(base + q) + B::load_aligned(lane_offset);
                    B c0 = block & lo32, c1 = block >> 32, c2(std::uint64_t{key.tensor}),
                      c3(std::uint64_t{key.round});
                    random::detail::philox4x32_10_lanes(c0, c1, c2, c3, pkey);
                    const B out[4] = {c0, c1, c2, c3};
                    for (std::size_t j = 0; j < 4; ++j) {
                        const std::size_t idx = j * 8 + q;
                        B u = B::load_aligned(undecided + idx);
                        const B r = out[j];
                        if (p_bit) {  // random bit 0 < rate bit 1: U < rate, selected
                            (B::load_aligned(selected + idx) | (u & ~r & lo32)).store_aligned(selected + idx);
                            u = u & r;
                        } else {  // random bit 1 > rate bit 0: U > rate, not selected
                            u = u & ~r & lo32;
                        }
                        u.store_aligned(undecided + idx);
                        any = any | u;
                    }
                }
                if (!xsimd::any(any != B(0ull))) break;  // every bit of the group is decided
            }
        }
        for (std::uint64_t r = 0; r < 32; ++r) {
            const std::uint64_t chunk = g * 32 + r;
            if (chunk >= n_chunks || selected[r] == 0) continue;
            for (std::uint64_t k = 0; k < words_per_chunk; ++k) {
                const std::uint64_t w = chunk * words_per_chunk + k;
                const std::uint64_t m = (selected[r] >> (k * word_bits)) & e.mask;
                if (w < n_words && m) visit_mask(w, static_cast<Word>(m));
            }
        }
    }
}

template <class Word>
inline void require_bits_per_value(int bits_per_value) {
    if (bits_per_value < 1 || bits_per_value > std::numeric_limits<Word>::digits)
        throw Error("injector: bits_per_value " + std::to_string(bits_per_value) + " does not fit a " +
                    std::to_string(std::numeric_limits<Word>::digits) + "-bit word");
}

}  // namespace detail

/// Applies `model` to `words` (the low `bits_per_value` bits of each are storage bits).
/// `changed` receives every bit whose value changed, ascending.
template <std::unsigned_integral Word>
void inject(std::span<Word> words, int bits_per_value, const FaultModel& model, random::StreamKey key,
            std::vector<BitFault>& changed, SelectMethod method = SelectMethod::automatic) {
    static_assert(sizeof(Word) <= 4, "storage words wider than 32 bits are not supported");
    detail::require_bits_per_value<Word>(bits_per_value);
    model.validate();
    changed.clear();
    const detail::EligibleBits e = detail::eligible_bits(bits_per_value, model.bit_mask);

    auto act = [&](std::uint64_t w, Word selected) {
        Word hit = selected;
        if (model.kind == FaultKind::stuck0) hit &= words[w];
        if (model.kind == FaultKind::stuck1) hit &= static_cast<Word>(~words[w]);
        words[w] ^= hit;
        while (hit) {
            const int b = std::countr_zero(hit);
            changed.push_back({w, static_cast<std::uint32_t>(b)});
            hit &= static_cast<Word>(hit - 1);
        }
    };
    auto act_bit = [&](std::uint64_t w, int bit) { act(w, static_cast<Word>(Word{1} << bit)); };

    if (model.count) {
        detail::select_exact(words.size(), e, *model.count, key, act_bit);
        return;
    }
    if (method == SelectMethod::automatic)
        method = model.rate >= bernoulli_mask_threshold ? SelectMethod::bernoulli_mask : SelectMethod::geometric;
    if (method == SelectMethod::geometric)
        detail::select_geometric(words.size(), e, model.rate, key, act_bit);
    else
        detail::select_bernoulli_mask<Word>(words.size(), e, model.rate, key, act);
}

namespace detail {

inline bool fault_order(const BitFault& a, const BitFault& b) noexcept { return a.word != b.word ? a.word < b.word : a.bit < b.bit; }

/// Adds the other (non-critical) eligible bits to the sorted critical selection in `changed`
/// (each Bernoulli(rate), or at an exact count the count's remaining faults, distinct and
/// uniform), then acts on them all, keeping those whose value changed.
template <class Word>
void finish_conditional(std::span<Word> words, const EligibleBits& other, const FaultModel& model, random::StreamKey other_key,
                        std::vector<BitFault>& changed) {
    const auto middle = static_cast<std::ptrdiff_t>(changed.size());
    const auto add = [&](std::uint64_t w, int bit) { changed.push_back({w, static_cast<std::uint32_t>(bit)}); };
    if (model.count) {
        const std::uint64_t critical = changed.size(), others = static_cast<std::uint64_t>(other.count) * words.size();
        if (critical > *model.count || *model.count - critical > others)
            throw Error("inject_conditional: " + std::to_string(critical) + " critical faults of an exact count of " + std::to_string(*model.count) +
                        " leave more than the " + std::to_string(others) + " other eligible bits");
        select_exact(words.size(), other, *model.count - critical, other_key, add);
    } else {
        select_geometric(words.size(), other, model.rate, other_key, add);
    }
    std::inplace_merge(changed.begin(), changed.begin() + middle, changed.end(), fault_order);
    std::size_t kept = 0;  // stuck-at leaves some selected bits as they are
    for (const BitFault& f : changed) {
        const Word bit = static_cast<Word>(Word{1} << f.bit);
        const bool at_stuck_value = (model.kind == FaultKind::stuck0 && !(words[f.word] & bit)) ||
                                    (model.kind == FaultKind::stuck1 && (words[f.word] & bit));
        if (at_stuck_value) continue;
        words[f.word] ^= bit;
        changed[kept++] = f;
    }
    changed.resize(kept);
}

template <class Word>
void require_conditional(int bits_per_value, const FaultModel& model) {
    static_assert(sizeof(Word) <= 4, "storage words wider than 32 bits are not supported");
    require_bits_per_value<Word>(bits_per_value);
    model.validate();
}

}  // namespace detail

/// The exact conditional law of `model` given that exactly `critical_count` of the eligible
/// bits inside `critical_mask` are selected: those are chosen uniformly among the eligible
/// critical bits (distinct, from stream `critical_key`), and every other eligible bit
/// independently with model.rate (geometric gaps, stream `other_key`), or, for an exact count
/// n, n - critical_count distinct other bits uniformly. Under independent per-bit faults (a
/// uniform n-subset) this is the law of a round inside the stratum K_c = critical_count, and
/// the two parts are independent. `changed` is filled as by inject(), ascending.
template <std::unsigned_integral Word>
void inject_conditional(std::span<Word> words, int bits_per_value, const FaultModel& model, std::uint64_t critical_mask,
                        std::uint64_t critical_count, random::StreamKey critical_key, random::StreamKey other_key, std::vector<BitFault>& changed) {
    detail::require_conditional<Word>(bits_per_value, model);
    changed.clear();
    const detail::EligibleBits critical = detail::eligible_bits(bits_per_value, model.bit_mask & critical_mask);
    detail::select_exact(words.size(), critical, critical_count, critical_key,
                         [&](std::uint64_t w, int bit) { changed.push_back({w, static_cast<std::uint32_t>(bit)}); });
    detail::finish_conditional(words, detail::eligible_bits(bits_per_value, model.bit_mask & ~critical_mask), model, other_key, changed);
}

/// One group of the critical class for the split form of inject_conditional: the critical bits
/// of the words listed (ascending, distinct indices), of which exactly `count` are selected,
/// uniformly, from stream `key`.
struct CriticalGroup {
    std::span<const std::uint64_t> words;
    std::uint64_t count = 0;
    random::StreamKey key{};
};

/// As above with the critical class partitioned into `groups` (disjoint word sets covering
/// every word that holds critical bits): given K_g = count of each group, the law of a round
/// under independent per-bit faults. The groups' selections are independent of each other
/// and of the other bits.
template <std::unsigned_integral Word>
void inject_conditional(std::span<Word> words, int bits_per_value, const FaultModel& model, std::uint64_t critical_mask,
                        std::span<const CriticalGroup> groups, random::StreamKey other_key, std::vector<BitFault>& changed) {
    detail::require_conditional<Word>(bits_per_value, model);
    changed.clear();
    const detail::EligibleBits critical = detail::eligible_bits(bits_per_value, model.bit_mask & critical_mask);
    for (const CriticalGroup& g : groups)
        detail::select_exact(g.words.size(), critical, g.count, g.key, [&](std::uint64_t i, int bit) {
            if (g.words[i] >= words.size()) throw Error("inject_conditional: a critical group lists a word beyond the store");
            changed.push_back({g.words[i], static_cast<std::uint32_t>(bit)});
        });
    std::sort(changed.begin(), changed.end(), detail::fault_order);
    detail::finish_conditional(words, detail::eligible_bits(bits_per_value, model.bit_mask & ~critical_mask), model, other_key, changed);
}

/// Convenience: returns the changed bits.
template <std::unsigned_integral Word>
std::vector<BitFault> inject(std::span<Word> words, int bits_per_value, const FaultModel& model, random::StreamKey key,
                             SelectMethod method = SelectMethod::automatic) {
    std::vector<BitFault> changed;
    inject(words, bits_per_value, model, key, changed, method);
    return changed;
}

/// Undoes inject(): flips back exactly the bits it reported.
template <std::unsigned_integral Word>
void restore(std::span<Word> words, std::span<const BitFault> changed) noexcept {
    for (const BitFault& f : changed) words[f.word] ^= static_cast<Word>(Word{1} << f.bit);
}

}  // namespace safnet::fault
