#include <safnet/io/checkpoint.hpp>

#include "support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <cstring>
#include <limits>
#include <random>

using namespace safnet;
using safnet::test::TempDir;

namespace {

nn::Tensor<float> random_input(std::size_t n, std::size_t c, std::size_t side, unsigned seed) {
    nn::Tensor<float> x(nn::Shape{n, c, side, side});
    std::mt19937 rng(seed);
    std::normal_distribution<float> d;
    for (auto& v : x.span()) v = d(rng);
    return x;
}

// Non-trivial BN statistics and raw weights, so a round trip has something to lose.
void perturb(nn::ResNet<float>& m) {
    std::mt19937 rng(9);
    std::uniform_real_distribution<float> u(0.5f, 1.5f);
    m.for_each_buffer([&](const std::string&, nn::Tensor<float>& t) {
        for (auto& v : t.span()) v = u(rng);
    });
    m.for_each_parameter([&](const nn::Parameter<float>& p) {
        if (!p.saf)
            for (auto& v : p.value->span()) v = u(rng) - 1.0f;
    });
    m.refresh_weights();
}

}  // namespace

TEST_CASE("a saved ResNet loads back bit-identical, with its architecture from the metadata", "[io][checkpoint]") {
    TempDir dir("ckpt");
    const std::string path = dir.file("m.safetensors");
    nn::ResNet<float> a({"resnet20", 3, 7, nn::Shortcut::B, Tanh{}});
    a.initialize(3);
    perturb(a);
    io::save_model(a, path, io::architecture_metadata(a.options()), 42);

    const auto f = io::Safetensors::read_file(path);
    CHECK(f.meta("safnet_version") == version_string);
    CHECK(f.meta("saf") == "tanh");
    CHECK(f.read_integers("layer1.0.bn1.num_batches_tracked") == std::vector<std::int64_t>{42});
    const nn::ResNetOptions o = io::resnet_options(f);
    CHECK(o.arch == "resnet20");
    CHECK(o.num_classes == 7);
    CHECK(o.shortcut == nn::Shortcut::B);
    CHECK(saf_name(o.saf) == "tanh");
    nn::ResNet<float> b(o);
    io::load_model(b, f);
    const auto x = random_input(4, 3, 16, 1);
    const nn::Tensor<float> ya = a.forward(x, nn::Mode::eval);
    const nn::Tensor<float>& yb = b.forward(x, nn::Mode::eval);
    REQUIRE(ya.size() == yb.size());
    CHECK(std::memcmp(ya.data(), yb.data(), ya.size() * sizeof(float)) == 0);
}

TEST_CASE("architecture is inferred from tensor shapes when a file has no metadata", "[io][checkpoint]") {
    TempDir dir("ckpt_infer");
    for (const auto& [arch, shortcut] : std::vector<std::pair<std::string, nn::Shortcut>>{
             {"resnet20", nn::Shortcut::A}, {"resnet32", nn::Shortcut::B}, {"resnet18", nn::Shortcut::B}}) {
        nn::ResNet<float> m({arch, 1, 5, shortcut, Identity{}});
        io::SafetensorsWriter w;
        io::add_model_tensors(w, m);
        const std::string path = dir.file(arch + ".safetensors");
        w.write(path);
        const auto o = io::resnet_options(io::Safetensors::read_file(path));
        CHECK(o.arch == arch);
        CHECK(o.in_channels == 1);
        CHECK(o.num_classes == 5);
        CHECK(o.shortcut == shortcut);
        CHECK(saf_name(o.saf) == "none");
    }
}

TEST_CASE("loading a checkpoint into the wrong model names the offending tensor", "[io][checkpoint]") {
    TempDir dir("ckpt_bad");
    nn::ResNet<float> m20({"resnet20", 3, 10, nn::Shortcut::A, Identity{}});
    const std::string p20 = dir.file("r20.safetensors");
    io::save_model(m20, p20, {});
    const auto f20 = io::Safetensors::read_file(p20);

    nn::ResNet<float> m32({"resnet32", 3, 10, nn::Shortcut::A, Identity{}});
    CHECK_THROWS_WITH(io::load_model(m32, f20), Catch::Contains(p20) && Catch::Contains("missing tensor 'layer1.3.conv1.weight'"));
    nn::ResNet<float> classes({"resnet20", 3, 100, nn::Shortcut::A, Identity{}});
    CHECK_THROWS_WITH(io::load_model(classes, f20), Catch::Contains("'fc.weight' has shape [10,64]") && Catch::Contains("[100,64]"));
    nn::ResNet<float> small({"resnet20", 3, 10, nn::Shortcut::A, Identity{}});
    io::SafetensorsWriter w;
    io::add_model_tensors(w, m32);
    const std::string p32 = dir.file("r32.safetensors");
    w.write(p32);
    CHECK_THROWS_WITH(io::load_model(small, io::Safetensors::read_file(p32)), Catch::Contains("does not belong to this model"));
    // Bad metadata is reported, not guessed around.
    io::save_model(m20, p20, {{"saf", "tanhh"}});
    CHECK_THROWS_WITH(io::resnet_options(io::Safetensors::read_file(p20)), Catch::Contains("metadata saf") && Catch::Contains("tanhh"));
    io::save_model(m20, p20, {{"num_classes", "ten"}});
    CHECK_THROWS_WITH(io::resnet_options(io::Safetensors::read_file(p20)), Catch::Contains("metadata 'num_classes': 'ten'"));
}

TEST_CASE("hostile checkpoint metadata is refused before a model is built", "[io][checkpoint]") {
    TempDir dir("ckpt_hostile");
    nn::ResNet<float> m({"resnet20", 3, 10, nn::Shortcut::A, Identity{}});
    const std::string p = dir.file("m.safetensors");
    const auto options_with = [&](const std::string& key, const std::string& value) {
        io::save_model(m, p, {{key, value}});
        return io::resnet_options(io::Safetensors::read_file(p));
    };
    // "-1" once became 2^64 - 1 and overwrote the heap; the rest are the parser's loose ends.
    for (const char* bad : {"-1", " 10", "+10", "10 ", "0x10", "", "99999999999999999999"})
        CHECK_THROWS_WITH(options_with("num_classes", bad), Catch::Contains(p) && Catch::Contains("is not a whole number"));
    CHECK_THROWS_WITH(options_with("in_channels", "-1"), Catch::Contains("'in_channels'"));
    CHECK_THROWS_WITH(options_with("num_classes", "0"), Catch::Contains("must be positive"));
    // A claim the tensors do not back (57.6 GB of conv1 weights) disagrees with conv1.weight.
    CHECK_THROWS_WITH(options_with("in_channels", "100000000"), Catch::Contains("disagrees with conv1.weight (3)"));
    CHECK_THROWS_WITH(options_with("num_classes", "100"), Catch::Contains("disagrees with fc.weight (10)"));
    CHECK(options_with("num_classes", "10").num_classes == 10);
    // Normalization statistics must be finite numbers.
    for (const char* bad : {"nan", "inf", "0.5,nan", "1e39", "0.5x"})
        CHECK_THROWS_WITH(io::split_floats(bad, "m: norm_mean"), Catch::Contains("m: norm_mean"));
    CHECK(io::split_floats("0.25,-1e-3", "m") == std::vector<float>{0.25f, -1e-3f});
}

TEST_CASE("a model file with NaN or Inf parameters or a negative running variance is refused at load", "[io][checkpoint]") {
    // A diverged training run saves such a file; evaluated, it scored clean 0 and P(fail) 0.
    TempDir dir("ckpt_nonfinite");
    const nn::ResNetOptions o{"resnet20", 3, 10, nn::Shortcut::A, Tanh{}};
    struct Case {
        std::string tensor;
        float value;
        const char* message;
    };
    const Case cases[] = {{"layer2.1.conv1.weight", std::numeric_limits<float>::quiet_NaN(), "holds a non-finite value (nan) at index 5"},
                          {"fc.bias", std::numeric_limits<float>::infinity(), "holds a non-finite value (inf) at index 5"},
                          {"layer1.0.bn2.running_mean", -std::numeric_limits<float>::infinity(), "holds a non-finite value (-inf)"},
                          {"layer3.2.bn1.running_var", -0.5f, "holds a negative running variance (-0.500000) at index 5"}};
    for (const auto& c : cases) {
        nn::ResNet<float> a(o);
        a.initialize(1);
        bool found = false;
        const auto poison = [&](const std::string& name, nn::Tensor<float>& t) {
            if (name != c.tensor) return;
            t.span()[5] = c.value;
            found = true;
        };
        a.for_each_parameter([&](const nn::Parameter<float>& p) { poison(p.name, *p.value); });
        a.for_each_buffer(poison);
        REQUIRE(found);
        const std::string path = dir.file("bad.safetensors");
        io::save_model(a, path, io::architecture_metadata(a.options()), 1);
        nn::ResNet<float> b(o);
        CHECK_THROWS_WITH(io::load_model(b, io::Safetensors::read_file(path)), Catch::Contains("bad.safetensors: tensor '" + c.tensor + "' " + c.message));
    }
}
