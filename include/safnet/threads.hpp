// safnet/threads.hpp — how many threads safnet computes on.
//
// One process-wide pool runs every layer, training step and campaign batch. Work is split into
// static, contiguous chunks per thread, and everything safnet computes per item (an image's
// forward pass, a campaign round) is the same for any thread count; what is summed across
// images (a training step's weight gradient) is reproducible for a given count.
//
// Contract:
//  - set_threads(n) requires n >= 1 and no pass running (call it between passes);
//  - ensures threads() == n.
#pragma once

#include <safnet/detail/thread_pool.hpp>
#include <safnet/error.hpp>

#include <cstddef>

namespace safnet {

/// Resizes safnet's pool to n threads (the calling thread counts as one).
inline void set_threads(std::size_t n) {
    if (n == 0) throw Error("set_threads: the thread count must be at least 1");
    thread_pool().resize(n);
}

/// The pool's current thread count.
inline std::size_t threads() { return thread_pool().size(); }

/// The count a new process starts with: SAFNET_THREADS if set to a positive number, else the
/// hardware's core count.
inline std::size_t default_threads() { return detail::default_thread_count(); }

}  // namespace safnet
