// safnet/detail/arch/avx.hpp — the AVX (+ F16C) overloads of safnet's ISA-specific kernels
// (see arch/generic.hpp for the scheme). Empty unless the compiler targets AVX and F16C.
#pragma once

#include <safnet/detail/arch/generic.hpp>

#include <xsimd/xsimd.hpp>

#if XSIMD_WITH_AVX && defined(__F16C__)
#include <immintrin.h>

namespace safnet::detail {

inline std::size_t encode_half_prefix(xsimd::avx, const float* in, std::size_t n, std::uint16_t* out) noexcept {
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), h);
    }
    return i;
}
inline std::size_t decode_half_prefix(xsimd::avx, const std::uint16_t* in, std::size_t n, float* out) noexcept {
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i))));
    return i;
}

}  // namespace safnet::detail
#endif
