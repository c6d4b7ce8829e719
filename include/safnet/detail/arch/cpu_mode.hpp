// safnet/detail/arch/cpu_mode.hpp — the CPU's floating-point mode and spin hint, where the
// platform exposes them (x86: MXCSR and PAUSE); no-ops elsewhere.
#pragma once

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#define SAFNET_HAS_MXCSR 1
#else
#define SAFNET_HAS_MXCSR 0
#endif

namespace safnet::detail {

/// Sets FTZ/DAZ (denormal results and inputs read as zero) for the current thread while
/// alive; restores the previous mode.
class FlushDenormals {
public:
#if SAFNET_HAS_MXCSR
    FlushDenormals() noexcept : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | ftz_daz); }
    ~FlushDenormals() { _mm_setcsr(saved_); }
    static void enable_for_this_thread() noexcept { _mm_setcsr(_mm_getcsr() | ftz_daz); }

private:
    static constexpr unsigned ftz_daz = 0x8040;  // flush-to-zero (bit 15), denormals-are-zero (bit 6)
    unsigned saved_;
#else
    FlushDenormals() noexcept {}
    static void enable_for_this_thread() noexcept {}
#endif
public:
    FlushDenormals(const FlushDenormals&) = delete;
    FlushDenormals& operator=(const FlushDenormals&) = delete;
};

/// The CPU's hint that the thread is busy-waiting.
inline void spin_pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

}  // namespace safnet::detail
