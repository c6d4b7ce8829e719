// safnet/checked.hpp — bounded sizes and strict number parsing for everything that comes from
// a file or a flag.
//
// Contract: every function here either returns an exact, in-range value or throws
// safnet::Error naming `what` (a file and field, a flag), the offending text or operands, and
// the limit that was exceeded. Nothing wraps, nothing is truncated, no locale is consulted.
//   checked_mul(a, b, what)            a * b, or an error when the product exceeds `limit`
//   checked_product(dims, limit, what) the product of all dims (zeros included: a zero does
//                                      not hide an overflowing dimension after it)
//   mul_fits, product_within           the same tests without throwing, for hot paths that
//                                      build the message only when they fail
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
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

namespace safnet {

/// The largest buffer any tensor may hold (1 TiB): beyond it a size is a corrupt file's claim.
inline constexpr std::size_t max_tensor_bytes = std::size_t{1} << 40;

/// Whether a * b <= limit.
inline constexpr bool mul_fits(std::size_t a, std::size_t b, std::size_t limit) noexcept { return a == 0 || b <= limit / a; }

/// The product of `dims` if every partial product of the nonzero factors is <= limit (so a
/// zero cannot mask a dimension of 2^64 - 1), else nothing.
inline std::optional<std::size_t> product_within(std::span<const std::size_t> dims, std::size_t limit) noexcept {
    std::size_t nonzero = 1;
    bool zero = false;
    for (const std::size_t d : dims) {
        zero = zero || d == 0;
        if (d == 0) continue;
        if (!mul_fits(nonzero, d, limit)) return std::nullopt;
        nonzero *= d;
    }
    return zero ? 0 : nonzero;
}

/// a * b, or an Error naming `what` when the product exceeds `limit`.
inline std::size_t checked_mul(std::size_t a, std::size_t b, std::string_view what,
                               std::size_t limit = std::numeric_limits<std::size_t>::max()) {
    if (!mul_fits(a, b, limit))
        throw Error(std::string(what) + ": " + std::to_string(a) + " x " + std::to_string(b) + " exceeds the limit of " +
                    std::to_string(limit));
    return a * b;
}

/// product_within, or an Error naming `what` and the first partial product that exceeds `limit`.
inline std::size_t checked_product(std::span<const std::size_t> dims, std::size_t limit, std::string_view what) {
    if (const auto n = product_within(dims, limit)) return *n;
    std::size_t nonzero = 1;
    for (const std::size_t d : dims)
        if (d != 0) nonzero = checked_mul(nonzero, d, what, limit);  // throws at the first overflow
    return nonzero;  // not reached
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
