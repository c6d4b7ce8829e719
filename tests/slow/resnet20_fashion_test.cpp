// Slow learning test (not in the default test run: `ctest --preset slow`): ResNet20 with a
// tanh SAF, trained for one epoch on Fashion-MNIST through the same Trainer safnet-train
// uses (prefetching loader, SGD + cosine schedule), passes 85 % test accuracy.
#define CATCH_CONFIG_MAIN
#include <safnet/data/idx.hpp>
#include <safnet/train/trainer.hpp>

#include <catch2/catch.hpp>

#include <cstdlib>

using namespace safnet;

TEST_CASE("ResNet20 (tanh SAF) reaches 85 % on Fashion-MNIST after one epoch", "[slow]") {
    const char* env = std::getenv("SAFNET_FASHION_MNIST");
    const std::string dir = env ? env : "/usr/share/datasets/fashion-mnist";
    const auto train_set = data::load_mnist_like(dir, true);
    const auto test_set = data::load_mnist_like(dir, false);

    nn::ResNet<float> m({"resnet20", 1, 10, nn::Shortcut::A, Tanh{}});
    m.initialize(1);
    train::TrainOptions o;
    o.epochs = 1;
    o.nesterov = true;
    o.seed = 7;
    o.norm = data::channel_statistics(train_set);
    train::Trainer t(m, train_set, test_set, o);
    const auto history = t.run();
    REQUIRE(history.size() == 1);
    const auto& r = history.front();
    WARN("one epoch: " << r.seconds << " s (" << r.images_per_second << " img/s, loader wait " << r.loader_wait_seconds
                       << " s), test accuracy " << r.test_accuracy << " %");
    CHECK(r.test_accuracy >= 85.0);
}
