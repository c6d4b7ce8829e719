#include <safnet/data/cifar.hpp>

#include "support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>

using safnet::test::TempDir;

namespace {

// `n` records with label bytes `labels(i)` and pixel byte p = (i * 7 + k) % 256.
std::vector<unsigned char> cifar_records(std::size_t n, std::size_t label_bytes, unsigned char (*label)(std::size_t, std::size_t)) {
    std::vector<unsigned char> b;
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t l = 0; l < label_bytes; ++l) b.push_back(label(i, l));
        for (std::size_t k = 0; k < 3072; ++k) b.push_back(static_cast<unsigned char>((i * 7 + k) % 256));
    }
    return b;
}

unsigned char label10(std::size_t i, std::size_t) { return static_cast<unsigned char>(i % 10); }
unsigned char label100(std::size_t i, std::size_t l) { return static_cast<unsigned char>(l == 0 ? i % 20 : (i * 13) % 100); }

std::string source_cifar10_dir() {
    const char* env = std::getenv("SAFNET_CIFAR10_DIR");
    return env ? env : SAFNET_SOURCE_DIR "/../shared/data/cifar-10-batches-bin";
}

}  // namespace

TEST_CASE("CIFAR-10 binary files load with labels and planar RGB pixels", "[data][cifar]") {
    TempDir dir("cifar10");
    for (int b = 1; b <= 5; ++b) dir.write("data_batch_" + std::to_string(b) + ".bin", cifar_records(3, 1, label10));
    dir.write("test_batch.bin", cifar_records(2, 1, label10));
    const auto train = safnet::data::load_cifar10(dir.path().string(), true);
    const auto test = safnet::data::load_cifar10(dir.path().string(), false);
    REQUIRE(train.size() == 15);
    REQUIRE(test.size() == 2);
    CHECK(train.image_shape() == safnet::nn::Shape{3, 32, 32});
    CHECK(train.classes == 10);
    CHECK(train.labels[4] == 1);  // second file, second record
    CHECK(train.image(4)[0] == 7);
    CHECK(train.image(4)[3071] == (7 + 3071) % 256);
    CHECK(test.labels == std::vector<std::int32_t>{0, 1});
}

TEST_CASE("CIFAR-100 binary files load fine or coarse labels", "[data][cifar]") {
    TempDir dir("cifar100");
    dir.write("train.bin", cifar_records(30, 2, label100));
    dir.write("test.bin", cifar_records(4, 2, label100));
    const auto fine = safnet::data::load_cifar100(dir.path().string(), true);
    const auto coarse = safnet::data::load_cifar100(dir.path().string(), true, safnet::data::Cifar100Labels::coarse);
    REQUIRE(fine.size() == 30);
    CHECK(fine.classes == 100);
    CHECK(coarse.classes == 20);
    for (std::size_t i = 0; i < 30; ++i) {
        CHECK(fine.labels[i] == static_cast<std::int32_t>((i * 13) % 100));
        CHECK(coarse.labels[i] == static_cast<std::int32_t>(i % 20));
    }
    CHECK(fine.image(29)[5] == (29 * 7 + 5) % 256);
    CHECK(safnet::data::load_cifar100(dir.path().string(), false).size() == 4);
}

TEST_CASE("malformed CIFAR files are rejected with the file named", "[data][cifar]") {
    TempDir dir("cifar_bad");
    const std::string d = dir.path().string();
    CHECK_THROWS_WITH(safnet::data::load_cifar10(d, false), Catch::Contains(d + "/test_batch.bin") && Catch::Contains("cannot open"));
    auto truncated = cifar_records(2, 1, label10);
    truncated.pop_back();
    dir.write("test_batch.bin", truncated);
    CHECK_THROWS_WITH(safnet::data::load_cifar10(d, false), Catch::Contains("test_batch.bin") && Catch::Contains("multiple"));
    dir.write("test_batch.bin", {});
    CHECK_THROWS_WITH(safnet::data::load_cifar10(d, false), Catch::Contains("positive multiple"));
    auto bad_label = cifar_records(3, 1, label10);
    bad_label[3073] = 10;  // record 1
    dir.write("test_batch.bin", bad_label);
    CHECK_THROWS_WITH(safnet::data::load_cifar10(d, false), Catch::Contains("record 1") && Catch::Contains("label 10"));
    auto bad_fine = cifar_records(2, 2, label100);
    bad_fine[1] = 100;
    dir.write("train.bin", bad_fine);
    CHECK_THROWS_WITH(safnet::data::load_cifar100(d, true), Catch::Contains("train.bin") && Catch::Contains("label 100"));
    // A coarse label >= 20 is only an error when coarse labels are used.
    auto bad_coarse = cifar_records(2, 2, label100);
    bad_coarse[0] = 20;
    dir.write("train.bin", bad_coarse);
    CHECK_NOTHROW(safnet::data::load_cifar100(d, true));
    CHECK_THROWS_WITH(safnet::data::load_cifar100(d, true, safnet::data::Cifar100Labels::coarse), Catch::Contains("label 20"));
}

TEST_CASE("the official CIFAR-10 test split loads with its documented statistics", "[data][cifar][real]") {
    const std::string dir = source_cifar10_dir();
    if (!std::filesystem::exists(dir + "/test_batch.bin")) {
        WARN("CIFAR-10 not found at " << dir << " (set SAFNET_CIFAR10_DIR); skipping");
        return;
    }
    const auto test = safnet::data::load_cifar10(dir, false);
    REQUIRE(test.size() == 10000);
    std::vector<int> per_class(10, 0);
    for (auto l : test.labels) ++per_class[static_cast<std::size_t>(l)];
    CHECK(per_class == std::vector<int>(10, 1000));  // the test split is balanced
    // Test-split means lie within 0.01 of the train-split means the data README documents.
    const auto stats = safnet::data::channel_statistics(test);
    const float train_mean[3] = {0.4914f, 0.4822f, 0.4465f};
    for (int c = 0; c < 3; ++c) CHECK(std::abs(stats.mean[static_cast<std::size_t>(c)] - train_mean[c]) < 0.01f);
}
