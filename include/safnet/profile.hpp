// safnet/profile.hpp — opt-in time breakdown by layer kind (for the benchmarks).
//
// profile::enable(true) starts accumulating wall time per category; profile::report()
// returns the totals. When disabled (the default) a probe costs one relaxed atomic load.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string_view>

namespace safnet::profile {

enum class Kind : int { conv_forward, conv_backward, bn_forward, bn_backward, linear, elementwise, pool, saf, loss, optimizer, count };

inline constexpr std::array<std::string_view, static_cast<int>(Kind::count)> kind_names{
    "conv forward", "conv backward", "bn forward", "bn backward", "linear", "relu/add", "pooling", "saf refresh", "loss", "optimizer"};

namespace detail {
inline std::atomic<bool>& enabled_flag() {
    static std::atomic<bool> on{false};
    return on;
}
inline std::array<std::atomic<std::int64_t>, static_cast<int>(Kind::count)>& totals() {
    static std::array<std::atomic<std::int64_t>, static_cast<int>(Kind::count)> t{};
    return t;
}
}  // namespace detail

inline std::atomic<std::int64_t>& conv_flop_counter() {
    static std::atomic<std::int64_t> f{0};
    return f;
}
inline bool enabled() { return detail::enabled_flag().load(std::memory_order_relaxed); }
/// Useful convolution FLOPs (2 per multiply-add) counted while enabled.
inline void add_conv_flops(std::int64_t f) {
    if (enabled()) conv_flop_counter().fetch_add(f, std::memory_order_relaxed);
}
inline double conv_flops() { return static_cast<double>(conv_flop_counter().load()); }

inline void enable(bool on) { detail::enabled_flag().store(on, std::memory_order_relaxed); }
inline void reset() {
    for (auto& t : detail::totals()) t.store(0);
    conv_flop_counter().store(0);
}
/// Seconds accumulated in `k` since the last reset.
inline double seconds(Kind k) { return static_cast<double>(detail::totals()[static_cast<int>(k)].load()) * 1e-9; }

class Scope {
public:
    explicit Scope(Kind k) noexcept : k_(k), on_(detail::enabled_flag().load(std::memory_order_relaxed)) {
        if (on_) t0_ = std::chrono::steady_clock::now();
    }
    ~Scope() {
        if (on_)
            detail::totals()[static_cast<int>(k_)].fetch_add(
                std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0_).count());
    }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

private:
    Kind k_;
    bool on_;
    std::chrono::steady_clock::time_point t0_;
};

}  // namespace safnet::profile
