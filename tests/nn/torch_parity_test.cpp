// Parity with PyTorch 1.13: fixtures written by tests/fixtures/make_torch_fixtures.py (run
// once with Debian's python3-torch; committed). Parameters follow the script's closed formula.
#include <safnet/nn/resnet.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <fstream>
#include <map>
#include <string>
#include <vector>

using namespace safnet::nn;

namespace {

struct Record {
    std::vector<std::size_t> shape;
    std::vector<double> values;
};

struct Fixture {
    std::map<std::string, Record> records;
    std::vector<std::string> param_order;  // from the grad: records, in state_dict order
    const Record& at(const std::string& name) const {
        auto it = records.find(name);
        if (it == records.end()) FAIL("fixture lacks " << name);
        return it->second;
    }
};

Fixture load(const std::string& name) {
    const std::string path = std::string(SAFNET_FIXTURE_DIR) + "/torch/" + name + ".bin";
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in.good());
    Fixture f;
    auto read = [&](void* p, std::size_t n) {
        in.read(static_cast<char*>(p), static_cast<std::streamsize>(n));
        return in.good();
    };
    for (;;) {
        std::uint32_t len = 0;
        if (!read(&len, 4)) break;
        std::string key(len, '\0');
        REQUIRE(read(key.data(), len));
        std::uint32_t rank = 0;
        REQUIRE(read(&rank, 4));
        Record r;
        r.shape.resize(rank);
        std::size_t n = 1;
        for (auto& d : r.shape) {
            std::uint64_t v = 0;
            REQUIRE(read(&v, 8));
            d = v;
            n *= d;
        }
        r.values.resize(n);
        REQUIRE(read(r.values.data(), n * 8));
        if (key.rfind("grad:", 0) == 0) f.param_order.push_back(key.substr(5));
        f.records.emplace(key, std::move(r));
    }
    return f;
}

double formula(std::size_t k, std::size_t i, double scale, double offset = 0) {
    return offset + scale * std::sin(0.37 * static_cast<double>(i) + 1.3 * static_cast<double>(k));
}

// The script's init_params rule, applied by name.
template <class T>
void init_like_script(const Fixture& f, std::vector<Parameter<T>> params) {
    REQUIRE(params.size() == f.param_order.size());
    for (auto& p : params) {
        const auto it = std::find(f.param_order.begin(), f.param_order.end(), p.name);
        REQUIRE(it != f.param_order.end());
        const auto k = static_cast<std::size_t>(it - f.param_order.begin());
        Tensor<T>& v = *p.value;
        const bool rank1 = v.shape().rank() == 1;
        const bool bn_weight = rank1 && p.name.size() >= 6 && p.name.compare(p.name.size() - 6, 6, "weight") == 0;
        const double scale = bn_weight ? 0.2 : rank1 ? 0.1 : std::sqrt(2.0 / static_cast<double>(v.size() / v.shape()[0]));
        for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<T>(formula(k, i, scale, bn_weight ? 1.0 : 0.0));
        if (p.saf) p.saf->refresh();
    }
}

template <class T>
Tensor<T> to_tensor(const Record& r) {
    Tensor<T> t;
    if (r.shape.size() == 4) t.resize(Shape{r.shape[0], r.shape[1], r.shape[2], r.shape[3]});
    else if (r.shape.size() == 2) t.resize(Shape{r.shape[0], r.shape[1]});
    else t.resize(Shape{r.shape[0]});
    for (std::size_t i = 0; i < t.size(); ++i) t[i] = static_cast<T>(r.values[i]);
    return t;
}

template <class T>
Tensor<T> loss_weights(const Tensor<T>& y) {
    Tensor<T> c(y.shape());
    for (std::size_t i = 0; i < c.size(); ++i) c[i] = static_cast<T>(formula(99, i, 1.0));
    return c;
}

// |got - want| <= tol * max(|want|, 1e-3 * max|want|): relative, with a floor for the tiny.
template <class T>
void require_close(const T* got, const Record& want, std::size_t n, double tol, const std::string& what) {
    double peak = 0;
    for (std::size_t i = 0; i < n; ++i) peak = std::max(peak, std::abs(want.values[i]));
    double worst = 0;
    for (std::size_t i = 0; i < n; ++i)
        worst = std::max(worst, std::abs(double(got[i]) - want.values[i]) / std::max(std::abs(want.values[i]), 1e-3 * peak + 1e-300));
    INFO(what << ": worst relative error " << worst);
    CHECK(worst <= tol);
}

template <class T>
void check_grads(const Fixture& f, const std::vector<Parameter<T>>& params, double tol) {
    for (const auto& p : params) {
        const Record& g = f.at("grad:" + p.name);
        require_close(p.grad->data(), g, g.values.size(), tol, "grad " + p.name);
        double norm = 0;
        for (std::size_t i = 0; i < p.grad->size(); ++i) norm += double((*p.grad)[i]) * double((*p.grad)[i]);
        const double want = f.at("gradnorm:" + p.name).values[0];
        INFO("grad norm " << p.name);
        CHECK(std::sqrt(norm) == Approx(want).epsilon(tol));
    }
}

template <class Layer>
std::vector<Parameter<double>> params_of(Layer& l) {
    std::vector<Parameter<double>> ps;
    l.for_each_parameter("", [&](const Parameter<double>& p) { ps.push_back(p); });
    return ps;
}

}  // namespace

TEST_CASE("PyTorch parity: Conv2d with bias, stride 2, padding 1", "[nn][torch]") {
    const Fixture f = load("conv");
    Conv2d<double> conv({3, 4, 3, 2, 1, true});
    init_like_script(f, params_of(conv));
    const Tensor<double> x = to_tensor<double>(f.at("input"));
    Tensor<double> y, dx;
    conv.forward(x, y);
    require_close(y.data(), f.at("output"), y.size(), 1e-10, "output");
    conv.backward(x, loss_weights(y), dx);
    require_close(dx.data(), f.at("dinput"), dx.size(), 1e-10, "dinput");
    check_grads(f, params_of(conv), 1e-10);
}

TEST_CASE("PyTorch parity: BatchNorm2d in train and eval mode", "[nn][torch]") {
    for (const char* name : {"bn_train", "bn_eval"}) {
        const Fixture f = load(name);
        BatchNorm2d<double> bn(3);
        const bool train = std::string(name) == "bn_train";
        if (!train) {
            bn.running_mean()[0] = 0.1; bn.running_mean()[1] = -0.2; bn.running_mean()[2] = 0.3;
            bn.running_var()[0] = 0.5; bn.running_var()[1] = 1.5; bn.running_var()[2] = 2.0;
        }
        init_like_script(f, params_of(bn));
        const Tensor<double> x = to_tensor<double>(f.at("input"));
        Tensor<double> y, dx;
        bn.forward(x, y, train ? Mode::train : Mode::eval);
        require_close(y.data(), f.at("output"), y.size(), 1e-10, std::string(name) + " output");
        bn.backward(x, loss_weights(y), dx);
        require_close(dx.data(), f.at("dinput"), dx.size(), 1e-10, std::string(name) + " dinput");
        check_grads(f, params_of(bn), 1e-10);
        require_close(bn.running_mean().data(), f.at("buffer:running_mean"), 3, 1e-12, "running_mean");
        require_close(bn.running_var().data(), f.at("buffer:running_var"), 3, 1e-12, "running_var");
    }
}

TEST_CASE("PyTorch parity: residual blocks (option A; option B with a tanh SAF)", "[nn][torch]") {
    for (const char* name : {"block_a", "block_b_tanh"}) {
        const Fixture f = load(name);
        const bool b = std::string(name) == "block_b_tanh";
        BasicBlock<double> block(4, 8, 2, b ? Shortcut::B : Shortcut::A, b ? safnet::AnySaf{safnet::Tanh{}} : safnet::AnySaf{});
        init_like_script(f, params_of(block));
        const Tensor<double> x = to_tensor<double>(f.at("input"));
        Tensor<double> y, dx;
        block.forward(x, y, Mode::train);
        require_close(y.data(), f.at("output"), y.size(), 1e-10, std::string(name) + " output");
        block.backward(x, y, loss_weights(y), dx);
        require_close(dx.data(), f.at("dinput"), dx.size(), 1e-10, std::string(name) + " dinput");
        check_grads(f, params_of(block), 1e-8);
    }
}

TEST_CASE("PyTorch parity: a whole ResNet20 with tanh on its weights, double and float", "[nn][torch]") {
    const Fixture f = load("resnet20_tanh");
    {
        ResNet<double> m({"resnet20", 3, 10, Shortcut::A, safnet::Tanh{}});
        init_like_script(f, m.parameters());
        const Tensor<double> x = to_tensor<double>(f.at("input"));
        const Tensor<double>& y = m.forward(x, Mode::train);
        require_close(y.data(), f.at("output"), y.size(), 1e-6, "logits (double)");
        m.backward(loss_weights(y), true);
        require_close(m.input_grad().data(), f.at("dinput"), x.size(), 1e-6, "dinput (double)");
        check_grads(f, m.parameters(), 1e-6);
        m.for_each_buffer([&](const std::string& n, Tensor<double>& b) {
            require_close(b.data(), f.at("buffer:" + n), b.size(), 1e-6, n);
        });
    }
    // Float against the double reference: the relative L2 error of the logits and of each
    // gradient (float rounding through 19 batch-normalized layers on a batch of 2). With the
    // direct kernels (rounding close to a plain sum) every gradient is within 1e-4. With the
    // default algorithm (Winograd for the 32x32 and 16x16 layers, agreeing with the direct
    // kernel to ~1e-6 relative: tests/nn/conv2d_test.cpp) the logits are within 1e-4, but a few
    // pre-activations within rounding of zero flip their ReLU mask, which moves the gradients
    // of the first layers (measured: up to 2e-3, at layer1.0.bn1.bias), so those are held to
    // 5e-3; a wrong formula gives errors of order 1.
    for (const auto& [algorithm, grad_tolerance] : {std::pair{ConvAlgorithm::direct, 1e-4}, std::pair{ConvAlgorithm::automatic, 5e-3}}) {
        CAPTURE(algorithm == ConvAlgorithm::direct);
        ResNet<float> m({"resnet20", 3, 10, Shortcut::A, safnet::Tanh{}});
        m.for_each_conv([a = algorithm](Conv2d<float>& c) { c.set_algorithm(a); });
        init_like_script(f, m.parameters());
        const Tensor<float> x = to_tensor<float>(f.at("input"));
        const Tensor<float>& y = m.forward(x, Mode::train);
        auto rel_l2 = [](const float* got, const Record& want, std::size_t n) {
            double num = 0, den = 0;
            for (std::size_t i = 0; i < n; ++i) {
                num += (double(got[i]) - want.values[i]) * (double(got[i]) - want.values[i]);
                den += want.values[i] * want.values[i];
            }
            return std::sqrt(num / den);
        };
        const double e_logits = rel_l2(y.data(), f.at("output"), y.size());
        INFO("float logits relative L2 error " << e_logits);
        CHECK(e_logits < 1e-4);
        m.backward(loss_weights(y));
        double worst = 0;
        std::string worst_name;
        for (const auto& p : m.parameters()) {
            const Record& g = f.at("grad:" + p.name);
            const double e = rel_l2(p.grad->data(), g, g.values.size());
            if (e > worst) {
                worst = e;
                worst_name = p.name;
            }
        }
        INFO("float gradients: worst relative L2 error " << worst << " (" << worst_name << ")");
        CHECK(worst < grad_tolerance);
    }
}

