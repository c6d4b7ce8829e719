// safnet/io/sha256.hpp — SHA-256 (FIPS 180-4) of bytes and files, and the check of a file
// against a SHA256SUMS list beside it (the format `sha256sum` writes and `sha256sum -c` reads).
//
//   Sha256 h; h.update(bytes)...; h.hex()  incremental
//   sha256_hex(bytes)                    64 lowercase hex digits
//   verify_listed_checksum(path)         if path's directory holds SHA256SUMS and it lists
//                                        path's file name, the file's digest must match it
//                                        (Error naming the file, both digests and the list);
//                                        returns whether the file was listed
// Tested against FIPS 180-4's example vectors in tests/io/sha256_test.cpp.
#pragma once

#include <safnet/error.hpp>
#include <safnet/io/read_file.hpp>

#include <array>
#include <cstdint>
#include <filesystem>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace safnet::io {

namespace detail {

inline constexpr std::array<std::uint32_t, 64> sha256_k = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be,
    0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa,
    0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85,
    0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3,
    0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f,
    0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

inline constexpr std::uint32_t rotr(std::uint32_t x, int n) noexcept { return (x >> n) | (x << (32 - n)); }

inline void sha256_block(std::array<std::uint32_t, 8>& h, const std::uint8_t* p) noexcept {
    std::uint32_t w[64];
    for (int i = 0; i < 16; ++i)
        w[i] = std::uint32_t{p[4 * i]} << 24 | std::uint32_t{p[4 * i + 1]} << 16 | std::uint32_t{p[4 * i + 2]} << 8 | std::uint32_t{p[4 * i + 3]};
    for (int i = 16; i < 64; ++i) {
        const std::uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
        const std::uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    std::uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (int i = 0; i < 64; ++i) {
        const std::uint32_t t1 = k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + sha256_k[i] + w[i];
        const std::uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        k = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += k;
}

}  // namespace detail

/// Incremental SHA-256: update() any number of times, then hex() once.
class Sha256 {
public:
    void update(std::span<const std::uint8_t> bytes) noexcept {
        total_ += bytes.size();
        std::size_t i = 0;
        if (buffered_ > 0) {
            while (buffered_ < 64 && i < bytes.size()) block_[buffered_++] = bytes[i++];
            if (buffered_ < 64) return;
            detail::sha256_block(h_, block_.data());
            buffered_ = 0;
        }
        for (; i + 64 <= bytes.size(); i += 64) detail::sha256_block(h_, bytes.data() + i);
        while (i < bytes.size()) block_[buffered_++] = bytes[i++];
    }
    void update(std::string_view text) noexcept { update({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()}); }

    std::string hex() const {
        std::array<std::uint32_t, 8> h = h_;
        std::uint8_t tail[128] = {};
        for (std::size_t i = 0; i < buffered_; ++i) tail[i] = block_[i];
        tail[buffered_] = 0x80;
        const std::size_t blocks = buffered_ + 9 <= 64 ? 1 : 2;
        const std::uint64_t bits = total_ * 8;
        for (int i = 0; i < 8; ++i) tail[blocks * 64 - 1 - i] = static_cast<std::uint8_t>(bits >> (8 * i));
        for (std::size_t b = 0; b < blocks; ++b) detail::sha256_block(h, tail + 64 * b);
        static const char* digits = "0123456789abcdef";
        std::string out;
        for (const std::uint32_t v : h)
            for (int s = 28; s >= 0; s -= 4) out += digits[(v >> s) & 0xf];
        return out;
    }

private:
    std::array<std::uint32_t, 8> h_ = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    std::array<std::uint8_t, 64> block_{};
    std::size_t buffered_ = 0;
    std::uint64_t total_ = 0;
};

inline std::string sha256_hex(std::span<const std::uint8_t> bytes) {
    Sha256 h;
    h.update(bytes);
    return h.hex();
}

inline bool verify_listed_checksum(const std::string& path) {
    const std::filesystem::path p(path), list = p.parent_path().empty() ? std::filesystem::path("SHA256SUMS") : p.parent_path() / "SHA256SUMS";
    std::error_code ec;
    if (!std::filesystem::is_regular_file(list, ec)) return false;
    const auto text_bytes = read_file(list.string(), "checksum list", std::size_t{1} << 20);
    std::istringstream text(std::string(text_bytes.begin(), text_bytes.end()));
    const std::string name = p.filename().string();
    for (std::string line; std::getline(text, line);) {
        if (line.size() < 66 || line.compare(66, std::string::npos, name) != 0 || line[64] != ' ' || (line[65] != ' ' && line[65] != '*')) continue;
        const std::string expected = line.substr(0, 64);
        const std::string actual = sha256_hex(read_file(path, "model file", max_model_file_bytes));
        if (actual != expected)
            throw Error(path + ": SHA-256 " + actual + " differs from " + expected + " listed in " + list.string() +
                        " (the file was changed or damaged after it was listed)");
        return true;
    }
    return false;
}

}  // namespace safnet::io
