// safnet/fault/stats/design.hpp — which sampling design a campaign configuration runs: plain Monte
// Carlo or strata by critical-bit count (optionally split by sign), from the counts of the
// store alone, so the design of a campaign and of a synthetic coverage study are one function.
//
// plan_design(request) -> EstimatorDesign (design.why() says why auto chose what it chose).
// See estimator.hpp for what each design does with its rounds.
#pragma once

#include <safnet/error.hpp>
#include <safnet/fault/stats/estimator.hpp>
#include <safnet/fault/stats/strata.hpp>

#include <cstdint>
#include <string>

namespace safnet::fault {

struct DesignRequest {
    EstimateSpec estimate{};
    Estimator estimator = Estimator::automatic;
    double rate = 0;                         // per-bit fault rate (unused at an exact count)
    bool exact_count = false;                // --flips (and the BER curve's strata): `count` faults over `eligible_bits`
    std::uint64_t count = 0;
    std::uint64_t eligible_bits = 0;         // every eligible bit (needed at an exact count)
    std::uint64_t critical_bits = 0;         // eligible bits in the critical class
    std::uint64_t negative_critical_bits = 0;  // of those, the bits of words holding a negative value
    bool sign_strata = true;
    std::size_t max_strata = 12;
    double tail_mass = 1e-3;
};

/// The design of the header comment. Rules, in order (auto; `stratified` throws where auto
/// would fall back, and only merges strata):
///  1. plain for an empty critical class, BER 0 or an exact count of 0 (K_c is binomial at a
///     rate, hypergeometric at an exact count: CriticalStrata::plan / plan_exact);
///  2. plain when the count strata cannot hold all but tail_mass of K_c's law within max_strata;
///  3. plain when the budget cannot pilot two strata with min_stratum_rounds rounds each;
///  4. the strata above K_max merged into the tail until each is piloted with min_stratum_rounds;
///  5. the sign split where the budget pilots every sub-stratum with sign_split_pilot rounds.
inline EstimatorDesign plan_design(const DesignRequest& q) {
    const EstimateSpec& es = q.estimate;
    const bool forced = q.estimator == Estimator::stratified;
    if (q.estimator == Estimator::plain) return EstimatorDesign(es);
    if (q.critical_bits == 0) {
        if (forced) throw Error("stratified estimator: the critical class has no eligible bit");
        return EstimatorDesign(es).because("the critical class has no eligible bit");
    }
    if (q.exact_count ? q.count == 0 : !(q.rate > 0)) {  // nothing to stratify: every round is clean
        const std::string why = q.exact_count ? "0 flips have no faults to stratify" : "BER 0 has no faults to stratify";
        if (forced) throw Error("stratified estimator: " + why);
        return EstimatorDesign(es).because(why);
    }
    const auto plan = [&](std::size_t max_strata) {
        return q.exact_count ? CriticalStrata::plan_exact(q.critical_bits, q.eligible_bits, q.count, q.tail_mass, max_strata)
                             : CriticalStrata::plan(q.critical_bits, q.rate, q.tail_mass, max_strata);
    };
    CriticalStrata strata = plan(q.max_strata);
    const bool covered = !strata.strata().back().is_tail() || strata.strata().back().weight <= q.tail_mass;
    if (!covered && !forced)
        return EstimatorDesign(es).because(std::to_string(q.max_strata) + " strata leave " + std::to_string(strata.strata().back().weight) +
                                           " of the critical count's law in the tail (more than " + std::to_string(q.tail_mass) + ")");
    const std::size_t affordable = es.rounds / (2 * min_stratum_rounds);
    if (affordable < 2) {
        const std::string need = std::to_string(4 * min_stratum_rounds);
        if (forced) throw Error("stratified estimator: needs at least " + need + " rounds (2 strata of " + std::to_string(min_stratum_rounds) +
                                "-round pilots and as many allocated), got " + std::to_string(es.rounds));
        return EstimatorDesign(es).because(std::to_string(es.rounds) + " rounds cannot pilot 2 strata with " + std::to_string(min_stratum_rounds) +
                                           " rounds each (stratified needs " + need + ")");
    }
    std::string why;
    if (strata.size() > affordable) {
        strata = plan(affordable);
        why = "strata merged to " + std::to_string(affordable) + " (" + std::to_string(es.rounds) + " rounds pilot at most that many with " +
              std::to_string(min_stratum_rounds) + " rounds each)";
    }
    if (q.sign_strata)  // as many sign-split strata as the strata limit and the budget's pilot allow
        strata.split_by_sign(q.negative_critical_bits, sign_split_limit(q.max_strata, es.rounds, strata.size()));
    return EstimatorDesign(es, std::move(strata)).because(why);
}

}  // namespace safnet::fault
