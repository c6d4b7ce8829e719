// io::open_model: a model file's normalization is the file's or the user's, never guessed.
#include <catch2/catch.hpp>

#include <safnet/io/model_file.hpp>

#include "../support/synthetic.hpp"

#include <string>

using namespace safnet;

namespace {
const std::string fixture = std::string(SAFNET_FIXTURE_DIR) + "/torch/resnet20_fashion_import.safetensors";  // a PyTorch export: no metadata
}

TEST_CASE("a model file without normalization metadata is refused unless the user gives one", "[io][model_file]") {
    const data::Dataset test = safnet::test::synthetic_dataset(4, 1, 28, 10, 1);
    CHECK_THROWS_WITH(io::open_model(fixture, test, "fashion-mnist", ""),
                      Catch::Contains("resnet20_fashion_import.safetensors: no normalization") && Catch::Contains("--norm-mean/--norm-std"));
    const auto m = io::open_model(fixture, test, "fashion-mnist", "", data::Normalization{{0.25f}, {0.5f}});
    CHECK(m.norm.mean == std::vector<float>{0.25f});
    CHECK(m.norm.std == std::vector<float>{0.5f});
    CHECK(m.saf == "none");
    // An override must fit the dataset's channels.
    CHECK_THROWS(io::open_model(fixture, test, "fashion-mnist", "", data::Normalization{{0.1f, 0.2f}, {0.3f, 0.4f}}));
}
