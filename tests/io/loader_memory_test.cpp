// The memory ceiling: every loader, given a file that claims far more data than it holds,
// fails before allocating more than a small multiple of the file's size (counted through every
// form of operator new, tests/support/counting_allocator.hpp).
#include <safnet/data/cifar.hpp>
#include <safnet/data/idx.hpp>
#include <safnet/fault/run/sweep.hpp>
#include <safnet/io/checkpoint.hpp>

#include "support/counting_allocator.hpp"
#include "support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

using safnet::test::TempDir;

namespace {

std::string write(const TempDir& dir, const std::string& name, const std::string& bytes) {
    const std::string path = dir.file(name);
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
}

// Loading `path` must throw safnet::Error and allocate at most 1 MiB + 16 x the file's size.
void check_ceiling(const std::string& path, const std::function<void()>& load) {
    const auto file_bytes = static_cast<std::size_t>(std::filesystem::file_size(path));
    safnet::test::start_counting();
    CHECK_THROWS_AS(load(), safnet::Error);
    const auto used = safnet::test::stop_counting();
    INFO(path << ": " << file_bytes << " bytes, " << used.bytes << " bytes allocated in " << used.calls << " calls");
    CHECK(used.bytes <= (std::size_t{1} << 20) + 16 * file_bytes);
}

std::string idx_header(std::initializer_list<std::uint32_t> dims) {
    std::string b{'\0', '\0', '\x08', static_cast<char>(dims.size())};
    for (auto d : dims)
        for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<char>(d >> s));
    return b;
}

std::string gzip(const std::string& raw) {
    TempDir dir("gz");
    const std::string p = dir.file("x.gz");
    gzFile f = gzopen(p.c_str(), "wb");
    gzwrite(f, raw.data(), static_cast<unsigned>(raw.size()));
    gzclose(f);
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string safetensors_with_header(const std::string& header, std::size_t data_bytes) {
    std::string b(8, '\0');
    const std::uint64_t n = header.size();
    std::memcpy(b.data(), &n, 8);
    return b + header + std::string(data_bytes, '\0');
}

}  // namespace

TEST_CASE("loaders fail on inflated claims before allocating more than a small multiple of the file", "[io][memory]") {
    if (!safnet::test::allocations_counted) {
        WARN("allocation counting is off under AddressSanitizer");
        return;
    }
    TempDir dir("ceiling");
    // IDX: a 16-byte header claiming 2 GiB (it once allocated and zero-filled all of it), raw and gzip.
    const std::string claim = idx_header({2048, 1024, 1024}) + std::string(1000, '\x07');
    for (const auto& [name, bytes] : {std::pair{"claim.idx", claim}, std::pair{"claim.idx.gz", gzip(claim)}}) {
        const std::string p = write(dir, name, bytes);
        check_ceiling(p, [&] { safnet::data::read_idx(p); });
    }
    // safetensors: a tensor claiming 2^40 elements over 8 bytes; a header length claiming 100 MiB.
    const std::string big = write(dir, "big.safetensors", safetensors_with_header(R"({"w":{"dtype":"F32","shape":[1099511627776],"data_offsets":[0,8]}})", 8));
    check_ceiling(big, [&] { safnet::io::Safetensors::read_file(big); });
    std::string longer = safetensors_with_header("{}", 0);
    const std::uint64_t n = 100u << 20;
    std::memcpy(longer.data(), &n, 8);
    const std::string lh = write(dir, "long_header.safetensors", longer);
    check_ceiling(lh, [&] { safnet::io::Safetensors::read_file(lh); });
    // A checkpoint whose metadata claims 10^8 input channels (57.6 GB of stem weights).
    std::string stem(16 * 3 * 9 * 4, '\0'), fc(10 * 64 * 4, '\0');
    const std::string header = R"({"__metadata__":{"in_channels":"100000000"},"conv1.weight":{"dtype":"F32","shape":[16,3,3,3],"data_offsets":[0,1728]},)"
                               R"("fc.weight":{"dtype":"F32","shape":[10,64],"data_offsets":[1728,4288]}})";
    const std::string ck = write(dir, "claims.safetensors", safetensors_with_header(header, stem.size() + fc.size()));
    check_ceiling(ck, [&] {
        const auto f = safnet::io::Safetensors::read_file(ck);
        safnet::nn::ResNet<float> m(safnet::io::resnet_options(f));
    });
    // CIFAR: a file that is not a whole number of records.
    const std::string cf = write(dir, "test_batch.bin", std::string(3073 * 2 + 1, '\x01'));
    check_ceiling(cf, [&] { safnet::data::load_cifar10(dir.path().string(), false); });
    // Campaign state: a round claiming 10^300 correct images.
    const std::string st = write(dir, "campaign-state.json",
                                 R"({"identity":{"seed":1},"done":{"k":{"rounds":[[1,0,[100,1e300,100,0,0],0,0]]}}})");
    check_ceiling(st, [&] {
        safnet::fault::SweepState s(st, {{"seed", 1}});
        s.load();
        for (const auto& [key, saved] : s.done()) safnet::fault::rounds_from_json(saved, 100);
    });
}
