// safnet/nn/conv2d.hpp — 2-D convolution over NCHW tensors with SAF-parametrized weights.
//
// y[n, o] = sum_c W_eff[o, c] * x[n, c] (+ b[o]), W_eff = tau(W_raw), cross-correlation as in
// PyTorch, square kernel, stride and zero padding. Images are split statically over safnet's
// thread pool, so an image's output is the same for any thread count. Per image:
//  - stride 1 (forward, and d loss / d x as a convolution of dy with the flipped kernel): the
//    direct kernel (detail/direct_conv.hpp) on a zero-padded copy of the input;
//  - other strides, or planes too narrow for SIMD rows: im2col, then GEMM (detail/gemm.hpp,
//    or Eigen for small products) — the same bits as the direct kernel where both apply;
//  - d loss / d W (any stride): a pixel-major GEMM tile that reads the padded input in place.
// backward() writes d loss / d W_raw (through tau'), d loss / d bias and d loss / d x.
// Workspaces are kept and reused between calls.
// Call refresh_weights() after the raw weights change (optimizers and fault campaigns do).
// Epilogues: forward and backward take an optional functor epi(n, T* image) that runs on each
// output image (y[n] or dx[n]) right after it is computed, on the thread that computed it,
// while the image is still in cache. Models fuse BN, ReLU masks and residual adds there
// instead of streaming the whole batch through memory again.
#pragma once

#include <safnet/detail/direct_conv.hpp>
#include <safnet/detail/gemm.hpp>
#include <safnet/detail/profile.hpp>
#include <safnet/detail/thread_pool.hpp>
#include <safnet/detail/winograd_conv.hpp>
#include <safnet/nn/parameter.hpp>

#include <Eigen/Core>

#include <array>
#include <cstring>
#include <vector>

namespace safnet::nn {

/// How a convolution computes (the forward pass and, for stride 1, the input gradient):
/// `automatic` picks Winograd F(4,3) along rows (detail/winograd_conv.hpp) for 3x3 stride-1
/// layers on planes of width >= 14 or so, the direct kernel (detail/direct_conv.hpp) for
/// other stride-1 layers whose rows fill most of a SIMD vector, im2col + GEMM otherwise.
/// Direct and GEMM give the same bits; Winograd agrees with them to rounding. `direct` and
/// `gemm` force a kernel where it applies; `winograd` forces Winograd for 3x3 stride-1 layers
/// and the direct kernel for other stride-1 layers. Exposed so that tests can compare them
/// and so that fault studies can pin the arithmetic.
enum class ConvAlgorithm { automatic, gemm, direct, winograd };

struct Conv2dOptions {
    std::size_t in_channels = 0, out_channels = 0, kernel = 3, stride = 1, padding = 0;
    bool bias = false;
};

template <std::floating_point T>
class Conv2d {
public:
    using Map = MatrixMap<T>;
    using ConstMap = ConstMatrixMap<T>;

    Conv2d(Conv2dOptions o, AnySaf saf = Identity{})
        : o_(o), weight_(Shape{o.out_channels, o.in_channels, o.kernel, o.kernel}, std::move(saf)) {
        if (!o.in_channels || !o.out_channels || !o.kernel || !o.stride)
            throw Error("Conv2d: channels, kernel and stride must be positive");
        grad_weight_.resize(weight_.raw().shape(), T(0));
        if (o.bias) {
            bias_.resize(Shape{o.out_channels}, T(0));
            grad_bias_.resize(Shape{o.out_channels}, T(0));
        }
        weight_.refresh();
    }

    const Conv2dOptions& options() const noexcept { return o_; }
    SafWeight<T>& weight() noexcept { return weight_; }
    Tensor<T>& bias() noexcept { return bias_; }
    void refresh_weights() { weight_.refresh(); }
    void set_algorithm(ConvAlgorithm a) noexcept { algorithm_ = a; }

    Shape output_shape(const Shape& in) const {
        require_rank(in, 4, "Conv2d");
        if (in[1] != o_.in_channels)
            throw Error("Conv2d: input has " + std::to_string(in[1]) + " channels, layer expects " +
                        std::to_string(o_.in_channels));
        if (in[2] + 2 * o_.padding < o_.kernel || in[3] + 2 * o_.padding < o_.kernel)
            throw Error("Conv2d: input " + in.str() + " smaller than the kernel");
        return Shape{in[0], o_.out_channels, out_size(in[2]), out_size(in[3])};
    }

    /// Called with (image index, image data): the default epilogue does nothing.
    struct NoEpilogue {
        void operator()(std::size_t, T*) const noexcept {}
    };

    template <class Epilogue = NoEpilogue>
    void forward(const Tensor<T>& x, Tensor<T>& y, Epilogue&& epi = {}) {
        const profile::Scope scope(profile::Kind::conv_forward);
        y.resize(prepare_forward(x.shape()));
        const std::size_t in_image = forward_.in_image, out_image = forward_.out_image;
        thread_pool().parallel_for(forward_.n, [&](std::size_t b, std::size_t e, std::size_t t) {
            for (std::size_t n = b; n < e; ++n) {
                forward_image(x.data() + n * in_image, y.data() + n * out_image, t);
                epi(n, y.data() + n * out_image);
            }
        });
    }

    /// The per-image form, for callers that run several layers on one image while it is in
    /// cache (ResNet's depth-first evaluation): prepare_forward(input shape) once per batch
    /// (packs the weights, sizes the workspaces; returns the output shape), then
    /// forward_image() for any image of that shape on pool thread t, concurrently across
    /// threads. Same kernels, so the same bits, as forward().
    Shape prepare_forward(const Shape& in) {
        const Shape out = output_shape(in);
        forward_ = geometry(in);
        const Geometry& g = forward_;
        profile::add_conv_flops(static_cast<std::int64_t>(2 * g.n * o_.out_channels * g.ckk * g.ohw));
        forward_plan_ = plan(g.c, o_.out_channels, g.h, g.w, o_.padding);
        prepare_workspaces(g, forward_plan_.kind == Plan::gemm, false);
        pack(forward_plan_, weight_.effective().data(), o_.out_channels, g.c);
        return out;
    }
    void forward_image(const T* x, T* y, std::size_t t) {
        const Geometry& g = forward_;
        if (forward_plan_.kind != Plan::gemm) {
            run(forward_plan_, x, y, t);
        } else {
            multiply(weight_.effective().data(), o_.out_channels, g.ckk, im2col(x, g, cols_[t]), g.ohw, y);
        }
        if (o_.bias)
            for (std::size_t oc = 0; oc < o_.out_channels; ++oc)
                for (std::size_t i = 0; i < g.ohw; ++i) y[oc * g.ohw + i] += bias_[oc];
    }

    /// Weight (and bias) gradients, and dx = d loss / d x with epi(n, dx[n]) applied per image.
    template <class Epilogue = NoEpilogue>
    void backward(const Tensor<T>& x, const Tensor<T>& dy, Tensor<T>& dx, Epilogue&& epi = {}) {
        dx.resize(x.shape());
        backward_impl(x, dy, dx.data(), epi);
    }
    /// Weight (and bias) gradients only: for a first layer, whose input needs no gradient.
    void backward_weights(const Tensor<T>& x, const Tensor<T>& dy) {
        NoEpilogue none;
        backward_impl(x, dy, nullptr, none);
    }

    template <class Visit>
    void for_each_parameter(const std::string& prefix, Visit&& visit) {
        visit(Parameter<T>{join_name(prefix, "weight"), &weight_.raw(), &grad_weight_, &weight_});
        if (o_.bias) visit(Parameter<T>{join_name(prefix, "bias"), &bias_, &grad_bias_, nullptr});
    }

private:
    template <class Epilogue>
    void backward_impl(const Tensor<T>& x, const Tensor<T>& dy, T* dx, Epilogue& epi) {
        const profile::Scope scope(profile::Kind::conv_backward);
        const Geometry g = geometry(x.shape());
        if (!(dy.shape() == output_shape(x.shape())))
            throw Error("Conv2d: gradient " + dy.shape().str() + " does not match the output " + output_shape(x.shape()).str());
        profile::add_conv_flops(static_cast<std::int64_t>((dx ? 4 : 2) * g.n * o_.out_channels * g.ckk * g.ohw));
        const ConstMap w(weight_.effective().data(), eigen_index(o_.out_channels), eigen_index(g.ckk));
        // Stride 1: d loss / d x is the convolution of dy with the flipped, transposed kernel
        // (padding K-1-p): one GEMM into dx, no col2im scatter.
        const bool flipped = o_.stride == 1 && !is_pointwise() && 2 * o_.padding < o_.kernel + 1;
        if (flipped && dx) flip_weights();
        const std::size_t k = o_.kernel, okk = o_.out_channels * k * k;
        // The input gradient as a convolution of dy (out_channels planes of oh x ow).
        const Plan dx_plan = flipped && dx ? plan(o_.out_channels, g.c, g.oh, g.ow, k - 1 - o_.padding) : Plan{};
        const bool direct_dx = dx_plan.kind != Plan::gemm;
        if (direct_dx) pack(dx_plan, flipped_.data(), g.c, o_.out_channels);
        const bool direct_dw = use_direct_weight_gradient();
        prepare_workspaces(g, !direct_dw, dx && !is_pointwise() && !direct_dx);
        const safnet::detail::WgradShape ws = wgrad_shape(g);
        if (direct_dw) prepare_wgrad(g, ws);
        thread_pool().parallel_for(g.n, [&](std::size_t b, std::size_t e, std::size_t t) {
            Map dw(partial_dw_[t].data(), eigen_index(o_.out_channels), eigen_index(g.ckk));
            if (direct_dw) {
                std::fill(partial_dwt_[t].data(), partial_dwt_[t].data() + partial_dwt_[t].size(), T(0));
            } else {
                dw.setZero();
            }
            for (std::size_t n = b; n < e; ++n) {
                const ConstMap dyn(dy.data() + n * g.out_image, eigen_index(o_.out_channels), eigen_index(g.ohw));
                if (direct_dw) {
                    accumulate_direct_wgrad(g, ws, x.data() + n * g.in_image, dyn.data(), t);
                } else {
                    const T* col = im2col(x.data() + n * g.in_image, g, cols_[t]);
                    // Long pixel rows: the lane-wise dot-product kernel; short ones (its final
                    // reductions would dominate): Eigen.
                    if (g.ohw >= 512)
                        safnet::detail::gemm_nt_accumulate(o_.out_channels, g.ckk, g.ohw, dyn.data(), g.ohw, col, g.ohw, dw.data(), g.ckk);
                    else
                        dw.noalias() += dyn * ConstMap(col, eigen_index(g.ckk), eigen_index(g.ohw)).transpose();
                }
                if (!dx) continue;
                Map dxn(dx + n * g.in_image, eigen_index(g.c), eigen_index(g.h * g.w));
                if (is_pointwise()) {
                    dxn.noalias() = w.transpose() * dyn;
                } else if (direct_dx) {
                    run(dx_plan, dy.data() + n * g.out_image, dxn.data(), t);
                } else if (flipped) {
                    unfold(dy.data() + n * g.out_image, o_.out_channels, g.oh, g.ow, k, 1, k - 1 - o_.padding, g.h, g.w,
                           dcols_[t].data());
                    multiply(flipped_.data(), g.c, okk, dcols_[t].data(), g.h * g.w, dxn.data());
                } else {
                    Map dcol(dcols_[t].data(), eigen_index(g.ckk), eigen_index(g.ohw));
                    dcol.noalias() = w.transpose() * dyn;
                    col2im(dcols_[t].data(), g, dxn.data());
                }
                epi(n, dxn.data());
            }
        });
        // Reduce the per-thread partial gradients in a fixed order.
        Map grad_eff(grad_eff_.data(), eigen_index(o_.out_channels), eigen_index(g.ckk));
        grad_eff.setZero();
        for (std::size_t t = 0; t < used_threads(g.n); ++t) {
            if (direct_dw) {  // partial_dwt_ is transposed (taps x padded output channels)
                const T* p = partial_dwt_[t].data();
                for (std::size_t tap = 0; tap < g.ckk; ++tap)
                    for (std::size_t oc = 0; oc < o_.out_channels; ++oc) grad_eff(eigen_index(oc), eigen_index(tap)) += p[tap * ws.o_padded + oc];
            } else {
                grad_eff += Map(partial_dw_[t].data(), eigen_index(o_.out_channels), eigen_index(g.ckk));
            }
        }
        weight_.backward(grad_eff_.span(), grad_weight_.span());
        if (o_.bias) {
            for (std::size_t oc = 0; oc < o_.out_channels; ++oc) {
                T sum = 0;
                for (std::size_t n = 0; n < g.n; ++n)
                    for (std::size_t i = 0; i < g.ohw; ++i) sum += dy[n * g.out_image + oc * g.ohw + i];
                grad_bias_[oc] = sum;
            }
        }
    }

    struct Geometry {
        std::size_t n, c, h, w, oh, ow, ohw, ckk, in_image, out_image;
    };
    std::size_t out_size(std::size_t in) const noexcept { return (in + 2 * o_.padding - o_.kernel) / o_.stride + 1; }

    Geometry geometry(const Shape& s) const {
        const Shape out = output_shape(s);
        Geometry g{s[0], s[1], s[2], s[3], out[2], out[3], out[2] * out[3], s[1] * o_.kernel * o_.kernel, 0, 0};
        g.in_image = g.c * g.h * g.w;
        g.out_image = o_.out_channels * g.ohw;
        return g;
    }

    std::size_t used_threads(std::size_t n) const { return std::min(thread_pool().size(), std::max<std::size_t>(n, 1)); }

    // out (m x n) = a (m x k) * b (k x n), row-major. The unpacked register-tiled kernel
    // beats Eigen's GEMM on conv shapes (no repacking of the column buffer) once a has
    // enough rows to fill its tile and few edge columns (measured: 7x7 planes, n = 49, are
    // faster in Eigen); otherwise Eigen.
    static void multiply(const T* a, std::size_t m, std::size_t k, const T* b, std::size_t n, T* out) {
        if (m >= 8 && (n % xsimd::batch<T>::size == 0 || n >= 128)) {
            safnet::detail::gemm_nn(m, n, k, a, k, b, n, out, n);
        } else {
            Map(out, eigen_index(m), eigen_index(n)).noalias() = ConstMap(a, eigen_index(m), eigen_index(k)) * ConstMap(b, eigen_index(k), eigen_index(n));
        }
    }

    // flipped_[c, (o, a, b)] = W_eff[o, c, K-1-a, K-1-b]
    void flip_weights() {
        const std::size_t k = o_.kernel, c_in = o_.in_channels, c_out = o_.out_channels;
        flipped_.resize(Shape{c_in, c_out * k * k});
        const T* w = weight_.effective().data();
        for (std::size_t o = 0; o < c_out; ++o)
            for (std::size_t c = 0; c < c_in; ++c)
                for (std::size_t a = 0; a < k; ++a)
                    for (std::size_t b = 0; b < k; ++b)
                        flipped_[c * c_out * k * k + (o * k + a) * k + b] = w[((o * c_in + c) * k + (k - 1 - a)) * k + (k - 1 - b)];
    }

    // How one stride-1 convolution runs: the forward pass, or the input gradient as a
    // convolution of dy with the flipped kernel. `h x w` is the input, `pad` its padding.
    struct Plan {
        enum Kind { gemm, direct, winograd } kind = gemm;
        std::size_t h = 0, w = 0, pad = 0;
        safnet::detail::DirectConvShape direct_shape{};
        safnet::detail::WinogradShape winograd_shape{};
    };
    // automatic: Winograd for 3x3 kernels with >= 16 input and output channels on planes whose
    // rows fill SIMD vectors well and that the direct kernel computes row by row, or that are at
    // least 14 x 14 even where it would use its flat layout (measured per image: 1.1-1.6x faster than
    // the direct kernel at widths 14-32, and +4-25 % for 1x28x28 ResNet20 inference once the
    // 28-wide layers use it too; slower with 1-8 channels, where its 6 short 1x3 products are
    // mostly overhead, and on 7x7 and 8x8 planes, where a 4-row band is half of the plane);
    // otherwise the direct kernel when at least 3/4 of the lanes it computes are real outputs;
    // otherwise im2col + GEMM.
    Plan plan(std::size_t channels, std::size_t out_channels, std::size_t h, std::size_t w, std::size_t pad) const {
        Plan p{Plan::gemm, h, w, pad, {}, {}};
        if (algorithm_ == ConvAlgorithm::gemm || o_.stride != 1 || is_pointwise() || pad >= o_.kernel) return p;
        const std::size_t oh = h + 2 * pad - o_.kernel + 1, ow = w + 2 * pad - o_.kernel + 1;
        p.direct_shape = safnet::detail::direct_conv_shape<T>(channels, out_channels, o_.kernel, oh, ow);
        if (o_.kernel == 3 && algorithm_ != ConvAlgorithm::direct) {
            p.winograd_shape = safnet::detail::winograd_shape<T>(channels, out_channels, h, w, pad);
            const bool big_plane = !p.direct_shape.flat || (oh >= 14 && ow >= 14);
            const bool wide_enough = channels >= 16 && out_channels >= 16 && big_plane && p.winograd_shape.efficiency() >= 0.75;
            if (algorithm_ == ConvAlgorithm::winograd || (algorithm_ == ConvAlgorithm::automatic && wide_enough)) {
                p.kind = Plan::winograd;
                return p;
            }
        }
        if (algorithm_ == ConvAlgorithm::direct || algorithm_ == ConvAlgorithm::winograd || p.direct_shape.efficiency() >= 0.75)
            p.kind = Plan::direct;
        return p;
    }

    // The weights (out_channels x channels x k x k) in the plan's kernel layout, in packed_.
    void pack(const Plan& p, const T* w, std::size_t out_channels, std::size_t channels) {
        constexpr std::size_t MR = safnet::detail::direct_conv_mr;
        const std::size_t blocks = (out_channels + MR - 1) / MR, kk = o_.kernel * o_.kernel;
        if (p.kind == Plan::direct) {
            packed_.resize(Shape{blocks * MR * channels * kk});
            safnet::detail::pack_direct_weights<MR>(w, out_channels, channels, kk, packed_.data());
        } else if (p.kind == Plan::winograd) {
            packed_.resize(Shape{safnet::detail::winograd_points * blocks * MR * channels * 3});
            safnet::detail::pack_winograd_weights<MR>(w, out_channels, channels, packed_.data());
        }
    }

    // A thread's workspace for padded (or Winograd-transformed) images. Its zero border depends
    // only on the geometry, so it is written when the geometry changes and kept otherwise: per
    // image only the image's own rows are written. (Zeroing every row per image cost ~5 % of a
    // training step, much of it in memset calls for runs of one or two elements.)
    struct BorderedWorkspace {
        Tensor<T> data;
        std::array<std::size_t, 8> geometry{};  // of the border in place; all zero: none yet
        // Sizes the buffer for geometry g; true if its border is already in place.
        bool prepare(const std::array<std::size_t, 8>& g, std::size_t size) {
            data.resize(Shape{size});
            const bool ready = g == geometry;
            geometry = g;
            return ready;
        }
    };
    // x (channels x h x w) into workspace b, zero-padded by `pad` into planes of hp x wp rows,
    // `plane` apart.
    static T* pad_into(BorderedWorkspace& b, const T* x, std::size_t channels, std::size_t h, std::size_t w, std::size_t pad,
                       std::size_t hp, std::size_t wp, std::size_t plane) {
        if (b.prepare({1, channels, h, w, pad, hp, wp, plane}, channels * plane)) {
            safnet::detail::pad_image_rows(x, channels, h, w, pad, hp, wp, plane, b.data.data());
        } else {
            safnet::detail::pad_image(x, channels, h, w, pad, hp, wp, plane, b.data.data());
        }
        return b.data.data();
    }

    // One image through the plan's kernel on thread t's buffers.
    void run(const Plan& p, const T* in, T* out, std::size_t t) {
        if (p.kind == Plan::winograd) {
            const safnet::detail::WinogradShape& s = p.winograd_shape;
            const bool ready = pads_[t].prepare({2, s.rows.channels, s.h, s.w, s.pad, s.tiles, s.wp, s.rows.plane},
                                                safnet::detail::winograd_input_size(s));
            wide_out_[t].resize(Shape{safnet::detail::winograd_product_size(s)});
            safnet::detail::winograd_conv(s, packed_.data(), in, pads_[t].data.data(), wide_out_[t].data(), out, ready);
        } else {
            run_direct(p.direct_shape, in, p.h, p.w, p.pad, out, t);
        }
    }

    // One image through the direct kernel: pad its input (h x w planes) into thread t's
    // buffer, convolve; unless rows are whole vectors, through a scratch buffer first.
    void run_direct(const safnet::detail::DirectConvShape& s, const T* in, std::size_t h, std::size_t w, std::size_t pad,
                    T* out, std::size_t t) {
        constexpr std::size_t S = xsimd::batch<T>::size;
        const T* xp = pad_into(pads_[t], in, s.channels, h, w, pad, s.hp, s.wp, s.plane);
        if (!s.flat && s.ow % S == 0) {
            safnet::detail::direct_conv(s, packed_.data(), xp, out, s.ow);
            return;
        }
        const std::size_t ld = s.vectors * S, row_stride = s.flat ? s.wp : ld;
        Tensor<T>& wide = wide_out_[t];
        wide.resize(Shape{s.out_channels * s.rows * ld});
        safnet::detail::direct_conv(s, packed_.data(), xp, wide.data(), ld);
        for (std::size_t o = 0; o < s.out_channels; ++o)
            for (std::size_t y = 0; y < s.oh; ++y)
                safnet::detail::copy_short(wide.data() + o * s.rows * ld + y * row_stride, out + (o * s.oh + y) * s.ow, s.ow);
    }

    // The weight gradient straight from a padded input (any stride): everywhere but the
    // forced GEMM path and 1x1 stride-1 layers (which read x as is, without im2col anyway).
    bool use_direct_weight_gradient() const noexcept {
        return algorithm_ != ConvAlgorithm::gemm && !is_pointwise() && o_.padding < o_.kernel;
    }

    safnet::detail::WgradShape wgrad_shape(const Geometry& g) const {
        constexpr std::size_t S = xsimd::batch<T>::size;
        const std::size_t o_padded = (o_.out_channels + S - 1) / S * S;
        return {g.ckk, o_padded, o_.stride, g.oh, g.ow, (g.ow - 1) * o_.stride + o_.kernel, o_.kernel};
    }
    std::size_t wgrad_rows(const Geometry& g) const { return (g.oh - 1) * o_.stride + o_.kernel; }

    void prepare_wgrad(const Geometry& g, const safnet::detail::WgradShape& ws) {
        const std::size_t k = o_.kernel, hp = wgrad_rows(g);
        tap_offsets_.resize(g.ckk);
        for (std::size_t c = 0; c < g.c; ++c)
            for (std::size_t ky = 0; ky < k; ++ky)
                for (std::size_t kx = 0; kx < k; ++kx) tap_offsets_[(c * k + ky) * k + kx] = (c * hp + ky) * ws.wp + kx;
        const std::size_t threads = thread_pool().size();
        if (partial_dwt_.size() < threads) {
            partial_dwt_.resize(threads);
            dyt_.resize(threads);
        }
        for (std::size_t t = 0; t < threads; ++t) {
            partial_dwt_[t].resize(Shape{g.ckk * ws.o_padded});
            dyt_[t].resize(Shape{g.ohw * ws.o_padded});
        }
    }

    // One image's weight gradient into thread t's transposed partial sum: pad x, transpose dy
    // to pixel-major rows (zero beyond the real output channels), accumulate.
    void accumulate_direct_wgrad(const Geometry& g, const safnet::detail::WgradShape& ws, const T* x, const T* dyn,
                                 std::size_t t) {
        const std::size_t hp = wgrad_rows(g);
        const T* xp = pad_into(wgrad_pads_[t], x, g.c, g.h, g.w, o_.padding, hp, ws.wp, hp * ws.wp);
        T* dyt = dyt_[t].data();
        safnet::detail::transpose_to_pixel_major(dyn, o_.out_channels, g.ohw, ws.o_padded, dyt);
        safnet::detail::wgrad_accumulate(ws, tap_offsets_.data(), xp, dyt, partial_dwt_[t].data());
    }

    bool is_pointwise() const noexcept { return o_.kernel == 1 && o_.stride == 1 && o_.padding == 0; }

    // Per-thread buffers; the large im2col ones only for the paths that still use them:
    // `cols` for im2col of x (GEMM forward or weight gradient), `dcols` for the input
    // gradient through GEMM (unfolded dy, or columns before col2im).
    void prepare_workspaces(const Geometry& g, bool cols, bool dcols) {
        const std::size_t threads = thread_pool().size();
        if (cols_.size() < threads) {
            cols_.resize(threads);
            pads_.resize(threads);
            wgrad_pads_.resize(threads);
            wide_out_.resize(threads);
            dcols_.resize(threads);
            partial_dw_.resize(threads);
        }
        for (std::size_t t = 0; t < threads; ++t) {
            if (cols && !is_pointwise()) cols_[t].resize(Shape{g.ckk, g.ohw});
            if (dcols) dcols_[t].resize(Shape{std::max(g.ckk * g.ohw, o_.out_channels * o_.kernel * o_.kernel * g.h * g.w)});
            partial_dw_[t].resize(Shape{o_.out_channels, g.ckk});
        }
        grad_eff_.resize(weight_.raw().shape());
    }

    // Columns: row (c, ki, kj), column (oh, ow). A 1x1 stride-1 unpadded conv reads x as is.
    const T* im2col(const T* x, const Geometry& g, Tensor<T>& col) const {
        if (is_pointwise()) return x;
        unfold(x, g.c, g.h, g.w, o_.kernel, o_.stride, o_.padding, g.oh, g.ow, col.data());
        return col.data();
    }

    // im2col for any geometry: for each (channel, ki, kj) and output row, the valid output
    // columns are computed once; the interior is a contiguous copy when stride is 1.
    static void unfold(const T* x, std::size_t channels, std::size_t h, std::size_t w, std::size_t k, std::size_t s,
                       std::size_t p, std::size_t oh, std::size_t ow, T* out) {
        const std::size_t ohw = oh * ow;
        for (std::size_t c = 0; c < channels; ++c)
            for (std::size_t ki = 0; ki < k; ++ki)
                for (std::size_t kj = 0; kj < k; ++kj) {
                    T* row = out + ((c * k + ki) * k + kj) * ohw;
                    // valid ow: 0 <= ow*s + kj - p < w
                    const std::size_t lo = kj >= p ? 0 : (p - kj + s - 1) / s;
                    const std::size_t hi = std::min(ow, (w + p - kj + s - 1) / s);
                    for (std::size_t i = 0; i < oh; ++i) {
                        const std::ptrdiff_t ih = static_cast<std::ptrdiff_t>(i * s + ki) - static_cast<std::ptrdiff_t>(p);
                        T* dst = row + i * ow;
                        // Rows are short (7-32): inline copies, not memset/memmove calls.
                        if (ih < 0 || ih >= static_cast<std::ptrdiff_t>(h) || lo >= hi) {
                            safnet::detail::zero_short(dst, ow);
                            continue;
                        }
                        const T* src = x + (c * h + static_cast<std::size_t>(ih)) * w + (lo * s + kj - p);
                        safnet::detail::zero_short(dst, lo);
                        if (s == 1) {
                            safnet::detail::copy_short(src, dst + lo, hi - lo);
                        } else if (s == 2) {  // ResNets' downsampling: a constant stride, which GCC vectorizes
                            for (std::size_t j = lo; j < hi; ++j) dst[j] = src[(j - lo) * 2];
                        } else {
                            for (std::size_t j = lo; j < hi; ++j) dst[j] = src[(j - lo) * s];
                        }
                        safnet::detail::zero_short(dst + hi, ow - hi);
                    }
                }
    }

    void col2im(const T* col, const Geometry& g, T* dx) const {
        const std::size_t k = o_.kernel, s = o_.stride, p = o_.padding;
        if (is_pointwise()) {
            std::copy(col, col + g.in_image, dx);
            return;
        }
        std::fill(dx, dx + g.in_image, T(0));
        for (std::size_t c = 0; c < g.c; ++c)
            for (std::size_t ki = 0; ki < k; ++ki)
                for (std::size_t kj = 0; kj < k; ++kj) {
                    const T* row = col + ((c * k + ki) * k + kj) * g.ohw;
                    for (std::size_t oh = 0; oh < g.oh; ++oh) {
                        const std::ptrdiff_t ih = static_cast<std::ptrdiff_t>(oh * s + ki) - static_cast<std::ptrdiff_t>(p);
                        if (ih < 0 || ih >= static_cast<std::ptrdiff_t>(g.h)) continue;
                        T* dst = dx + (c * g.h + static_cast<std::size_t>(ih)) * g.w;
                        for (std::size_t ow = 0; ow < g.ow; ++ow) {
                            const std::ptrdiff_t iw = static_cast<std::ptrdiff_t>(ow * s + kj) - static_cast<std::ptrdiff_t>(p);
                            if (iw >= 0 && iw < static_cast<std::ptrdiff_t>(g.w)) dst[iw] += row[oh * g.ow + ow];
                        }
                    }
                }
    }

    Conv2dOptions o_;
    SafWeight<T> weight_;
    Tensor<T> bias_, grad_weight_, grad_bias_, grad_eff_, flipped_;
    ConvAlgorithm algorithm_ = ConvAlgorithm::automatic;
    Geometry forward_{};  // set by prepare_forward() for forward_image()
    Plan forward_plan_{};
    Tensor<T> packed_;
    std::vector<Tensor<T>> cols_, dcols_, partial_dw_, wide_out_, partial_dwt_, dyt_;
    // Padded inputs: of the forward and input-gradient kernels (or their Winograd transforms),
    // and of the weight gradient, which alternates with them image by image in backward().
    std::vector<BorderedWorkspace> pads_, wgrad_pads_;
    std::vector<std::size_t> tap_offsets_;
};

}  // namespace safnet::nn
