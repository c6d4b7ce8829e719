// safnet/detail/arch/avx512.hpp — the AVX-512 overloads of safnet's ISA-specific kernels
// (see arch/generic.hpp for the scheme). Empty unless the compiler targets AVX-512F.
#pragma once

#include <safnet/detail/arch/generic.hpp>

#include <xsimd/xsimd.hpp>

#if XSIMD_WITH_AVX512F
#include <immintrin.h>

#include <type_traits>

namespace safnet::detail {

// GCC 12's AVX-512 intrinsics pass a self-initialized _mm512_undefined_ps() as the masked-off
// source, which -W(maybe-)uninitialized reports once inlined here (a false positive: the mask is all
// ones, so that source is never read).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
// rows[i] (16 floats each) -> out[j][i] = rows[i][j], in registers: 32-bit, 64-bit and two
// 128-bit-lane interleaves (64 shuffles for 256 elements, against 256 scalar loads and stores).
inline void transpose_16x16(__m512 r[16]) {
    __m512 t[16], u[16], v[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4)  // u[i + k]: column 4 * lane + k of rows i .. i + 3
        for (int k = 0; k < 2; ++k) {
            const __m512d a = _mm512_castps_pd(t[i + k]), b = _mm512_castps_pd(t[i + k + 2]);
            u[i + 2 * k] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
            u[i + 2 * k + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
        }
    for (int i = 0; i < 4; ++i)
        for (int half = 0; half < 16; half += 8) {  // lanes 0, 2 and 1, 3 of rows (half .. half + 3), (half + 4 ..)
            v[half + i] = _mm512_shuffle_f32x4(u[half + i], u[half + 4 + i], 0x88);
            v[half + 4 + i] = _mm512_shuffle_f32x4(u[half + i], u[half + 4 + i], 0xdd);
        }
    for (int i = 0; i < 4; ++i) {
        r[i] = _mm512_shuffle_f32x4(v[i], v[8 + i], 0x88);
        r[8 + i] = _mm512_shuffle_f32x4(v[i], v[8 + i], 0xdd);
        r[4 + i] = _mm512_shuffle_f32x4(v[4 + i], v[12 + i], 0x88);
        r[12 + i] = _mm512_shuffle_f32x4(v[4 + i], v[12 + i], 0xdd);
    }
}
#pragma GCC diagnostic pop

inline std::size_t transpose_blocks_to_pixel_major(xsimd::avx512f, const float* dy, std::size_t channels, std::size_t pixels,
                                                   std::size_t o_padded, float* dyt) noexcept {
    if (channels % 16 != 0) return 0;
    std::size_t p0 = 0;
    for (; p0 + 16 <= pixels; p0 += 16)
        for (std::size_t o0 = 0; o0 < channels; o0 += 16) {
            __m512 r[16];
            for (std::size_t i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(dy + (o0 + i) * pixels + p0);
            transpose_16x16(r);
            for (std::size_t j = 0; j < 16; ++j) _mm512_storeu_ps(dyt + (p0 + j) * o_padded + o0, r[j]);
        }
    return p0;
}

// Masked loads are cheap on the CPUs this targets (masked stores are not).
template <class T>
constexpr bool loads_short_rows(xsimd::avx512f) noexcept {
    return std::is_same_v<T, float>;
}
template <class A>
xsimd::batch<float, A> load_short_row(xsimd::avx512f, const float* row, std::size_t n) noexcept {
    return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n) - 1), row);
}

inline std::size_t encode_half_prefix(xsimd::avx512f, const float* in, std::size_t n, std::uint16_t* out) noexcept {
    std::size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256i h = _mm512_cvtps_ph(_mm512_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), h);
    }
    return i;
}
inline std::size_t decode_half_prefix(xsimd::avx512f, const std::uint16_t* in, std::size_t n, float* out) noexcept {
    std::size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(out + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(in + i))));
    return i;
}

}  // namespace safnet::detail
#endif
