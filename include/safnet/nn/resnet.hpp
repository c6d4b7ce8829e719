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
// first step a training step does not allocate. This header defines the model (its blocks and
// their fused per-image steps); the eval schedule is nn::DepthFirstExecutor's (executor.hpp),
// the option-A shortcut nn::SubsampleShortcut's (shortcut.hpp).
// Contract: backward() requires a train-mode forward() since the last eval pass (else Error);
// forward_segments() requires what its comment lists; the object is neither copyable nor
// movable (its parameter table points into it).
#pragma once

#include <safnet/random/philox.hpp>
#include <safnet/nn/activation.hpp>
#include <safnet/nn/batchnorm.hpp>
#include <safnet/nn/conv2d.hpp>
#include <safnet/nn/executor.hpp>
#include <safnet/nn/linear.hpp>
#include <safnet/nn/pooling.hpp>
#include <safnet/nn/shortcut.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace safnet::nn {

template <std::floating_point T>
class BasicBlock {
public:
    BasicBlock(std::size_t in, std::size_t out, std::size_t stride, Shortcut kind, const AnySaf& saf)
        : conv1_({in, out, 3, stride, 1}, saf), bn1_(out), conv2_({out, out, 3, 1, 1}, saf), bn2_(out),
          subsample_{in, out, stride} {
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
            subsample_.forward(x, sb_);
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
            subsample_.forward_image(x, in_shape_, shortcut);
            sc = shortcut;
        }
        conv2_.forward_image(mid, y, t);
        bn2_.eval_image(y, y, sc, out_hw_, true);
    }
    /// The output shape for an input of shape `in` (nothing is prepared).
    Shape output_shape(const Shape& in) const { return conv2_.output_shape(conv1_.output_shape(in)); }
    /// f(conv, its input shape) for each conv, given the block's input shape `in`.
    template <class F>
    void for_each_conv_shape(const Shape& in, F&& f) const {
        f(conv1_, in);
        f(conv2_, conv1_.output_shape(in));
        if (proj_conv_) f(*proj_conv_, in);
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
                subsample_.backward_add(dsum.data() + n * out_image, d, x.shape());
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
    static void add_to(const T* __restrict src, T* __restrict d, std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) d[i] = d[i] + src[i];
    }
    // ReLU backward in place, from the ReLU's output y.
    static void mask_positive(const T* __restrict y, T* __restrict d, std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) d[i] = relu_grad(y[i], d[i]);
    }

    // Eval mode, one image at a time (forward_eval_image) on each pool thread.
    void forward_eval_fused(const Tensor<T>& x, Tensor<T>& y) {
        y.resize(output_shape(x.shape()));
        const std::size_t out_image = y.size() / y.shape()[0];
        executor_.run(std::span<BasicBlock>(this, 1), x.shape(), x.data(), {}, [&](std::size_t n, const T* out, bool, std::size_t) {
            std::copy(out, out + out_image, y.data() + n * out_image);
        });
    }

    Conv2d<T> conv1_;
    BatchNorm2d<T> bn1_;
    Conv2d<T> conv2_;
    BatchNorm2d<T> bn2_;
    std::optional<Conv2d<T>> proj_conv_;
    std::optional<BatchNorm2d<T>> proj_bn_;
    SubsampleShortcut<T> subsample_;
    bool pad_ = false, has_backward_state_ = false;
    Shape in_shape_;          // of the batch given to prepare_eval_images()
    std::size_t out_hw_ = 0;  // output plane size, likewise
    Tensor<T> a1_, r1_, a2_, sa_, sb_, dsum_, g1_, g2_, proj_dx_;
    DepthFirstExecutor<T> executor_;  // forward_eval_fused's
};

/// How ResNet::forward_segments() runs one batch in eval mode. A network is cut into segments:
/// 0 the stem (conv, BN, ReLU, ResNet18's max pool), 1..B the basic blocks, B+1 the head
/// (global average pool, classifier). Cut s (1 <= s <= B+1) is the input of segment s, per
/// image; cut B+1 is the pooled feature vector.
template <std::floating_point T>
struct SegmentPass {
    std::size_t start = 0;     // first segment computed; for start >= 1 its input cut is read from `input`
    const T* input = nullptr;  // start >= 1: cut `start` of every image of the batch, contiguous
    std::span<T* const> record{};  // record[s] non-null: cut s of every image is written there
    bool nan_exit = false;     // an image whose activations hold a NaN stops there: all its logits are NaN
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
        stem_->for_each_parameter("conv1", collect(0));
        stem_bn_->for_each_parameter("bn1", collect(0));
        for (std::size_t i = 0; i < blocks_.size(); ++i) blocks_[i].for_each_parameter(names_[i], collect(i + 1));
        fc_->for_each_parameter("fc", collect(blocks_.size() + 1));
    }
    ResNet(const ResNet&) = delete;
    ResNet& operator=(const ResNet&) = delete;

    /// Every trainable tensor, in a fixed order, with PyTorch state_dict names.
    std::vector<Parameter<T>>& parameters() noexcept { return params_; }

    const ResNetOptions& options() const noexcept { return options_; }

    /// He-normal conv weights (fan-in), PyTorch's default uniform linear init, BN = (1, 0),
    /// all drawn from Philox with `seed`.
    void initialize(std::uint64_t seed) {
        random::PhiloxStream rng({seed, 0xffffffffu, 0});
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
        check_input(x.shape());
        if (mode == Mode::eval && !stem_bn_->tracking_activation_max() && !eval_tracks_max()) return forward_segments(x, {});
        stem_->forward(x, stem_out_);
        stem_bn_->forward(stem_out_, stem_relu_, mode, nullptr, true);
        trained_forward_ = mode == Mode::train;
        const Tensor<T>* h = &stem_relu_;
        if (imagenet_) {
            pool_.forward(stem_relu_, pool_out_);
            h = &pool_out_;
        }
        for (std::size_t i = 0; i < blocks_.size(); ++i) {
            blocks_[i].forward(*h, outs_[i], mode);
            h = &outs_[i];
        }
        GlobalAvgPool<T>::forward(*h, gap_);
        fc_->forward(gap_, logits_);
        input_ = &x;
        return logits_;
    }

    /// Eval mode in segments (SegmentPass): starting at segment pass.start from a stored cut,
    /// recording cuts, stopping NaN images early. Every image that does not stop gets the
    /// logits forward(x, Mode::eval) gives, bit for bit: the same operations run; an image
    /// that stops (nan_exit) gets all-NaN logits, which forward() also gives it whenever
    /// nan_reaches_logits(). x gives the batch's shape; its values are read only when
    /// pass.start == 0.
    /// Requires: no BN tracks activation maxima; pass.start < segment_count(); pass.input
    /// holds cut pass.start of the batch's images when pass.start >= 1; every record[s] has
    /// room for the batch's cut s.
    const Tensor<T>& forward_segments(const Tensor<T>& x, const SegmentPass<T>& pass) {
        check_input(x.shape());
        if (pass.start >= segment_count())
            throw Error("ResNet: segment " + std::to_string(pass.start) + " does not exist (" + std::to_string(segment_count()) + " segments)");
        if (pass.start > 0 && !pass.input) throw Error("ResNet: a pass starting at segment " + std::to_string(pass.start) + " needs its input cut");
        if (stem_bn_->tracking_activation_max() || eval_tracks_max()) throw Error("ResNet: segment evaluation while BN layers track activation maxima");
        trained_forward_ = false;
        input_ = &x;
        if (pass.start > 0) {
            run_blocks(pass.input, block_input_shape(x.shape()), pass);
        } else {  // BN + ReLU in the conv's epilogue
            const Shape stem_conv = stem_->output_shape(x.shape());
            stem_->forward(x, stem_relu_, stem_bn_->eval_epilogue(stem_conv[2] * stem_conv[3], true));
            const Tensor<T>* h = &stem_relu_;
            if (imagenet_) {
                pool_.forward(stem_relu_, pool_out_);
                h = &pool_out_;
            }
            run_blocks(h->data(), h->shape(), pass);
        }
        fc_->forward(gap_, logits_);
        return logits_;
    }

    /// Segments of forward_segments(): the stem, each block, the head.
    std::size_t segment_count() const noexcept { return blocks_.size() + 2; }
    /// The segment that reads the parameter tensor `value` (one of parameters()).
    std::size_t segment_of(const Tensor<T>* value) const {
        for (std::size_t i = 0; i < params_.size(); ++i)
            if (params_[i].value == value) return param_segment_[i];
        throw Error("ResNet::segment_of: the tensor is not a parameter of this model");
    }
    /// Elements per image of each cut for a batch of shape `in` (index 0: the input image).
    std::vector<std::size_t> cut_elements(const Shape& in) const {
        check_input(in);
        std::vector<std::size_t> e{in[1] * in[2] * in[3]};
        Shape s = block_input_shape(in);
        for (const auto& b : blocks_) {
            e.push_back(s[1] * s[2] * s[3]);
            s = b.output_shape(s);
        }
        e.push_back(s[1]);
        return e;
    }
    /// Multiply-adds per image of each segment for a batch of shape `in`.
    std::vector<double> segment_costs(const Shape& in) const {
        check_input(in);
        const auto macs = [](const Conv2d<T>& c, const Shape& s) {
            const Shape o = c.output_shape(s);
            const auto& opt = c.options();
            return static_cast<double>(opt.out_channels * opt.in_channels * opt.kernel * opt.kernel * o[2] * o[3]);
        };
        std::vector<double> cost{macs(*stem_, in)};
        Shape s = block_input_shape(in);
        for (const auto& b : blocks_) {
            double c = 0;
            b.for_each_conv_shape(s, [&](const Conv2d<T>& conv, const Shape& cs) { c += macs(conv, cs); });
            cost.push_back(c);
            s = b.output_shape(s);
        }
        cost.push_back(static_cast<double>(s[1] * (s[2] * s[3] + options_.num_classes)));
        return cost;
    }
    /// Whether a NaN anywhere in an image's block activations reaches every one of its logits
    /// (so that forward_segments' nan_exit gives exactly forward()'s logits): true unless an
    /// activation limit (Clip-Act, which turns NaN into 0) is set. Why: the fused ReLU keeps
    /// NaN, BN is a per-channel affine map, every block conv is 3x3 with padding 1 and
    /// stride <= 2 (each input position lies in some window, and every output channel sums
    /// all input channels), so a NaN at a block's output reaches every channel of the next
    /// block's output; global pooling averages every position and the classifier sums every
    /// feature; NaN survives +, - and * with anything.
    bool nan_reaches_logits() {
        bool limited = false;
        for_each_relu_batchnorm([&](const BatchNorm2d<T>& bn) { limited |= bn.activation_limit() >= T(0); });
        return !limited;
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
    auto collect(std::size_t segment) {
        return [this, segment](const Parameter<T>& p) {
            params_.push_back(p);
            param_segment_.push_back(segment);
        };
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

    void check_input(const Shape& in) const {
        require_rank(in, 4, "ResNet");
        if (in[1] != options_.in_channels)
            throw Error("ResNet: input has " + std::to_string(in[1]) + " channels, model expects " + std::to_string(options_.in_channels));
    }
    // The shape of block 0's input (the stem's, after ResNet18's max pool).
    Shape block_input_shape(const Shape& in) const {
        const Shape s = stem_->output_shape(in);
        return imagenet_ ? detail::pooled_shape(s, stem_pool_, "MaxPool2d") : s;
    }

    // Eval mode from block pass.start - 1 (block 0 for the stem): every block depth-first
    // (nn/executor.hpp), then the global average pool of each image on its thread; segment
    // s's input cut is block s - 1's input, the head's the pooled features. `in0` holds the
    // first computed segment's input cut for every image; `s` is block 0's input shape.
    void run_blocks(const T* in0, Shape s, const SegmentPass<T>& pass) {
        const profile::Scope scope(profile::Kind::conv_forward);
        const std::size_t batch = s[0], head = blocks_.size() + 1;
        const auto recorded = [&](std::size_t cut) -> T* { return cut < pass.record.size() ? pass.record[cut] : nullptr; };
        Shape out = s;
        for (const auto& b : blocks_) out = b.output_shape(out);
        const std::size_t channels = out[1], hw = out[2] * out[3];
        gap_.resize(Shape{batch, channels});
        if (pass.start == head) {  // only the classifier is left
            std::copy(in0, in0 + batch * channels, gap_.data());
            if (T* r = recorded(head)) std::copy(in0, in0 + batch * channels, r);
            return;
        }
        block_record_.assign(blocks_.size(), nullptr);
        for (std::size_t i = 0; i < blocks_.size(); ++i) block_record_[i] = recorded(i + 1);
        const DepthFirstPass<T> blocks_pass{pass.start == 0 ? 0 : pass.start - 1, block_record_, pass.nan_exit};
        executor_.run(std::span<BasicBlock<T>>(blocks_), s, in0, blocks_pass, [&](std::size_t n, const T* last, bool stopped, std::size_t) {
            T* features = gap_.data() + n * channels;
            if (stopped) {
                std::fill(features, features + channels, std::numeric_limits<T>::quiet_NaN());
            } else {
                for (std::size_t c = 0; c < channels; ++c) features[c] = GlobalAvgPool<T>::plane_mean(last + c * hw, hw);
            }
            if (T* r = recorded(head)) std::copy(features, features + channels, r + n * channels);
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
    static constexpr PoolOptions stem_pool_{3, 2, 1};  // ResNet18
    MaxPool2d<T> pool_{stem_pool_};
    std::vector<BasicBlock<T>> blocks_;
    std::vector<std::string> names_;
    std::optional<Linear<T>> fc_;
    const Tensor<T>* input_ = nullptr;
    bool trained_forward_ = false;
    Tensor<T> stem_out_, stem_relu_, pool_out_, gap_, logits_, dgap_, da_, db_, dinput_;
    std::vector<Tensor<T>> outs_;
    DepthFirstExecutor<T> executor_;   // run_blocks'
    std::vector<T*> block_record_;     // run_blocks: where each block's input is recorded
    std::vector<Parameter<T>> params_;
    std::vector<std::size_t> param_segment_;  // parallel to params_
};

}  // namespace safnet::nn
