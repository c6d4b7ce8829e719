// safnet/nn/tensor.hpp — a dense, contiguous, 64-byte aligned tensor of rank <= 4 (NCHW).
//
// Value semantics (copies are deep). resize() keeps the buffer when the new size fits the
// capacity, so a workspace resized to the same or a smaller shape every step never
// allocates again. matrix(rows, cols) is an Eigen::Map over the buffer (row-major), for GEMM.
// Element access is unchecked; shape errors are caught where shapes are set (safnet::Error):
// a Shape's element count is checked when it is built (at most max_tensor_bytes elements, no
// wrap-around), a Tensor's byte size when it allocates. The empty Shape (rank 0) has no
// elements. A moved-from Tensor is empty (size and capacity 0), so reusing it reallocates.
#pragma once

#include <safnet/checked.hpp>
#include <safnet/error.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <array>
#include <concepts>
#include <cstddef>
#include <initializer_list>
#include <memory>
#include <new>
#if defined(__linux__)
#include <sys/mman.h>
#endif
#include <span>
#include <string>
#include <utility>

namespace safnet::nn {

inline constexpr std::size_t tensor_alignment = 64;

namespace detail {
// Buffers of 2 MiB or more (a batch's activations) are 2 MiB aligned and advised as huge pages
// where the kernel does that only on request (THP "madvise" mode, Debian's default): a
// training step streams ~100 MB of activations, and with 4 KiB pages TLB misses and page
// faults (the kernel reclaims idle pages) took ~9 % of a step (measured with perf).
inline constexpr std::size_t huge_page = std::size_t{2} << 20;
inline std::size_t alignment_for(std::size_t bytes) noexcept { return bytes >= huge_page ? huge_page : tensor_alignment; }
inline void advise_huge_pages([[maybe_unused]] void* p, [[maybe_unused]] std::size_t bytes) noexcept {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (bytes >= huge_page) ::madvise(p, bytes / huge_page * huge_page, MADV_HUGEPAGE);  // a hint: failure is harmless
#endif
}
}  // namespace detail

/// Row-major Eigen views over raw buffers, for the layers' GEMMs.
template <class T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using MatrixMap = Eigen::Map<RowMatrix<T>>;
template <class T>
using ConstMatrixMap = Eigen::Map<const RowMatrix<T>>;
inline Eigen::Index eigen_index(std::size_t v) noexcept { return static_cast<Eigen::Index>(v); }

class Shape {
public:
    Shape() = default;
    Shape(std::initializer_list<std::size_t> dims) {
        if (dims.size() > 4) throw Error("tensor shape: rank " + std::to_string(dims.size()) + " > 4");
        rank_ = dims.size();
        std::copy(dims.begin(), dims.end(), dims_.begin());
        const std::span<const std::size_t> used(dims_.data(), rank_);
        const auto n = product_within(used, max_tensor_bytes);  // shapes are built on hot paths: the message only on failure
        elements_ = n ? *n : checked_product(used, max_tensor_bytes, "tensor shape " + str());
    }
    std::size_t rank() const noexcept { return rank_; }
    std::size_t operator[](std::size_t i) const noexcept { return dims_[i]; }
    std::size_t elements() const noexcept { return elements_; }
    friend bool operator==(const Shape& a, const Shape& b) noexcept {
        return a.rank_ == b.rank_ && std::equal(a.dims_.begin(), a.dims_.begin() + a.rank_, b.dims_.begin());
    }
    std::string str() const {
        std::string s = "[";
        for (std::size_t i = 0; i < rank_; ++i) s += (i ? "," : "") + std::to_string(dims_[i]);
        return s + "]";
    }

private:
    std::array<std::size_t, 4> dims_{};
    std::size_t rank_ = 0;
    std::size_t elements_ = 0;
};

template <std::floating_point T>
class Tensor {
public:
    using Matrix = Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>, Eigen::Aligned64>;

    Tensor() = default;
    explicit Tensor(Shape shape, T fill = T(0)) { resize(shape, fill); }
    Tensor(const Tensor& o) : Tensor() {
        resize(o.shape_);
        std::copy(o.data(), o.data() + size_, data());
    }
    Tensor& operator=(const Tensor& o) {
        if (this != &o) {
            resize(o.shape_);
            std::copy(o.data(), o.data() + size_, data());
        }
        return *this;
    }
    Tensor(Tensor&& o) noexcept { swap(o); }
    Tensor& operator=(Tensor&& o) noexcept {
        Tensor(std::move(o)).swap(*this);
        return *this;
    }
    void swap(Tensor& o) noexcept {
        std::swap(buffer_, o.buffer_);
        std::swap(shape_, o.shape_);
        std::swap(size_, o.size_);
        std::swap(capacity_, o.capacity_);
    }

    /// Sets the shape; reallocates only when the capacity is too small. New contents are
    /// `fill` when given, else unspecified (kept from before where the buffer is reused).
    void resize(Shape shape) {
        const std::size_t n = shape.elements();
        if (n > capacity_) {
            const std::size_t bytes =
                mul_fits(n, sizeof(T), max_tensor_bytes) ? n * sizeof(T) : checked_mul(n, sizeof(T), "tensor " + shape.str() + " in bytes", max_tensor_bytes);
            const std::size_t align = detail::alignment_for(bytes);
            buffer_ = std::unique_ptr<T[], AlignedDelete>(static_cast<T*>(::operator new[](bytes, std::align_val_t{align})),
                                                          AlignedDelete{align});
            detail::advise_huge_pages(buffer_.get(), bytes);
            capacity_ = n;
        }
        shape_ = shape;
        size_ = n;
    }
    void resize(Shape shape, T fill) {
        resize(shape);
        std::fill(data(), data() + size_, fill);
    }

    const Shape& shape() const noexcept { return shape_; }
    std::size_t size() const noexcept { return size_; }
    std::size_t capacity() const noexcept { return capacity_; }
    T* data() noexcept { return buffer_.get(); }
    const T* data() const noexcept { return buffer_.get(); }
    std::span<T> span() noexcept { return {data(), size_}; }
    std::span<const T> span() const noexcept { return {data(), size_}; }
    T& operator[](std::size_t i) noexcept { return buffer_[i]; }
    const T& operator[](std::size_t i) const noexcept { return buffer_[i]; }

    /// Row-major (rows x cols) view of the whole buffer; rows * cols must equal size().
    Matrix matrix(std::size_t rows, std::size_t cols) {
        if (rows * cols != size_)
            throw Error("tensor " + shape_.str() + " viewed as " + std::to_string(rows) + "x" + std::to_string(cols));
        return Matrix(data(), static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
    }

private:
    struct AlignedDelete {
        std::size_t align = tensor_alignment;
        void operator()(T* p) const noexcept { ::operator delete[](p, std::align_val_t{align}); }
    };
    std::unique_ptr<T[], AlignedDelete> buffer_;
    Shape shape_;
    std::size_t size_ = 0;
    std::size_t capacity_ = 0;
};

}  // namespace safnet::nn
