// safnet/checked.hpp — bounded sizes and strict number parsing for everything that comes from
// a file or a flag.
//
// Contract: every function here either returns an exact, in-range value or throws
// safnet::Error naming `what` (a file and field, a flag), the offending text or operands, and
// the limit that was exceeded. Nothing wraps, nothing is truncated, no locale is consulted.
//   checked_mul(a, b, what)            a * b, or an error when the product exceeds `limit`
//   checked_product(dims, limit, what) the product of all dims (zeros included: a zero does
//                                      not hide an overflowing dimension after it)
//   parse_unsigned(text, max, what)    decimal digits only: no sign, no space, no "0x", <= max
//   parse_finite(text, what)           a finite decimal number (from_chars), nothing after it
// The limits are generous on purpose: a 100-million-parameter model or a 1-million-image
// dataset is far inside them; what they stop is a 12-byte file that claims 2^64 elements.
#pragma once

#include <safnet/error.hpp>

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

namespace safnet {

/// The largest buffer any tensor may hold (1 TiB): beyond it a size is a corrupt file's claim.
inline constexpr std::size_t max_tensor_bytes = std::size_t{1} << 40;

/// a * b, or an Error naming `what` when the product exceeds `limit`.
inline std::size_t checked_mul(std::size_t a, std::size_t b, std::string_view what,
                               std::size_t limit = std::numeric_limits<std::size_t>::max()) {
    if (a != 0 && b > limit / a)
        throw Error(std::string(what) + ": " + std::to_string(a) + " x " + std::to_string(b) + " exceeds the limit of " +
                    std::to_string(limit));
    return a * b;
}

/// The product of `dims`, each factor and every partial product of the nonzero factors at most
/// `limit`, so a zero dimension cannot mask a dimension of 2^64 - 1.
inline std::size_t checked_product(std::span<const std::size_t> dims, std::size_t limit, std::string_view what) {
    std::size_t nonzero = 1;
    bool zero = false;
    for (const std::size_t d : dims) {
        if (d == 0) {
            zero = true;
            continue;
        }
        nonzero = checked_mul(nonzero, d, what, limit);
    }
    return zero ? 0 : nonzero;
}

/// Strict decimal: one or more digits, nothing else, value <= max.
inline std::uint64_t parse_unsigned(std::string_view text, std::uint64_t max, std::string_view what) {
    std::uint64_t v = 0;
    const bool digits = !text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (!digits || ec != std::errc() || end != text.data() + text.size() || v > max)
        throw Error(std::string(what) + ": '" + std::string(text) + "' is not a whole number in [0, " + std::to_string(max) + "]");
    return v;
}

/// A finite number in decimal or scientific notation; nothing may follow it.
inline double parse_finite(std::string_view text, std::string_view what) {
    double v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v))
        throw Error(std::string(what) + ": '" + std::string(text) + "' is not a finite number");
    return v;
}

}  // namespace safnet
