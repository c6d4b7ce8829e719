// fault::MpiRunner under mpirun (any number of ranks): the rounds of an adaptive stratified
// design come out identical to a one-process run, and a work item that throws on one rank
// stops every rank with a message naming the rank and the item. A plain main (not Catch2) so
// that every rank runs every check; the exit code is non-zero on any rank if any check failed.
#include <safnet/fault/run/mpi.hpp>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

using namespace safnet;

namespace {

int failures = 0;

void check(bool ok, const std::string& what, int rank) {
    if (!ok) {
        std::fprintf(stderr, "rank %d: FAILED: %s\n", rank, what.c_str());
        ++failures;
    }
}

// A deterministic "round": its accuracy depends on the stratum and on a hash of the round, so
// adaptive allocation and stopping react to the results as in a campaign.
fault::RoundResult synthetic_round(const fault::WorkItem& it) {
    std::uint64_t h = (static_cast<std::uint64_t>(it.stratum) << 32 | it.round) * 0x9E3779B97F4A7C15ull;
    h ^= h >> 29;
    const std::size_t top1 = it.stratum == 0 ? 8800 - h % 50 : it.stratum == 1 ? (h % 3 ? 1200 : 8000) : 1000 + h % 500;
    fault::RoundResult r;
    r.round = it.round;
    r.stratum = it.stratum;
    r.critical = it.stratum;
    r.flips = it.stratum + h % 7;
    r.eval = {10000, top1, std::min<std::size_t>(10000, top1 + 500), 0, 0};
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    MPI_Init(&argc, &argv);
    fault::MpiRunner runner(MPI_COMM_WORLD);
    const int rank = runner.rank();
    const fault::EstimateSpec spec{.rounds = 5000, .stopping = {.ci_halfwidth = 0.5, .min_rounds = 30}};
    const fault::EstimatorDesign design(spec, fault::CriticalStrata::plan(400, 0.001, 1e-3, 12));

    std::vector<fault::RoundResult> alone, shared;
    fault::run_design(design, synthetic_round, alone);
    fault::run_design(design, synthetic_round, shared, {}, std::ref(runner));
    check(alone.size() > 60, "the design ran several batches (" + std::to_string(alone.size()) + " rounds)", rank);
    check(alone.size() == shared.size(), "same number of rounds", rank);
    bool same = alone.size() == shared.size();
    for (std::size_t i = 0; same && i < alone.size(); ++i)
        same = alone[i].round == shared[i].round && alone[i].stratum == shared[i].stratum && alone[i].flips == shared[i].flips &&
               alone[i].eval.top1 == shared[i].eval.top1 && alone[i].eval.top5 == shared[i].eval.top5;
    check(same, "every round identical and in the same order as one process", rank);
    const auto a = design.finish(alone, 88, 10), b = design.finish(shared, 88, 10);
    check(a.top1.mean == b.top1.mean && a.top1.ci_low == b.top1.ci_low && a.rounds == b.rounds, "identical estimates", rank);
    std::uint64_t items = runner.items(), total = 0;
    MPI_Allreduce(&items, &total, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
    check(total == shared.size(), "the ranks ran every item exactly once", rank);
    check(runner.busy_seconds() >= 0 && runner.wait_seconds() >= 0, "timing is non-negative", rank);

    // Round 3 of stratum 1 throws, on whichever rank runs it.
    const auto faulty = [](const fault::WorkItem& it) {
        if (it.stratum == 1 && it.round == 3) throw Error("synthetic failure");
        return synthetic_round(it);
    };
    std::vector<fault::RoundResult> broken;
    std::string message;
    try {
        fault::run_design(design, faulty, broken, {}, std::ref(runner));
    } catch (const Error& e) {
        message = e.what();
    }
    check(!message.empty(), "every rank stops with an error", rank);
    const bool owner = message.find("work item (stratum 1, round 3): synthetic failure") != std::string::npos;
    const bool told = message.find("stopped, rank ") != std::string::npos && message.find(" failed") != std::string::npos;
    check(owner || told, "the message names the failing rank and item: '" + message + "'", rank);
    int owners = owner ? 1 : 0, all_owners = 0;
    MPI_Allreduce(&owners, &all_owners, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    check(all_owners == 1, "exactly one rank reports the item itself", rank);
    if (owner) check(message.rfind("rank " + std::to_string(rank) + ", ", 0) == 0, "the owner names itself", rank);

    int all_failures = 0;
    MPI_Allreduce(&failures, &all_failures, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0) std::printf("%s: %d ranks, %zu rounds\n", all_failures ? "FAILED" : "mpi runner checks passed", runner.size(), shared.size());
    MPI_Finalize();
    return all_failures ? 1 : 0;
}
