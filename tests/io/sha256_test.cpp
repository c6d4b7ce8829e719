// io/sha256.hpp: FIPS 180-4's example digests, and the SHA256SUMS check beside a model file.
#include <safnet/io/sha256.hpp>

#include "support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <string>

using namespace safnet;
using safnet::test::TempDir;

namespace {

std::string digest(const std::string& s) {
    return io::sha256_hex(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
}

void write(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

}  // namespace

TEST_CASE("SHA-256 of FIPS 180-4's examples, and lengths around the padding boundary", "[io][sha256]") {
    CHECK(digest("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(digest("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    CHECK(digest(std::string(1000000, 'a')) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    // 55 bytes fit one padded block, 56 need two (`printf 'a%.0s' {1..55} | sha256sum`).
    CHECK(digest(std::string(55, 'a')) == "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
    CHECK(digest(std::string(56, 'a')) == "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
}

TEST_CASE("a file listed in SHA256SUMS must match its digest; an unlisted one is not checked", "[io][sha256]") {
    TempDir dir("sha256");
    write(dir.file("m.safetensors"), "abc");
    write(dir.file("other.safetensors"), "xyz");
    CHECK_FALSE(io::verify_listed_checksum(dir.file("m.safetensors")));  // no list
    write(dir.file("SHA256SUMS"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  m.safetensors\n");
    CHECK(io::verify_listed_checksum(dir.file("m.safetensors")));
    CHECK_FALSE(io::verify_listed_checksum(dir.file("other.safetensors")));
    write(dir.file("m.safetensors"), "abd");
    CHECK_THROWS_WITH(io::verify_listed_checksum(dir.file("m.safetensors")),
                      Catch::Contains("m.safetensors: SHA-256 ") && Catch::Contains("differs from ba7816bf") && Catch::Contains("SHA256SUMS"));
}
