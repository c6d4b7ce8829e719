// safnet/nn/resnet.hpp — ResNets for CIFAR-like (He et al. 2016, Sec. 4.2) and ImageNet-like
// inputs, every conv and linear weight parametrized by one SAF.
//
//   ResNet<T> model({.arch = "resnet20", .in_channels = 3, .num_classes = 10, .shortcut = Shortcut::A});
// CIFAR-style resnet20/32/44/56/110: 3x3 conv (16) + BN + ReLU, three stages of n = (depth-2)/6
// basic blocks with 16/32/64 channels (stride 2 entering stages 2 and 3), global average
// pooling, linear. Shortcuts where shape changes: option A (subsample, zero-pad channels,
// parameter-free) or option B (1x1 conv + BN). ImageNet-style resnet18: 7x7/2 conv (64) + BN +
// ReLU + 3x3/2 max pool, four stages of two blocks with 64/128/256/512 channels, projection
// shortcuts. Any input channel count, input size and class count.
// Parameter names follow torchvision's state_dict ("layer1.0.conv1.weight",
// "layer2.0.downsample.0.weight", "fc.weight"), so checkpoints map onto PyTorch models.
// forward() keeps the activations that backward() needs; workspaces are reused, so after the
// first step a training step does not allocate.
#pragma once

#include <safnet/fault/philox.hpp>
#include <safnet/nn/activation.hpp>
#include <safnet/nn/batchnorm.hpp>
#include <safnet/nn/conv2d.hpp>
#include <safnet/nn/linear.hpp>
#include <safnet/nn/pooling.hpp>

#include <cmath>
#include <optional>
#include <string>
#include <vector>

namespace safnet::nn {

enum class Shortcut { A, B };

template <std::floating_point T>
class BasicBlock {
public:
    BasicBlock(std::size_t in, std::size_t out, std::size_t stride, Shortcut kind, const AnySaf& saf)
        : conv1_({in, out, 3, stride, 1}, saf), bn1_(out), conv2_({out, out, 3, 1, 1}, saf), bn2_(out),
          in_(in), out_(out), stride_(stride) {
        if (stride != 1 || in != out) {
            if (kind == Shortcut::B) {
                proj_conv_.emplace(Conv2dOptions{in, out, 1, stride, 0}, saf);
                proj_bn_.emplace(out);
            } else {
                pad_ = true;
            }
        }
    }

    void forward(const Tensor<T>& x, Tensor<T>& y, Mode mode) {
        if (mode == Mode::eval && !eval_tracks_max()) {
            forward_eval_fused(x, y);
            return;
        }
        conv1_.forward(x, a1_);
        bn1_.forward(a1_, r1_, mode, nullptr, true);  // r1 = relu(bn1(a1)), fused
        conv2_.forward(r1_, a2_);
        const Tensor<T>* shortcut = &x;
        if (proj_conv_) {
            proj_conv_->forward(x, sa_);
            proj_bn_->forward(sa_, sb_, mode);
            shortcut = &sb_;
        } else if (pad_) {
            pad_forward(x, sb_);
            shortcut = &sb_;
        }
        bn2_.forward(a2_, y, mode, shortcut, true);  // y = relu(bn2(a2) + shortcut), fused
        has_backward_state_ = true;
    }

    /// Eval mode, one image at a time, for depth-first evaluation (ResNet runs all blocks on an
    /// image while it is in cache): prepare_eval_images(input shape) once per batch (returns
    /// the output shape), then forward_eval_image() for any image of that shape on pool thread
    /// t, with two scratch images of the output's size. Every BN (+ shortcut + ReLU) is applied
    /// in place right after its conv: the same operations, so the same bits, as forward().
    /// Not while a BN tracks activation maxima (eval_tracks_max()).
    Shape prepare_eval_images(const Shape& in) {
        has_backward_state_ = false;
        in_shape_ = in;
        const Shape out = conv1_.prepare_forward(in);
        conv2_.prepare_forward(out);
        bn1_.begin_eval_images();
        bn2_.begin_eval_images();
        if (proj_conv_) {
            proj_conv_->prepare_forward(in);
            proj_bn_->begin_eval_images();
        }
        out_hw_ = out[2] * out[3];
        return out;
    }
    void forward_eval_image(const T* x, T* y, T* mid, T* shortcut, std::size_t t) {
        conv1_.forward_image(x, mid, t);
        bn1_.eval_image(mid, mid, nullptr, out_hw_, true);
        const T* sc = x;
        if (proj_conv_) {
            proj_conv_->forward_image(x, shortcut, t);
            proj_bn_->eval_image(shortcut, shortcut, nullptr, out_hw_, false);
            sc = shortcut;
        } else if (pad_) {
            pad_image_forward(x, in_shape_, shortcut);
            sc = shortcut;
        }
        conv2_.forward_image(mid, y, t);
        bn2_.eval_image(y, y, sc, out_hw_, true);
    }
    bool eval_tracks_max() const noexcept {
        return bn1_.tracking_activation_max() || bn2_.tracking_activation_max() ||
               (proj_bn_ && proj_bn_->tracking_activation_max());
    }

    /// dx = d loss / d x given dy = d loss / d y (y, x as in the forward call).
    void backward(const Tensor<T>& x, const Tensor<T>& y, const Tensor<T>& dy, Tensor<T>& dx) {
        ReLU<T>::backward(y, dy, dsum_);
        backward_from_sum(x, dsum_, dx, false);
    }

    /// The chained form models use: dsum = d loss / d (bn2(a2) + shortcut), the gradient
    /// before the block's final ReLU. With mask_input (x is itself a ReLU output, as inside a
    /// ResNet), dx is multiplied by [x > 0]: it is then the previous block's dsum, and the
    /// ReLU backward pass between blocks disappears into this block's conv1 epilogue. Every
    /// per-image fix-up (ReLU masks, the shortcut's gradient) runs there, while the image is
    /// in cache; the values are those of the unfused sequence, bit for bit.
    void backward_from_sum(const Tensor<T>& x, const Tensor<T>& dsum, Tensor<T>& dx, bool mask_input) {
        if (!has_backward_state_) throw Error("BasicBlock: backward() needs a train-mode forward() first");
        const std::size_t in_image = x.size() / x.shape()[0], mid_image = r1_.size() / r1_.shape()[0];
        bn2_.backward(a2_, dsum, g1_);
        conv2_.backward(r1_, g1_, g2_, [&](std::size_t n, T* d) { mask_positive(r1_.data() + n * mid_image, d, mid_image); });
        bn1_.backward(a1_, g2_, g1_);
        if (proj_conv_) {
            proj_bn_->backward(sa_, dsum, g2_);
            proj_conv_->backward(x, g2_, proj_dx_);
        }
        const std::size_t out_image = dsum.size() / dsum.shape()[0];
        conv1_.backward(x, g1_, dx, [&](std::size_t n, T* d) {
            if (proj_conv_) {
                add_to(proj_dx_.data() + n * in_image, d, in_image);
            } else if (pad_) {
                pad_backward_add(dsum.data() + n * out_image, d, x.shape());
            } else {
                add_to(dsum.data() + n * in_image, d, in_image);
            }
            if (mask_input) mask_positive(x.data() + n * in_image, d, in_image);
        });
    }

    template <class Visit>
    void for_each_parameter(const std::string& p, Visit&& v) {
        conv1_.for_each_parameter(join_name(p, "conv1"), v);
        bn1_.for_each_parameter(join_name(p, "bn1"), v);
        conv2_.for_each_parameter(join_name(p, "conv2"), v);
        bn2_.for_each_parameter(join_name(p, "bn2"), v);
        if (proj_conv_) {
            proj_conv_->for_each_parameter(join_name(p, "downsample.0"), v);
            proj_bn_->for_each_parameter(join_name(p, "downsample.1"), v);
        }
    }
    template <class Visit>
    void for_each_buffer(const std::string& p, Visit&& v) {
        bn1_.for_each_buffer(join_name(p, "bn1"), v);
        bn2_.for_each_buffer(join_name(p, "bn2"), v);
        if (proj_bn_) proj_bn_->for_each_buffer(join_name(p, "downsample.1"), v);
    }
    template <class F>
    void for_each_conv(F&& f) {
        f(conv1_);
        f(conv2_);
        if (proj_conv_) f(*proj_conv_);
    }
    /// The BN layers whose output goes through a (fused) ReLU: bn1 and bn2.
    template <class F>
    void for_each_relu_batchnorm(F&& f) {
        f(bn1_);
        f(bn2_);
    }

private:
    // Option A: x[:, :, ::s, ::s] with (out-in)/2 zero channels before and the rest after.
    void pad_forward(const Tensor<T>& x, Tensor<T>& s) const {
        const Shape& is = x.shape();
        const std::size_t oh = (is[2] + stride_ - 1) / stride_, ow = (is[3] + stride_ - 1) / stride_;
        s.resize(Shape{is[0], out_, oh, ow});
        for (std::size_t n = 0; n < is[0]; ++n) pad_image_forward(x.data() + n * (x.size() / is[0]), is, s.data() + n * out_ * oh * ow);
    }
    // One image (shape `is` without the batch) into s: every element written.
    void pad_image_forward(const T* x, const Shape& is, T* s) const {
        const std::size_t oh = (is[2] + stride_ - 1) / stride_, ow = (is[3] + stride_ - 1) / stride_;
        const std::size_t lo = (out_ - in_) / 2, plane = oh * ow;
        std::fill(s, s + lo * plane, T(0));
        std::fill(s + (lo + in_) * plane, s + out_ * plane, T(0));
        for (std::size_t c = 0; c < in_; ++c)
            for (std::size_t i = 0; i < oh; ++i)
                for (std::size_t j = 0; j < ow; ++j)
                    s[((c + lo) * oh + i) * ow + j] = x[(c * is[2] + i * stride_) * is[3] + j * stride_];
    }
    // One image: dx[c, i*s, j*s] += ds[c + lo, i, j] (dx of shape `is`, without the batch).
    void pad_backward_add(const T* ds, T* dx, const Shape& is) const {
        const std::size_t oh = (is[2] + stride_ - 1) / stride_, ow = (is[3] + stride_ - 1) / stride_, lo = (out_ - in_) / 2;
        for (std::size_t c = 0; c < in_; ++c)
            for (std::size_t i = 0; i < oh; ++i)
                for (std::size_t j = 0; j < ow; ++j)
                    dx[(c * is[2] + i * stride_) * is[3] + j * stride_] += ds[((c + lo) * oh + i) * ow + j];
    }
    static void add_to(const T* __restrict src, T* __restrict d, std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) d[i] = d[i] + src[i];
    }
    // ReLU backward in place, from the ReLU's output y.
    static void mask_positive(const T* __restrict y, T* __restrict d, std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) d[i] = relu_grad(y[i], d[i]);
    }

    // Eval mode, one image at a time (forward_eval_image) on each pool thread.
    void forward_eval_fused(const Tensor<T>& x, Tensor<T>& y) {
        y.resize(prepare_eval_images(x.shape()));
        const std::size_t in_image = x.size() / x.shape()[0], out_image = y.size() / y.shape()[0];
        const std::size_t threads = thread_pool().size();
        scratch_.resize(threads);
        for (auto& t : scratch_) t.resize(Shape{2 * out_image});
        thread_pool().parallel_for(x.shape()[0], [&](std::size_t b, std::size_t e, std::size_t t) {
            T* mid = scratch_[t].data();
            for (std::size_t n = b; n < e; ++n)
                forward_eval_image(x.data() + n * in_image, y.data() + n * out_image, mid, mid + out_image, t);
        });
    }

    Conv2d<T> conv1_;
    BatchNorm2d<T> bn1_;
    Conv2d<T> conv2_;
    BatchNorm2d<T> bn2_;
    std::optional<Conv2d<T>> proj_conv_;
    std::optional<BatchNorm2d<T>> proj_bn_;
    bool pad_ = false, has_backward_state_ = false;
    std::size_t in_, out_, stride_;
    Shape in_shape_;          // of the batch given to prepare_eval_images()
    std::size_t out_hw_ = 0;  // output plane size, likewise
    Tensor<T> a1_, r1_, a2_, sa_, sb_, dsum_, g1_, g2_, proj_dx_;
    std::vector<Tensor<T>> scratch_;  // per thread: forward_eval_fused's mid and shortcut images
};

struct ResNetOptions {
    std::string arch = "resnet20";
    std::size_t in_channels = 3;
    std::size_t num_classes = 10;
    Shortcut shortcut = Shortcut::A;
    AnySaf saf = Identity{};
};

template <std::floating_point T>
class ResNet {
public:
    explicit ResNet(const ResNetOptions& o) : options_(o) {
        std::vector<std::size_t> widths, blocks;
        if (o.arch == "resnet18") {
            imagenet_ = true;
            widths = {64, 128, 256, 512};
            blocks = {2, 2, 2, 2};
        } else {
            const auto depth = cifar_depth(o.arch);
            widths = {16, 32, 64};
            blocks.assign(3, (depth - 2) / 6);
        }
        if (!o.in_channels || !o.num_classes) throw Error("ResNet: in_channels and num_classes must be positive");
        const Shortcut kind = imagenet_ ? Shortcut::B : o.shortcut;
        stem_.emplace(imagenet_ ? Conv2dOptions{o.in_channels, widths[0], 7, 2, 3} : Conv2dOptions{o.in_channels, widths[0], 3, 1, 1},
                      o.saf);
        stem_bn_.emplace(widths[0]);
        std::size_t in = widths[0];
        for (std::size_t s = 0; s < widths.size(); ++s)
            for (std::size_t b = 0; b < blocks[s]; ++b) {
                const std::size_t stride = (s > 0 && b == 0) ? 2 : 1;
                blocks_.emplace_back(in, widths[s], stride, kind, o.saf);
                names_.push_back("layer" + std::to_string(s + 1) + "." + std::to_string(b));
                in = widths[s];
            }
        fc_.emplace(in, o.num_classes, true, o.saf);
        outs_.resize(blocks_.size());
        // The parameter table is built once: optimizers walk it every step without
        // building names (no allocation per step). It points into this object, which is
        // therefore neither copyable nor movable.
        stem_->for_each_parameter("conv1", collect());
        stem_bn_->for_each_parameter("bn1", collect());
        for (std::size_t i = 0; i < blocks_.size(); ++i) blocks_[i].for_each_parameter(names_[i], collect());
        fc_->for_each_parameter("fc", collect());
    }
    ResNet(const ResNet&) = delete;
    ResNet& operator=(const ResNet&) = delete;

    /// Every trainable tensor, in a fixed order, with PyTorch state_dict names.
    std::vector<Parameter<T>>& parameters() noexcept { return params_; }

    const ResNetOptions& options() const noexcept { return options_; }

    /// He-normal conv weights (fan-in), PyTorch's default uniform linear init, BN = (1, 0),
    /// all drawn from Philox with `seed`.
    void initialize(std::uint64_t seed) {
        fault::PhiloxStream rng({seed, 0xffffffffu, 0});
        auto normal = [&] {  // Box-Muller
            const double u1 = rng.next_open0(), u2 = rng.next_open0();
            return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
        };
        for_each_conv([&](Conv2d<T>& c) {
            const auto& o = c.options();
            const double sd = std::sqrt(2.0 / static_cast<double>(o.in_channels * o.kernel * o.kernel));
            for (auto& w : c.weight().raw().span()) w = static_cast<T>(normal() * sd);
            c.refresh_weights();
        });
        const double bound = 1.0 / std::sqrt(static_cast<double>(fc_->weight().raw().shape()[1]));
        for (auto& w : fc_->weight().raw().span()) w = static_cast<T>((2 * rng.next_open0() - 1) * bound);
        for (auto& b : fc_->bias().span()) b = static_cast<T>((2 * rng.next_open0() - 1) * bound);
        fc_->refresh_weights();
    }

    const Tensor<T>& forward(const Tensor<T>& x, Mode mode) {
        require_rank(x.shape(), 4, "ResNet");
        if (x.shape()[1] != options_.in_channels)
            throw Error("ResNet: input has " + std::to_string(x.shape()[1]) + " channels, model expects " +
                        std::to_string(options_.in_channels));
        if (mode == Mode::eval && !stem_bn_->tracking_activation_max()) {  // BN + ReLU in the conv's epilogue
            const Shape s = stem_->output_shape(x.shape());
            stem_->forward(x, stem_relu_, stem_bn_->eval_epilogue(s[2] * s[3], true));
        } else {
            stem_->forward(x, stem_out_);
            stem_bn_->forward(stem_out_, stem_relu_, mode, nullptr, true);
        }
        trained_forward_ = mode == Mode::train;
        const Tensor<T>* h = &stem_relu_;
        if (imagenet_) {
            pool_.forward(stem_relu_, pool_out_);
            h = &pool_out_;
        }
        if (mode == Mode::eval && !eval_tracks_max()) {
            forward_blocks_depth_first(*h);
        } else {
            for (std::size_t i = 0; i < blocks_.size(); ++i) {
                blocks_[i].forward(*h, outs_[i], mode);
                h = &outs_[i];
            }
            GlobalAvgPool<T>::forward(*h, gap_);
        }
        fc_->forward(gap_, logits_);
        input_ = &x;
        return logits_;
    }

    /// Backpropagates d loss / d logits through the last forward() (which must have been in
    /// train mode); fills every parameter gradient, and with want_input_grad also
    /// d loss / d input (input_grad()), which training does not need.
    void backward(const Tensor<T>& dlogits, bool want_input_grad = false) {
        if (!trained_forward_) throw Error("ResNet: backward() needs a train-mode forward() first");
        fc_->backward(gap_, dlogits, dgap_);
        GlobalAvgPool<T>::backward(outs_.back(), dgap_, da_);
        // Every block input is a ReLU output: the ReLU backward pass between blocks runs in
        // each block's conv1 epilogue (backward_from_sum with mask_input), so da_ holds the
        // gradient before a ReLU from here on.
        ReLU<T>::backward(outs_.back(), da_, db_);
        std::swap(da_, db_);
        for (std::size_t i = blocks_.size(); i-- > 0;) {
            blocks_[i].backward_from_sum(block_input(i), da_, db_, true);
            std::swap(da_, db_);
        }
        if (imagenet_) {  // masking before the max pool equals ReLU backward after it: a pooled
            pool_.backward(stem_relu_, da_, db_);  // value is positive iff its argmax input is
            std::swap(da_, db_);
        }
        stem_bn_->backward(stem_out_, da_, db_);
        if (want_input_grad) {
            stem_->backward(*input_, db_, dinput_);
        } else {
            stem_->backward_weights(*input_, db_);
            dinput_.resize(Shape{0});
        }
    }

    /// Gradient with respect to the input of the last backward(..., true); empty otherwise.
    const Tensor<T>& input_grad() const noexcept { return dinput_; }

    template <class Visit>
    void for_each_parameter(Visit&& v) {
        for (const auto& p : params_) v(p);
    }
    template <class Visit>
    void for_each_buffer(Visit&& v) {
        stem_bn_->for_each_buffer("bn1", v);
        for (std::size_t i = 0; i < blocks_.size(); ++i) blocks_[i].for_each_buffer(names_[i], v);
    }
    template <class F>
    void for_each_conv(F&& f) {
        f(*stem_);
        for (auto& b : blocks_) b.for_each_conv(f);
    }
    /// Every BN layer followed by a ReLU (fused), in forward order: where activation
    /// clipping (BatchNorm2d::set_activation_limit) acts.
    template <class F>
    void for_each_relu_batchnorm(F&& f) {
        f(*stem_bn_);
        for (auto& b : blocks_) b.for_each_relu_batchnorm(f);
    }

    std::size_t parameter_count() {
        std::size_t n = 0;
        for_each_parameter([&](const Parameter<T>& p) { n += p.value->size(); });
        return n;
    }

    /// Recomputes tau(raw) of every SAF-parametrized weight (after an optimizer step).
    void refresh_weights() {
        for_each_parameter([](const Parameter<T>& p) {
            if (p.saf) p.saf->refresh();
        });
    }

private:
    auto collect() {
        return [this](const Parameter<T>& p) { params_.push_back(p); };
    }
    static std::size_t cifar_depth(const std::string& arch) {
        for (std::size_t d : {20, 32, 44, 56, 110})
            if (arch == "resnet" + std::to_string(d)) return d;
        throw Error("unknown model '" + arch + "'; valid: resnet20, resnet32, resnet44, resnet56, resnet110, resnet18");
    }
    bool eval_tracks_max() const {
        for (const auto& b : blocks_)
            if (b.eval_tracks_max()) return true;
        return false;
    }

    // Eval mode: every block, then the global average pool, on one image at a time, each pool
    // thread on its own images. A batch's activations no longer stream through memory
    // between blocks (at batch 1000 each is 16-65 MB): they stay in per-thread buffers in
    // cache. The per-block activations (outs_) are therefore not kept in eval mode.
    void forward_blocks_depth_first(const Tensor<T>& x) {
        const profile::Scope scope(profile::Kind::conv_forward);
        const std::size_t batch = x.shape()[0], in_image = x.size() / batch;
        Shape s = x.shape();
        std::size_t largest = in_image;
        for (auto& b : blocks_) {
            s = b.prepare_eval_images(s);
            largest = std::max(largest, s[1] * s[2] * s[3]);
        }
        const std::size_t channels = s[1], hw = s[2] * s[3];
        gap_.resize(Shape{batch, channels});
        scratch_.resize(thread_pool().size());
        for (auto& t : scratch_) t.resize(Shape{4 * largest});
        thread_pool().parallel_for(batch, [&](std::size_t b, std::size_t e, std::size_t t) {
            T* buf = scratch_[t].data();
            for (std::size_t n = b; n < e; ++n) {
                const T* in = x.data() + n * in_image;
                for (std::size_t i = 0; i < blocks_.size(); ++i) {
                    T* out = buf + (i % 2) * largest;  // ping-pong; the other two are the block's scratch
                    blocks_[i].forward_eval_image(in, out, buf + 2 * largest, buf + 3 * largest, t);
                    in = out;
                }
                for (std::size_t c = 0; c < channels; ++c) gap_[n * channels + c] = GlobalAvgPool<T>::plane_mean(in + c * hw, hw);
            }
        });
    }

    const Tensor<T>& block_input(std::size_t i) const {
        if (i > 0) return outs_[i - 1];
        return imagenet_ ? pool_out_ : stem_relu_;
    }

    ResNetOptions options_;
    bool imagenet_ = false;
    std::optional<Conv2d<T>> stem_;
    std::optional<BatchNorm2d<T>> stem_bn_;
    MaxPool2d<T> pool_{PoolOptions{3, 2, 1}};
    std::vector<BasicBlock<T>> blocks_;
    std::vector<std::string> names_;
    std::optional<Linear<T>> fc_;
    const Tensor<T>* input_ = nullptr;
    bool trained_forward_ = false;
    Tensor<T> stem_out_, stem_relu_, pool_out_, gap_, logits_, dgap_, da_, db_, dinput_;
    std::vector<Tensor<T>> outs_;
    std::vector<Tensor<T>> scratch_;  // per thread: depth-first evaluation's four images
    std::vector<Parameter<T>> params_;
};

}  // namespace safnet::nn
