// A ResNet20 trained in PyTorch and exported with state_dict() -> safetensors (no safnet
// metadata) evaluates in safnet to PyTorch's logits. Fixture: tests/fixtures/make_import_fixture.py.
#include <safnet/io/checkpoint.hpp>
#include <safnet/train/evaluate.hpp>

#include <catch2/catch.hpp>

#include <cmath>

using namespace safnet;

TEST_CASE("a PyTorch-trained ResNet20 imported from safetensors gives PyTorch's logits", "[io][torch]") {
    const std::string dir = SAFNET_FIXTURE_DIR "/torch/";
    const auto model_file = io::Safetensors::read_file(dir + "resnet20_fashion_import.safetensors");
    const auto io_file = io::Safetensors::read_file(dir + "resnet20_fashion_import_io.safetensors");
    const nn::ResNetOptions o = io::resnet_options(model_file);
    CHECK(o.arch == "resnet20");
    CHECK(o.in_channels == 1);
    CHECK(o.num_classes == 10);
    CHECK(o.shortcut == nn::Shortcut::A);
    nn::ResNet<float> model(o);
    io::load_model(model, model_file);

    nn::Tensor<float> x(nn::Shape{16, 1, 28, 28}), expected(nn::Shape{16, 10});
    io_file.read_floats("images", x.span());
    io_file.read_floats("logits", expected.span());
    const nn::Tensor<float>& y = model.forward(x, nn::Mode::eval);
    double worst = 0;
    for (std::size_t i = 0; i < 16; ++i) {
        double err = 0, norm = 0;
        std::size_t best_y = 0, best_e = 0;
        for (std::size_t j = 0; j < 10; ++j) {
            const double a = y[i * 10 + j], b = expected[i * 10 + j];
            err += (a - b) * (a - b);
            norm += b * b;
            if (y[i * 10 + j] > y[i * 10 + best_y]) best_y = j;
            if (expected[i * 10 + j] > expected[i * 10 + best_e]) best_e = j;
        }
        worst = std::max(worst, std::sqrt(err / norm));
        CHECK(best_y == best_e);  // same prediction for every image
    }
    INFO("worst per-image relative L2 error of the logits: " << worst);
    CHECK(worst < 1e-4);
}
