#include <safnet/train/finetune.hpp>
#include <safnet/train/trainer.hpp>

#include "support/synthetic.hpp"
#include "support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <random>

using namespace safnet;
using safnet::test::TempDir;

namespace {

// Every parameter and buffer, in order.
std::vector<std::vector<float>> state_of(nn::ResNet<float>& m) {
    std::vector<std::vector<float>> v;
    m.for_each_parameter([&](const nn::Parameter<float>& p) { v.emplace_back(p.value->data(), p.value->data() + p.value->size()); });
    m.for_each_buffer([&](const std::string&, nn::Tensor<float>& t) { v.emplace_back(t.data(), t.data() + t.size()); });
    return v;
}

// Bitwise equality of every parameter and buffer.
bool same_state(nn::ResNet<float>& a, nn::ResNet<float>& b) {
    const auto va = state_of(a), vb = state_of(b);
    if (va.size() != vb.size()) return false;
    for (std::size_t i = 0; i < va.size(); ++i)
        if (va[i].size() != vb[i].size() || std::memcmp(va[i].data(), vb[i].data(), va[i].size() * sizeof(float)) != 0) return false;
    return true;
}

train::TrainOptions small_options(const std::string& optimizer, const std::string& out) {
    train::TrainOptions o;
    o.dataset = "synthetic";
    o.epochs = 3;
    o.batch = 16;
    o.optimizer = optimizer;
    o.lr = optimizer == "sgd" ? 0.05 : 2e-3;
    o.weight_decay = optimizer == "sgd" ? 5e-4 : 1e-2;
    o.augment = {1, true};
    o.seed = 21;
    o.out = out;
    o.eval_batch = 32;
    return o;
}

}  // namespace

TEST_CASE("an interrupted and resumed run ends bit-identical to an uninterrupted one", "[train][resume]") {
    const auto train_set = test::synthetic_dataset(64, 1, 8, 4, 1);
    const auto test_set = test::synthetic_dataset(32, 1, 8, 4, 2);
    for (const std::string optimizer : {"sgd", "adamw"}) {
        SECTION(optimizer) {
            TempDir dir("resume_" + optimizer);
            const nn::ResNetOptions mo{"resnet20", 1, 4, nn::Shortcut::A, Tanh{}};
            nn::ResNet<float> straight(mo);
            straight.initialize(5);
            auto o = small_options(optimizer, dir.file("straight.safetensors"));
            const auto full = train::Trainer(straight, train_set, test_set, o).run();
            REQUIRE(full.size() == 3);

            nn::ResNet<float> first(mo);
            first.initialize(5);
            o.out = dir.file("resumed.safetensors");
            o.stop_after = 1;
            CHECK(train::Trainer(first, train_set, test_set, o).run().size() == 1);
            nn::ResNet<float> second(mo);  // a fresh process: different init, state comes from the file
            second.initialize(99);
            o.resume = true;
            o.stop_after = 0;
            const auto resumed = train::Trainer(second, train_set, test_set, o).run();
            REQUIRE(resumed.size() == 3);
            CHECK(same_state(straight, second));
            for (std::size_t e = 0; e < 3; ++e) {
                CHECK(resumed[e].train_loss == full[e].train_loss);
                CHECK(resumed[e].test_accuracy == full[e].test_accuracy);
            }
            // The model files agree too.
            nn::ResNet<float> a(mo), b(mo);
            io::load_model(a, io::Safetensors::read_file(dir.file("straight.safetensors")));
            io::load_model(b, io::Safetensors::read_file(dir.file("resumed.safetensors")));
            CHECK(same_state(a, b));
            // Resuming with different options is refused, naming the option.
            auto changed = o;
            changed.lr *= 2;
            nn::ResNet<float> third(mo);
            CHECK_THROWS_WITH(train::Trainer(third, train_set, test_set, changed).run(), Catch::Contains("--resume") && Catch::Contains("lr="));
        }
    }
}

TEST_CASE("training on a synthetic task learns, and the CSV log holds every epoch", "[train]") {
    const auto train_set = test::synthetic_dataset(128, 1, 8, 4, 3);
    const auto test_set = test::synthetic_dataset(64, 1, 8, 4, 4);
    TempDir dir("learn");
    nn::ResNet<float> m({"resnet20", 1, 4, nn::Shortcut::A, Softsign{}});
    m.initialize(1);
    auto o = small_options("sgd", "");
    o.augment = {};
    o.epochs = 4;
    o.csv = dir.file("log.csv");
    train::Trainer t(m, train_set, test_set, o);
    std::size_t batches = 0;
    t.on_batch = [&](const train::BatchProgress& p) {
        ++batches;
        CHECK(p.batches == 8);
        CHECK(p.eta_seconds >= 0);
    };
    const auto h = t.run();
    CHECK(batches == 32);
    CHECK(h.back().train_loss < h.front().train_loss);
    CHECK(h.back().test_accuracy > 60.0);  // chance is 25 %
    std::ifstream csv(o.csv);
    std::string text((std::istreambuf_iterator<char>(csv)), std::istreambuf_iterator<char>());
    CHECK(train::parse_history_csv(text, o.csv).size() == 4);
}

TEST_CASE("the trainer rejects a dataset that does not fit the model", "[train]") {
    const auto rgb = test::synthetic_dataset(16, 3, 8, 4, 1);
    const auto ten = test::synthetic_dataset(16, 1, 8, 10, 1);
    nn::ResNet<float> m({"resnet20", 1, 4, nn::Shortcut::A, Identity{}});
    CHECK_THROWS_WITH(train::Trainer(m, rgb, rgb, {}), Catch::Contains("3-channel"));
    CHECK_THROWS_WITH(train::Trainer(m, ten, ten, {}), Catch::Contains("10 classes"));
    auto o = small_options("sgd", "");
    o.optimizer = "lion";
    const auto ok = test::synthetic_dataset(16, 1, 8, 4, 1);
    CHECK_THROWS_WITH(train::Trainer(m, ok, ok, o), Catch::Contains("--optimizer") && Catch::Contains("lion"));
    TempDir dir("corrupt_state");
    auto r = small_options("sgd", dir.file("m.safetensors"));
    r.resume = true;
    CHECK_THROWS_WITH(train::Trainer(m, ok, ok, r).run(), Catch::Contains("m.safetensors.state"));
}

TEST_CASE("fine-tuning into a SAF starts at the pretrained function", "[train][finetune]") {
    TempDir dir("finetune");
    const auto x = [] {
        nn::Tensor<float> t(nn::Shape{8, 1, 8, 8});
        std::mt19937 rng(4);
        std::normal_distribution<float> d;
        for (auto& v : t.span()) v = d(rng);
        return t;
    }();
    nn::ResNet<float> plain({"resnet20", 1, 4, nn::Shortcut::A, Identity{}});
    plain.initialize(8);
    std::size_t saf_weights = 0;
    plain.for_each_parameter([&](const nn::Parameter<float>& p) {
        if (!p.saf) return;
        saf_weights += p.value->size();
        for (auto& w : p.value->span()) w = std::clamp(w, -0.9f, 0.9f);  // inside every bound below
    });
    plain.refresh_weights();
    const std::string path = dir.file("plain.safetensors");
    io::save_model(plain, path, io::architecture_metadata(plain.options()));
    const nn::Tensor<float> reference = plain.forward(x, nn::Mode::eval);

    for (const AnySaf& saf : {AnySaf{Tanh{}}, AnySaf{Arctan{}}, AnySaf{Softsign{}}, AnySaf{modified_tanh()}}) {
        nn::ResNet<float> m({"resnet20", 1, 4, nn::Shortcut::A, saf});
        const auto report = train::load_pretrained(m, io::Safetensors::read_file(path));
        INFO(saf_name(saf));
        CHECK(report.weights == saf_weights);
        CHECK(report.clipped == 0);
        const nn::Tensor<float>& y = m.forward(x, nn::Mode::eval);
        double err = 0, norm = 0;
        for (std::size_t i = 0; i < y.size(); ++i) {
            err += (y[i] - reference[i]) * (y[i] - reference[i]);
            norm += reference[i] * reference[i];
        }
        CHECK(std::sqrt(err / norm) < 1e-4);
    }
    // A weight beyond the SAF's bound is clipped just inside it, and reported.
    plain.parameters().front().value->span()[0] = 5.0f;
    io::save_model(plain, path, io::architecture_metadata(plain.options()));
    nn::ResNet<float> m({"resnet20", 1, 4, nn::Shortcut::A, Tanh{}});
    CHECK(train::load_pretrained(m, io::Safetensors::read_file(path)).clipped == 1);
    CHECK(m.parameters().front().saf->effective()[0] == Approx(0.999).epsilon(1e-6));
}

TEST_CASE("a corrupt training history is an error naming the file and line", "[train][resume]") {
    const std::string header = "epoch,lr,train_loss,train_accuracy,test_accuracy,seconds,images_per_second,loader_wait_seconds\n";
    const std::string ok = header + "1,0.1,2.5,30,40,1.5,100,0\n2,0.05,nan,31,41,1.5,100,0\n";
    CHECK(train::parse_history_csv(ok, "h.csv").size() == 2);
    CHECK(std::isnan(train::parse_history_csv(ok, "h.csv")[1].train_loss));
    const auto fails = [&](const std::string& line, const std::string& what) {
        CHECK_THROWS_WITH(train::parse_history_csv(header + line, "h.csv"), Catch::Contains("h.csv") && Catch::Contains(what));
    };
    fails("-1,0.1,2.5,30,40,1.5,100,0\n", "is not a whole number");  // once 2^64 - 1
    fails("2,0.1,2.5,30,40,1.5,100,0\n", "epoch 2 where epoch 1");
    fails("1,0.1,2.5,30,40,1.5,100\n", "8 fields");
    fails("1,0.1,2.5x,30,40,1.5,100,0\n", "'2.5x' is not a number");
}

TEST_CASE("evaluate rejects a label outside the model's classes", "[train]") {
    nn::ResNet<float> m({"resnet20", 1, 10, nn::Shortcut::A, Identity{}});
    m.initialize(1);
    train::PreparedSet set;
    set.images.resize(nn::Shape{2, 1, 8, 8}, 0.5f);
    set.labels = {3, 10};
    CHECK_THROWS_WITH(train::evaluate(m, set), Catch::Contains("label 10") && Catch::Contains("10 classes"));
    set.labels = {3, -1};
    CHECK_THROWS_WITH(train::evaluate(m, set), Catch::Contains("label -1"));
    set.labels = {3, 9};
    CHECK(train::evaluate(m, set).images == 2);
}
