#include <safnet/data/idx.hpp>

#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

namespace fs = std::filesystem;

namespace {

std::vector<unsigned char> idx_bytes(std::vector<std::uint32_t> dims, std::size_t payload, unsigned char fill = 7) {
    std::vector<unsigned char> b{0, 0, 0x08, static_cast<unsigned char>(dims.size())};
    for (auto d : dims)
        for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<unsigned char>(d >> s));
    b.insert(b.end(), payload, fill);
    return b;
}

fs::path write_raw(const std::string& name, const std::vector<unsigned char>& b) {
    const fs::path p = fs::temp_directory_path() / ("safnet_idx_test_" + name);
    std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    return p;
}

fs::path write_gz(const std::string& name, const std::vector<unsigned char>& b) {
    const fs::path p = fs::temp_directory_path() / ("safnet_idx_test_" + name + ".gz");
    gzFile f = gzopen(p.c_str(), "wb");
    gzwrite(f, b.data(), static_cast<unsigned>(b.size()));
    gzclose(f);
    return p;
}

}  // namespace

TEST_CASE("IDX files load raw and gzip-compressed", "[data][idx]") {
    auto images = idx_bytes({3, 2, 2}, 12, 255);
    auto labels = idx_bytes({3}, 0);
    labels.insert(labels.end(), {1, 9, 0});
    for (bool gz : {false, true}) {
        const auto im = gz ? write_gz("im", images) : write_raw("im", images);
        const auto lb = gz ? write_gz("lb", labels) : write_raw("lb", labels);
        const auto ds = safnet::data::load_idx_dataset(im.string(), lb.string());
        CHECK(ds.size() == 3);
        CHECK(ds.image_shape() == safnet::nn::Shape{1, 2, 2});
        CHECK(ds.pixels.size() == 12);
        CHECK(ds.pixels[11] == 255);
        CHECK(ds.labels == std::vector<std::int32_t>{1, 9, 0});
    }
}

TEST_CASE("malformed IDX files are rejected with the file named", "[data][idx]") {
    using safnet::data::load_idx_dataset;
    using safnet::data::read_idx;
    auto labels = idx_bytes({2}, 0);
    labels.insert(labels.end(), {1, 2});
    const auto lb = write_raw("lb2", labels).string();
    CHECK_THROWS_WITH(read_idx("/nonexistent/x.idx"), Catch::Contains("/nonexistent/x.idx") && Catch::Contains("cannot open"));
    CHECK_THROWS_WITH(read_idx(fs::temp_directory_path().string()), Catch::Contains("is not a regular file (a directory)"));
    auto bad_magic = idx_bytes({2}, 2);
    bad_magic[2] = 0x0D;  // float IDX
    const auto bm = write_raw("magic", bad_magic).string();
    CHECK_THROWS_WITH(read_idx(bm), Catch::Contains(bm) && Catch::Contains("magic"));
    auto truncated = idx_bytes({2, 4, 4}, 20);  // 32 needed
    const auto tr = write_gz("trunc", truncated).string();
    CHECK_THROWS_WITH(read_idx(tr), Catch::Contains(tr) && Catch::Contains("truncated"));
    const auto trailing = write_raw("trail", idx_bytes({2}, 3)).string();
    CHECK_THROWS_WITH(read_idx(trailing), Catch::Contains("trailing"));
    const auto three = write_raw("im3", idx_bytes({3, 2, 2}, 12)).string();
    CHECK_THROWS_WITH(load_idx_dataset(three, lb), Catch::Contains("3 images") && Catch::Contains("2 labels"));
    auto bad_label = idx_bytes({2}, 0);
    bad_label.insert(bad_label.end(), {1, 10});
    const auto bl = write_raw("badlabel", bad_label).string();
    const auto two = write_raw("im2", idx_bytes({2, 2, 2}, 8)).string();
    CHECK_THROWS_WITH(load_idx_dataset(two, bl), Catch::Contains(bl) && Catch::Contains("label 10"));
    CHECK_THROWS_WITH(load_idx_dataset(lb, lb), Catch::Contains("3 dimensions"));
    auto corrupt = std::vector<unsigned char>{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6};
    const auto cz = write_raw("corrupt.gz", corrupt).string();
    CHECK_THROWS_AS(read_idx(cz), safnet::Error);
}

TEST_CASE("IDX regressions: gzip trailing garbage, concatenated members, claims beyond the file", "[data][idx]") {
    using safnet::data::read_idx;
    const auto gz = write_gz("member", idx_bytes({2}, 2));
    std::ifstream in(gz, std::ios::binary);
    std::vector<unsigned char> member((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto garbage = member;
    garbage.insert(garbage.end(), {'j', 'u', 'n', 'k'});
    const auto gg = write_raw("garbage.gz", garbage).string();
    CHECK_THROWS_WITH(read_idx(gg), Catch::Contains(gg) && Catch::Contains("4 trailing bytes after the gzip stream"));
    // Two members holding the header and the payload separately are one valid stream (gzip's rule).
    const auto head = write_gz("head", idx_bytes({3}, 0)), body = write_gz("body", std::vector<unsigned char>{7, 8, 9});
    std::vector<unsigned char> both;
    for (const auto& p : {head, body}) {
        std::ifstream f(p, std::ios::binary);
        both.insert(both.end(), std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    }
    const auto idx = read_idx(write_raw("both.gz", both).string());
    CHECK(idx.bytes == std::vector<std::uint8_t>{7, 8, 9});
    // A 12-byte header claiming 2 GiB (raw and gzip): truncated, said at once.
    const auto claim = idx_bytes({2048, 1024, 1024}, 0);
    CHECK_THROWS_WITH(read_idx(write_raw("claim", claim).string()), Catch::Contains("truncated: 0 of 2147483648"));
    CHECK_THROWS_WITH(read_idx(write_gz("claim", claim).string()), Catch::Contains("truncated: 0 of 2147483648"));
    // A claim beyond the 16 GiB limit names the limit.
    CHECK_THROWS_WITH(read_idx(write_raw("huge", idx_bytes({65536, 65536, 65536}, 0)).string()), Catch::Contains("exceeds the limit of 17179869184"));
}
