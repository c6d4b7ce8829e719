// Data loading next to training: images/s the batch loader delivers for CIFAR-10 training
// batches (random crop with 4-pixel padding + flip + normalization, batch 128) on its one
// background thread, against images/s of a ResNet20 training step measured in the same
// process. A ratio well above 1 means prefetching hides loading completely.
#include "bench_util.hpp"

#include <safnet/data/cifar.hpp>
#include <safnet/data/loader.hpp>
#include <safnet/nn/loss.hpp>
#include <safnet/nn/optimizer.hpp>
#include <safnet/nn/resnet.hpp>

#include <filesystem>

namespace {

using namespace safnet;

const data::Dataset& cifar_train() {
    static const data::Dataset ds = [] {
        const char* env = std::getenv("SAFNET_CIFAR10_DIR");
        const std::string dir = env ? env : SAFNET_SOURCE_DIR "/../shared/data/cifar-10-batches-bin";
        if (std::filesystem::exists(dir + "/data_batch_1.bin")) return data::load_cifar10(dir, true);
        data::Dataset s;  // synthetic stand-in of the same size
        s.name = "synthetic";
        s.channels = 3;
        s.height = s.width = 32;
        s.labels.resize(50000);
        s.pixels.resize(50000 * 3072);
        for (std::size_t i = 0; i < s.pixels.size(); ++i) s.pixels[i] = static_cast<std::uint8_t>(i * 2654435761u >> 24);
        for (std::size_t i = 0; i < s.labels.size(); ++i) s.labels[i] = static_cast<std::int32_t>(i % 10);
        return s;
    }();
    return ds;
}

double train_step_images_per_second() {
    nn::ResNet<float> m({"resnet20", 3, 10, nn::Shortcut::A, Tanh{}});
    m.initialize(1);
    data::BatchLoader loader(cifar_train(), {.batch = 128, .augment = {4, true}, .prefetch = false});
    loader.start_epoch(0);
    data::Batch b;
    loader.next(b);
    nn::SoftmaxCrossEntropy<float> ce;
    nn::Sgd<float> opt({0.01, 0.9, 5e-4, false});
    nn::Tensor<float> d;
    const double s = bench::reference_seconds("train step", [&] {
        ce.forward(m.forward(b.images, nn::Mode::train), b.labels);
        ce.backward(d);
        m.backward(d);
        opt.step(m);
    }, 5);
    return 128 / s;
}

void BM_LoaderVsTraining(benchmark::State& state) {
    const auto& ds = cifar_train();
    data::BatchLoader loader(ds, {.batch = 128, .augment = {4, true}, .norm = {{0.49f, 0.48f, 0.45f}, {0.25f, 0.24f, 0.26f}},
                                  .seed = 1, .prefetch = false});
    std::uint64_t epoch = 0;
    data::Batch b;
    loader.start_epoch(epoch);
    bench::BestTimer t;
    t.run(state, [&] {  // 20 batches per timed iteration, on the calling thread (what the worker does)
        for (int k = 0; k < 20; ++k)
            if (!loader.next(b)) loader.start_epoch(++epoch), loader.next(b);
    });
    const double loader_ips = 20 * 128 / t.seconds();
    const double train_ips = train_step_images_per_second();
    state.counters["loader img/s"] = loader_ips;
    state.counters["train step img/s"] = train_ips;
    state.counters["loader over training"] = loader_ips / train_ips;
    state.SetLabel(ds.name == "synthetic" ? "synthetic CIFAR-sized data" : "CIFAR-10 train, crop+flip+normalize");
}

}  // namespace

BENCHMARK(BM_LoaderVsTraining)->Unit(benchmark::kMillisecond)->MinTime(1.0);
