// safnet/fault/run/mpi.hpp — fault campaigns over MPI processes (include only with MPI; the rest of
// safnet does not need it).
//
//   MPI_Init(&argc, &argv);
//   fault::MpiRunner runner(MPI_COMM_WORLD);
//   fault::run_sweep(configs, models, state, resume, {}, {}, std::ref(runner));  // every rank
//   state.set_writer(runner.rank() == 0);                                        // before run_sweep
//
// Every rank plans the same sweep. For each batch of work items (estimator.hpp) rank r runs the
// items j with j mod size = r, then MPI_Allgatherv gives every rank every result in item order,
// so every rank plans the same next batch (adaptive stopping and Neyman allocation included) and
// ends with the same results as one process: a round is a pure function of its work item.
// Static, round-robin balance: a batch's ranks differ by at most one item; busy_seconds() and
// wait_seconds() (time in the collectives, idle included) measure the imbalance.
// Errors: a rank whose item throws reports "rank r, work item (stratum s, round k): what" as a
// safnet::Error; the other ranks learn of it in the same collective and throw "rank q: stopped,
// rank r failed", so no rank hangs and the caller writes no output.
// Wire format per round: 9 unsigned 64-bit integers (round, stratum, critical, flips, images,
// top1, top5, NaN images, Inf images), 72 bytes.
#pragma once

#include <safnet/error.hpp>
#include <safnet/fault/stats/estimator.hpp>

#include <mpi.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace safnet::fault {

class MpiRunner {
public:
    static constexpr int words_per_round = 9;

    explicit MpiRunner(MPI_Comm comm) : comm_(comm) {
        MPI_Comm_rank(comm_, &rank_);
        MPI_Comm_size(comm_, &size_);
    }

    int rank() const noexcept { return rank_; }
    int size() const noexcept { return size_; }
    double busy_seconds() const noexcept { return busy_; }  // running this rank's work items
    double wait_seconds() const noexcept { return wait_; }  // in the collectives: exchange and idle
    std::uint64_t items() const noexcept { return items_; }  // work items this rank ran

    /// The items of the batch that rank r runs: j = r, r + size, ...
    static std::size_t share(std::size_t items, int rank, int size) {
        const auto r = static_cast<std::size_t>(rank), n = static_cast<std::size_t>(size);
        return items > r ? (items - r + n - 1) / n : 0;
    }

    void operator()(std::span<const WorkItem> items, const std::function<RoundResult(const WorkItem&)>& sample, std::vector<RoundResult>& out) {
        const auto t0 = std::chrono::steady_clock::now();
        const std::size_t mine = share(items.size(), rank_, size_);
        send_.assign(mine * words_per_round, 0);
        std::string error;
        for (std::size_t m = 0; m < mine && error.empty(); ++m) {
            const WorkItem& item = items[m * static_cast<std::size_t>(size_) + static_cast<std::size_t>(rank_)];
            try {
                pack(sample(item), send_.data() + m * words_per_round);
                ++items_;
            } catch (const std::exception& e) {
                error = "rank " + std::to_string(rank_) + ", work item (stratum " + std::to_string(item.stratum) + ", round " +
                        std::to_string(item.round) + "): " + e.what();
            }
        }
        const auto t1 = std::chrono::steady_clock::now();
        int failed = error.empty() ? size_ : rank_, first_failed = size_;
        MPI_Allreduce(&failed, &first_failed, 1, MPI_INT, MPI_MIN, comm_);
        if (first_failed < size_) {
            wait_ += seconds(t1);
            busy_ += std::chrono::duration<double>(t1 - t0).count();
            throw Error(error.empty() ? "rank " + std::to_string(rank_) + ": stopped, rank " + std::to_string(first_failed) + " failed" : error);
        }
        counts_.resize(static_cast<std::size_t>(size_));
        displs_.resize(static_cast<std::size_t>(size_));
        int at = 0;
        for (int r = 0; r < size_; ++r) {
            counts_[static_cast<std::size_t>(r)] = static_cast<int>(share(items.size(), r, size_) * words_per_round);
            displs_[static_cast<std::size_t>(r)] = at;
            at += counts_[static_cast<std::size_t>(r)];
        }
        recv_.resize(items.size() * words_per_round);
        MPI_Allgatherv(send_.data(), static_cast<int>(send_.size()), MPI_UINT64_T, recv_.data(), counts_.data(), displs_.data(), MPI_UINT64_T, comm_);
        out.resize(items.size());
        for (std::size_t j = 0; j < items.size(); ++j) {
            const auto r = static_cast<std::size_t>(j % static_cast<std::size_t>(size_));
            const std::size_t m = j / static_cast<std::size_t>(size_);
            out[j] = unpack(recv_.data() + static_cast<std::size_t>(displs_[r]) + m * words_per_round);
        }
        busy_ += std::chrono::duration<double>(t1 - t0).count();
        wait_ += seconds(t1);
    }

private:
    static double seconds(std::chrono::steady_clock::time_point since) {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
    }

    static void pack(const RoundResult& r, std::uint64_t* w) {
        const std::uint64_t v[words_per_round] = {r.round, r.stratum, r.critical, r.flips, r.eval.images, r.eval.top1, r.eval.top5,
                                                  r.eval.nan_images, r.eval.inf_images};
        std::copy(v, v + words_per_round, w);
    }
    static RoundResult unpack(const std::uint64_t* w) {
        RoundResult r;
        r.round = static_cast<std::size_t>(w[0]);
        r.stratum = static_cast<std::size_t>(w[1]);
        r.critical = w[2];
        r.flips = w[3];
        r.eval = {static_cast<std::size_t>(w[4]), static_cast<std::size_t>(w[5]), static_cast<std::size_t>(w[6]), static_cast<std::size_t>(w[7]),
                  static_cast<std::size_t>(w[8])};
        return r;
    }

    MPI_Comm comm_;
    int rank_ = 0, size_ = 1;
    double busy_ = 0, wait_ = 0;
    std::uint64_t items_ = 0;
    std::vector<std::uint64_t> send_, recv_;
    std::vector<int> counts_, displs_;
};

}  // namespace safnet::fault
