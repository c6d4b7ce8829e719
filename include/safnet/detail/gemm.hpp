// safnet/detail/gemm.hpp — C = A * B for row-major A (M x K) and B (K x N), without packing.
//
// Convolutions produce B as im2col columns (K = C*k*k rows of N = H*W contiguous pixels) and
// A as the small weight matrix. A general GEMM (Eigen) repacks B on every call, touching the
// column buffer a second time; this kernel streams B's rows directly: a register tile of
// MR x (NV vectors) accumulators, one broadcast of A and NV loads of B per k, FMAs. B's panel
// (K x NV vectors) stays in L1/L2 while all rows of A pass over it.
// Results equal a sum over k in ascending order (per output element), so they do not depend
// on threads or on where a tile boundary falls.
#pragma once

#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <cstddef>

namespace safnet::detail {

template <std::size_t MR, std::size_t NV, class T>
inline void gemm_tile(std::size_t K, const T* a, std::size_t lda, const T* b, std::size_t ldb, T* c, std::size_t ldc) {
    using B = xsimd::batch<T>;
    constexpr std::size_t S = B::size;
    B acc[MR][NV];
    for (std::size_t r = 0; r < MR; ++r)
        for (std::size_t v = 0; v < NV; ++v) acc[r][v] = B(T(0));
    for (std::size_t k = 0; k < K; ++k) {
        B bv[NV];
        for (std::size_t v = 0; v < NV; ++v) bv[v] = B::load_unaligned(b + k * ldb + v * S);
        for (std::size_t r = 0; r < MR; ++r) {
            const B av(a[r * lda + k]);
            for (std::size_t v = 0; v < NV; ++v) acc[r][v] = xsimd::fma(av, bv[v], acc[r][v]);
        }
    }
    for (std::size_t r = 0; r < MR; ++r)
        for (std::size_t v = 0; v < NV; ++v) acc[r][v].store_unaligned(c + r * ldc + v * S);
}

// The last N % S columns: copied into a zero-padded vector-wide strip, K in chunks so the
// strip stays small on the stack, then the same FMA sequence as a full tile (ascending k),
// so an element's bits do not depend on whether it fell into the edge.
template <std::size_t MR, class T>
inline void gemm_edge_tile(std::size_t K, const T* a, std::size_t lda, const T* b, std::size_t ldb, T* c,
                           std::size_t ldc, std::size_t ncols) {
    using B = xsimd::batch<T>;
    constexpr std::size_t S = B::size, chunk = 256;
    alignas(64) T strip[chunk * S];
    B acc[MR];
    for (std::size_t r = 0; r < MR; ++r) acc[r] = B(T(0));
    for (std::size_t k0 = 0; k0 < K; k0 += chunk) {
        const std::size_t kk = std::min(chunk, K - k0);
        for (std::size_t k = 0; k < kk; ++k)
            for (std::size_t j = 0; j < S; ++j) strip[k * S + j] = j < ncols ? b[(k0 + k) * ldb + j] : T(0);
        for (std::size_t k = 0; k < kk; ++k) {
            const B bv = B::load_aligned(strip + k * S);
            for (std::size_t r = 0; r < MR; ++r) acc[r] = xsimd::fma(B(a[r * lda + k0 + k]), bv, acc[r]);
        }
    }
    alignas(64) T out[S];
    for (std::size_t r = 0; r < MR; ++r) {
        acc[r].store_aligned(out);
        for (std::size_t j = 0; j < ncols; ++j) c[r * ldc + j] = out[j];
    }
}

template <class T>
inline void gemm_edge(std::size_t M, std::size_t K, const T* a, std::size_t lda, const T* b, std::size_t ldb, T* c,
                      std::size_t ldc, std::size_t ncols) {
    std::size_t i = 0;
    for (; i + 8 <= M; i += 8) gemm_edge_tile<8>(K, a + i * lda, lda, b, ldb, c + i * ldc, ldc, ncols);
    for (; i < M; ++i) gemm_edge_tile<1>(K, a + i * lda, lda, b, ldb, c + i * ldc, ldc, ncols);
}

template <std::size_t NV, class T>
inline void gemm_column_panel(std::size_t M, std::size_t K, const T* a, std::size_t lda, const T* b, std::size_t ldb,
                              T* c, std::size_t ldc) {
    constexpr std::size_t MR = NV == 2 ? 8 : 8;
    std::size_t i = 0;
    for (; i + MR <= M; i += MR) gemm_tile<MR, NV>(K, a + i * lda, lda, b, ldb, c + i * ldc, ldc);
    for (; i + 4 <= M; i += 4) gemm_tile<4, NV>(K, a + i * lda, lda, b, ldb, c + i * ldc, ldc);
    for (; i < M; ++i) gemm_tile<1, NV>(K, a + i * lda, lda, b, ldb, c + i * ldc, ldc);
}

/// C (M x N, leading dimension ldc) = A (M x K, lda) * B (K x N, ldb), all row-major.
template <class T>
void gemm_nn(std::size_t M, std::size_t N, std::size_t K, const T* a, std::size_t lda, const T* b, std::size_t ldb, T* c,
             std::size_t ldc) {
    constexpr std::size_t S = xsimd::batch<T>::size;
    std::size_t j = 0;
    for (; j + 2 * S <= N; j += 2 * S) gemm_column_panel<2>(M, K, a, lda, b + j, ldb, c + j, ldc);
    for (; j + S <= N; j += S) gemm_column_panel<1>(M, K, a, lda, b + j, ldb, c + j, ldc);
    if (j < N) gemm_edge(M, K, a, lda, b + j, ldb, c + j, ldc, N - j);
}

// C (MR x NR tile) += A (MR rows) * B (NR rows)^T, both with K contiguous: lane-wise partial
// dot products over K, reduced once at the end.
template <std::size_t MR, std::size_t NR, class T>
inline void gemm_nt_tile(std::size_t K, const T* a, std::size_t lda, const T* b, std::size_t ldb, T* c, std::size_t ldc) {
    using B = xsimd::batch<T>;
    constexpr std::size_t S = B::size;
    B acc[MR][NR];
    for (std::size_t r = 0; r < MR; ++r)
        for (std::size_t q = 0; q < NR; ++q) acc[r][q] = B(T(0));
    std::size_t k = 0;
    for (; k + S <= K; k += S) {
        B bv[NR];
        for (std::size_t q = 0; q < NR; ++q) bv[q] = B::load_unaligned(b + q * ldb + k);
        for (std::size_t r = 0; r < MR; ++r) {
            const B av = B::load_unaligned(a + r * lda + k);
            for (std::size_t q = 0; q < NR; ++q) acc[r][q] = xsimd::fma(av, bv[q], acc[r][q]);
        }
    }
    for (std::size_t r = 0; r < MR; ++r)
        for (std::size_t q = 0; q < NR; ++q) {
            T sum = xsimd::hadd(acc[r][q]);
            for (std::size_t kk = k; kk < K; ++kk) sum += a[r * lda + kk] * b[q * ldb + kk];
            c[r * ldc + q] += sum;
        }
}

/// C (M x N) += A (M x K) * B (N x K)^T, all row-major: the weight gradient of a convolution,
/// dW += dY * col^T, where both operands have the pixel dimension contiguous.
template <class T>
void gemm_nt_accumulate(std::size_t M, std::size_t N, std::size_t K, const T* a, std::size_t lda, const T* b,
                        std::size_t ldb, T* c, std::size_t ldc) {
    std::size_t i = 0;
    for (; i + 4 <= M; i += 4) {
        std::size_t j = 0;
        for (; j + 4 <= N; j += 4) gemm_nt_tile<4, 4>(K, a + i * lda, lda, b + j * ldb, ldb, c + i * ldc + j, ldc);
        for (; j < N; ++j) gemm_nt_tile<4, 1>(K, a + i * lda, lda, b + j * ldb, ldb, c + i * ldc + j, ldc);
    }
    for (; i < M; ++i)
        for (std::size_t j = 0; j < N; ++j) gemm_nt_tile<1, 1>(K, a + i * lda, lda, b + j * ldb, ldb, c + i * ldc + j, ldc);
}

}  // namespace safnet::detail
