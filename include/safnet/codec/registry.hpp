// safnet/codec/registry.hpp — the one place a codec name ("fp16", "q2.5") becomes a type.
//
// codec_from_name accepts fp32 | fp16 | bf16 | q<I>.<F> (1 + I + F <= 24; "q2.5" is the
// paper's 8-bit format) and throws safnet::Error naming the bad string and the valid forms.
// Visit the returned AnyCodec with std::visit to run templated code on the concrete codec.
#pragma once

#include <safnet/codec/bfloat16.hpp>
#include <safnet/codec/fixed_point.hpp>
#include <safnet/codec/float16.hpp>
#include <safnet/codec/float32.hpp>

#include <charconv>
#include <string_view>
#include <variant>

namespace safnet {

using AnyCodec = std::variant<Float32, Float16, BFloat16, DynamicFixedPoint<std::uint8_t>,
                              DynamicFixedPoint<std::uint16_t>, DynamicFixedPoint<std::uint32_t>>;

namespace detail {

[[noreturn]] inline void bad_codec(std::string_view name, const std::string& why) {
    throw Error("unknown codec '" + std::string(name) + "'" + why +
                "; valid: fp32, fp16, bf16, q<I>.<F> (e.g. q2.5, 1 + I + F <= 24)");
}

inline int parse_small_int(std::string_view s, std::string_view name) {
    int v = -1;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || p != s.data() + s.size() || v < 0) bad_codec(name, "");
    return v;
}

}  // namespace detail

inline AnyCodec codec_from_name(std::string_view name) {
    if (name == "fp32" || name == "float32") return Float32{};
    if (name == "fp16" || name == "float16" || name == "half") return Float16{};
    if (name == "bf16" || name == "bfloat16") return BFloat16{};
    if (name.size() >= 4 && (name[0] == 'q' || name[0] == 'Q')) {
        const auto dot = name.find('.');
        if (dot == std::string_view::npos) detail::bad_codec(name, "");
        const int ib = detail::parse_small_int(name.substr(1, dot - 1), name);
        const int fb = detail::parse_small_int(name.substr(dot + 1), name);
        if (ib > 23 || fb > 23) detail::bad_codec(name, " (at most 23 integer and 23 fraction bits)");  // before adding: no overflow
        const int total = 1 + ib + fb;
        if (total > 24) detail::bad_codec(name, " (needs " + std::to_string(total) + " bits)");
        if (total <= 8) return DynamicFixedPoint<std::uint8_t>(ib, fb);
        if (total <= 16) return DynamicFixedPoint<std::uint16_t>(ib, fb);
        return DynamicFixedPoint<std::uint32_t>(ib, fb);
    }
    detail::bad_codec(name, "");
}

inline std::string codec_name(const AnyCodec& c) {
    return std::visit([](const auto& x) { return x.name(); }, c);
}

}  // namespace safnet
