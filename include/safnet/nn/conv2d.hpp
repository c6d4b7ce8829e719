// safnet/nn/conv2d.hpp — 2-D convolution over NCHW tensors with SAF-parametrized weights.
//
// y[n, o] = sum_c W_eff[o, c] * x[n, c] (+ b[o]), W_eff = tau(W_raw), cross-correlation as in
// PyTorch, square kernel, stride and zero padding. Images are split statically over safnet's
// thread pool, so an image's output is the same for any thread count.
//
// This is the layer: its parameters, the SAF weight, and the order of work per batch. How each
// image is computed lives in detail/conv/: the plan (plan.hpp, numbers in tuning.hpp) picks
// Winograd, the direct kernel or im2col + GEMM for the forward pass and the stride-1 input
// gradient (d loss / d x as a convolution of dy with the flipped kernel); the weight gradient
// (any stride) reads the padded input in place (weight_gradient.hpp).
//
// Contract:
//  - refresh_weights() after the raw weights change (optimizers and fault campaigns do it);
//  - forward_image() requires a prepare_forward() since the last weight refresh or option
//    change, with the same input shape; forward() does both;
//  - backward() requires the x that forward() saw; it writes d loss / d W_raw (through tau'),
//    d loss / d bias and d loss / d x.
// Epilogues: forward and backward take an optional functor epi(n, T* image) that runs on each
// output image (y[n] or dx[n]) right after it is computed, on the thread that computed it,
// while the image is still in cache. Models fuse BN, ReLU masks and residual adds there
// instead of streaming the whole batch through memory again.
#pragma once

#include <safnet/detail/conv/im2col.hpp>
#include <safnet/detail/conv/plan.hpp>
#include <safnet/detail/conv/tuning.hpp>
#include <safnet/detail/conv/weight_gradient.hpp>
#include <safnet/detail/conv/workspace.hpp>
#include <safnet/detail/gemm.hpp>
#include <safnet/detail/thread_pool.hpp>
#include <safnet/nn/conv_algorithm.hpp>
#include <safnet/nn/parameter.hpp>
#include <safnet/profile.hpp>

#include <Eigen/Core>

#include <vector>

namespace safnet::nn {

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
        prepare_scratch(g, forward_plan_.kind == safnet::detail::ConvPlan::gemm, false);
        pack(forward_plan_, weight_.effective().data(), o_.out_channels, g.c);
        return out;
    }
    void forward_image(const T* x, T* y, std::size_t t) {
        const Geometry& g = forward_;
        if (forward_plan_.kind != safnet::detail::ConvPlan::gemm) {
            safnet::detail::convolve_image(forward_plan_, packed_.data(), x, y, scratch_[t]);
        } else {
            multiply(weight_.effective().data(), o_.out_channels, g.ckk, columns(x, g, scratch_[t].cols), g.ohw, y);
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
    using Plan = safnet::detail::ConvPlan;
    struct Geometry {
        std::size_t n, c, h, w, oh, ow, ohw, ckk, in_image, out_image;
    };

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
        prepare_scratch(g, !direct_dw, dx && !is_pointwise() && !direct_dx);
        const safnet::detail::WgradShape ws = wgrad_shape(g);
        if (direct_dw) prepare_wgrad(g, ws);
        const safnet::detail::UnfoldShape dy_unfold{o_.out_channels, g.oh, g.ow, k, 1, k - 1 - o_.padding, g.h, g.w};
        thread_pool().parallel_for(g.n, [&](std::size_t b, std::size_t e, std::size_t t) {
            safnet::detail::ConvScratch<T>& s = scratch_[t];
            Map dw(s.partial_dw.data(), eigen_index(o_.out_channels), eigen_index(g.ckk));
            if (direct_dw) {
                std::fill(s.partial_dwt.data(), s.partial_dwt.data() + s.partial_dwt.size(), T(0));
            } else {
                dw.setZero();
            }
            for (std::size_t n = b; n < e; ++n) {
                const ConstMap dyn(dy.data() + n * g.out_image, eigen_index(o_.out_channels), eigen_index(g.ohw));
                if (direct_dw) {
                    accumulate_direct_wgrad(g, ws, x.data() + n * g.in_image, dyn.data(), s);
                } else {
                    const T* col = columns(x.data() + n * g.in_image, g, s.cols);
                    if (g.ohw >= safnet::detail::conv_tuning.wgrad_dot_min_pixels)
                        safnet::detail::gemm_nt_accumulate(o_.out_channels, g.ckk, g.ohw, dyn.data(), g.ohw, col, g.ohw, dw.data(), g.ckk);
                    else
                        dw.noalias() += dyn * ConstMap(col, eigen_index(g.ckk), eigen_index(g.ohw)).transpose();
                }
                if (!dx) continue;
                Map dxn(dx + n * g.in_image, eigen_index(g.c), eigen_index(g.h * g.w));
                if (is_pointwise()) {
                    dxn.noalias() = w.transpose() * dyn;
                } else if (direct_dx) {
                    safnet::detail::convolve_image(dx_plan, packed_.data(), dy.data() + n * g.out_image, dxn.data(), s);
                } else if (flipped) {
                    safnet::detail::im2col(dy_unfold, dy.data() + n * g.out_image, s.dcols.data());
                    multiply(flipped_.data(), g.c, okk, s.dcols.data(), g.h * g.w, dxn.data());
                } else {
                    Map dcol(s.dcols.data(), eigen_index(g.ckk), eigen_index(g.ohw));
                    dcol.noalias() = w.transpose() * dyn;
                    safnet::detail::col2im(unfold_shape(g), s.dcols.data(), dxn.data());
                }
                epi(n, dxn.data());
            }
        });
        reduce_weight_gradient(g, ws, direct_dw);
        if (o_.bias) {
            for (std::size_t oc = 0; oc < o_.out_channels; ++oc) {
                T sum = 0;
                for (std::size_t n = 0; n < g.n; ++n)
                    for (std::size_t i = 0; i < g.ohw; ++i) sum += dy[n * g.out_image + oc * g.ohw + i];
                grad_bias_[oc] = sum;
            }
        }
    }

    // Sums the per-thread partial gradients in a fixed order, then through tau'.
    void reduce_weight_gradient(const Geometry& g, const safnet::detail::WgradShape& ws, bool direct_dw) {
        Map grad_eff(grad_eff_.data(), eigen_index(o_.out_channels), eigen_index(g.ckk));
        grad_eff.setZero();
        for (std::size_t t = 0; t < used_threads(g.n); ++t) {
            if (direct_dw) {  // partial_dwt is transposed (taps x padded output channels)
                const T* p = scratch_[t].partial_dwt.data();
                for (std::size_t tap = 0; tap < g.ckk; ++tap)
                    for (std::size_t oc = 0; oc < o_.out_channels; ++oc) grad_eff(eigen_index(oc), eigen_index(tap)) += p[tap * ws.o_padded + oc];
            } else {
                grad_eff += Map(scratch_[t].partial_dw.data(), eigen_index(o_.out_channels), eigen_index(g.ckk));
            }
        }
        weight_.backward(grad_eff_.span(), grad_weight_.span());
    }

    std::size_t out_size(std::size_t in) const noexcept { return (in + 2 * o_.padding - o_.kernel) / o_.stride + 1; }

    Geometry geometry(const Shape& s) const {
        const Shape out = output_shape(s);
        Geometry g{s[0], s[1], s[2], s[3], out[2], out[3], out[2] * out[3], s[1] * o_.kernel * o_.kernel, 0, 0};
        g.in_image = g.c * g.h * g.w;
        g.out_image = o_.out_channels * g.ohw;
        return g;
    }
    safnet::detail::UnfoldShape unfold_shape(const Geometry& g) const {
        return {g.c, g.h, g.w, o_.kernel, o_.stride, o_.padding, g.oh, g.ow};
    }

    std::size_t used_threads(std::size_t n) const { return std::min(thread_pool().size(), std::max<std::size_t>(n, 1)); }

    // out (m x n) = a (m x k) * b (k x n), row-major: safnet's GEMM or Eigen's (tuning.hpp).
    static void multiply(const T* a, std::size_t m, std::size_t k, const T* b, std::size_t n, T* out) {
        if (safnet::detail::use_own_gemm(m, n, xsimd::batch<T>::size)) {
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

    // The plan of one stride-1 convolution of `channels` planes of h x w padded by `pad`.
    Plan plan(std::size_t channels, std::size_t out_channels, std::size_t h, std::size_t w, std::size_t pad) const {
        return safnet::detail::plan_convolution<T>({channels, out_channels, h, w, pad, o_.kernel, o_.stride, algorithm_});
    }
    // The weights (out_channels x channels x k x k) in the plan's kernel layout, in packed_.
    void pack(const Plan& p, const T* w, std::size_t out_channels, std::size_t channels) {
        const std::size_t size = safnet::detail::packed_weight_size(p, out_channels, channels, o_.kernel);
        if (!size) return;
        packed_.resize(Shape{size});
        safnet::detail::pack_weights(p, w, out_channels, channels, o_.kernel, packed_.data());
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
        for (std::size_t t = 0; t < thread_pool().size(); ++t) {
            scratch_[t].partial_dwt.resize(Shape{g.ckk * ws.o_padded});
            scratch_[t].dyt.resize(Shape{g.ohw * ws.o_padded});
        }
    }

    // One image's weight gradient into its thread's transposed partial sum: pad x, transpose
    // dy to pixel-major rows (zero beyond the real output channels), accumulate.
    void accumulate_direct_wgrad(const Geometry& g, const safnet::detail::WgradShape& ws, const T* x, const T* dyn,
                                 safnet::detail::ConvScratch<T>& s) {
        const std::size_t hp = wgrad_rows(g);
        const T* xp = s.wgrad_pad.pad(x, g.c, g.h, g.w, o_.padding, hp, ws.wp, hp * ws.wp);
        safnet::detail::transpose_to_pixel_major(dyn, o_.out_channels, g.ohw, ws.o_padded, s.dyt.data());
        safnet::detail::wgrad_accumulate(ws, tap_offsets_.data(), xp, s.dyt.data(), s.partial_dwt.data());
    }

    bool is_pointwise() const noexcept { return o_.kernel == 1 && o_.stride == 1 && o_.padding == 0; }

    // Sizes every pool thread's scratch; `cols`, `dcols`: whether the im2col paths need theirs.
    void prepare_scratch(const Geometry& g, bool cols, bool dcols) {
        const std::size_t threads = thread_pool().size();
        safnet::detail::ensure_scratch(scratch_, threads);
        for (std::size_t t = 0; t < threads; ++t) {
            safnet::detail::ConvScratch<T>& s = scratch_[t];
            if (cols && !is_pointwise()) s.cols.resize(Shape{g.ckk, g.ohw});
            if (dcols) s.dcols.resize(Shape{std::max(g.ckk * g.ohw, o_.out_channels * o_.kernel * o_.kernel * g.h * g.w)});
            s.partial_dw.resize(Shape{o_.out_channels, g.ckk});
        }
        grad_eff_.resize(weight_.raw().shape());
    }

    // The columns of one image (c * k * k rows of oh * ow); a 1x1 stride-1 unpadded conv
    // reads x as is.
    const T* columns(const T* x, const Geometry& g, Tensor<T>& col) const {
        if (is_pointwise()) return x;
        safnet::detail::im2col(unfold_shape(g), x, col.data());
        return col.data();
    }

    Conv2dOptions o_;
    SafWeight<T> weight_;
    Tensor<T> bias_, grad_weight_, grad_bias_, grad_eff_, flipped_;
    ConvAlgorithm algorithm_ = ConvAlgorithm::automatic;
    Geometry forward_{};  // set by prepare_forward() for forward_image()
    Plan forward_plan_{};
    Tensor<T> packed_;
    std::vector<safnet::detail::ConvScratch<T>> scratch_;
    std::vector<std::size_t> tap_offsets_;
};

}  // namespace safnet::nn
