// safnet/detail/fnv1a.hpp — 64-bit FNV-1a, the identity digests' hash: what resume and merge
// compare (model weights, normalized test sets, metadata), where speed matters and an
// adversary does not (integrity against tampering is io/sha256.hpp's job).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace safnet::detail {

class Fnv1a {
public:
    void add(const void* data, std::size_t n) noexcept {
        const auto* bytes = static_cast<const unsigned char*>(data);
        for (std::size_t i = 0; i < n; ++i) h_ = (h_ ^ bytes[i]) * 0x100000001b3ull;
    }
    /// Text followed by 0xff, a byte no UTF-8 text holds, so ("ab", "c") and ("a", "bc") differ.
    void add_field(std::string_view s) noexcept {
        add(s.data(), s.size());
        const unsigned char separator = 0xff;
        add(&separator, 1);
    }
    std::string hex() const {
        char b[20];
        std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(h_));
        return b;
    }

private:
    std::uint64_t h_ = 0xcbf29ce484222325ull;
};

}  // namespace safnet::detail
