// safnet/saf.hpp — saturated activation functions (SAFs) that bound a layer's weights.
//
// The method (arXiv 2411.19027): a layer stores raw weights W but computes with tau(W), where
// tau is bounded (|tau| <= bound). Whatever a bit flip does to a stored W, tau(W) stays in
// [-bound, bound], so one damaged weight cannot blow up the network.
//
// What this header promises
//  * `Saf` — the concept a SAF satisfies: value(x), derivative(x) for float and double,
//    bound() = sup|tau| (+inf for the Identity baseline) and name(). A user-written functor
//    that satisfies it works everywhere a built-in one does. If its value/derivative also
//    accept xsimd batches (write them as templates over T, as the built-ins do), the span
//    operations below vectorize it; otherwise they fall back to a scalar loop.
//  * Built-ins: Identity ("none"), Tanh, Arctan, Softsign, ScaledTanh (a*tanh(b*x)) with
//    modified_tanh() = 1.7159*tanh(2x/3) ("modtanh"), HardTanh(c) (clamp, a baseline).
//  * Damaged-value policy (what `tau`, `apply` and `backward` implement): for a bounded SAF,
//    a raw value read back as NaN maps to 0 and +-Inf maps to +-bound, and the gradient at a
//    non-finite raw value is 0; so a NaN in memory can never poison an output. Identity has
//    an infinite bound and passes NaN/Inf through unchanged: it is the unprotected baseline.
//  * apply(saf, raw, out) and backward(saf, raw, grad_out, grad_raw) over spans of float or
//    double: SIMD (xsimd) main loop plus scalar tail. Float results are within 4 ulp of the
//    double-precision scalar reference (tau / tau_derivative evaluated in double, rounded),
//    as is the scalar float path. Derivatives below ~4x the smallest normal may flush to 0.
//    In-place use (out aliasing raw) is allowed. O(n), no allocation. The tail is padded
//    into one more batch, so each value's result is independent of its position, and
//    apply_one(saf, x) returns exactly what apply() would: a fault campaign refreshing a few
//    damaged elements gets the bits a full refresh would give.
//  * Registry for command-line tools: saf_from_name("tanh") -> AnySaf (a std::variant);
//    unknown names throw safnet::Error listing the valid names. Parametrised forms
//    "scaledtanh(a,b)" and "hardtanh(c)" round-trip through name().
//  * tau_preimage(saf, w): raw value whose tau is w (clipped just inside the bound), for
//    adapting a pretrained model to a SAF.
#pragma once

#include <safnet/error.hpp>

#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

namespace safnet {

template <class S>
concept Saf = std::copy_constructible<S> && requires(const S s, float f, double d) {
    { s.value(f) } -> std::same_as<float>;
    { s.derivative(f) } -> std::same_as<float>;
    { s.value(d) } -> std::same_as<double>;
    { s.derivative(d) } -> std::same_as<double>;
    { s.bound() } -> std::convertible_to<double>;
    { s.name() } -> std::convertible_to<std::string>;
};

namespace detail {

template <class T> struct scalar_of { using type = T; };
template <class T, class A> struct scalar_of<xsimd::batch<T, A>> { using type = T; };

// Lets one formula serve scalars and xsimd batches alike.
template <class T>
inline T select(bool c, T a, T b) noexcept { return c ? a : b; }
template <class T, class A>
inline xsimd::batch<T, A> select(const xsimd::batch_bool<T, A>& c, const xsimd::batch<T, A>& a,
                                 const xsimd::batch<T, A>& b) noexcept {
    return xsimd::select(c, a, b);
}

// sech^2(x) = 4e / (1+e)^2 with e = exp(-2|x|). Unlike 1 - tanh^2(x) it has no cancellation,
// so the gradient stays accurate (and nonzero) far into saturation.
// Where sech^2 would be subnormal (|x| beyond ~43.6 in float, ~354 in double) it is flushed
// to 0: vector exp flushes there anyway, and such gradients carry no information.
template <class T>
inline T sech2(T x) noexcept {
    using Scalar = typename scalar_of<T>::type;
    constexpr Scalar limit = std::is_same_v<Scalar, double> ? Scalar(354) : Scalar(43.5);
    const T ax = xsimd::abs(x);
    const T e = xsimd::exp(T(-2) * ax);
    const T d2 = xsimd::fma(e, e + T(2), T(1));  // (1+e)^2 with one rounding where FMA exists
    return detail::select(ax < T(limit), T(4) * e / d2, T(0));
}

inline std::string format_number(double v) {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, static_cast<float>(v));
    return std::string(buf, r.ptr);
}

}  // namespace detail

/// tau(x) = x: the unprotected baseline.
struct Identity {
    template <class T> T value(T x) const noexcept { return x; }
    template <class T> T derivative(T) const noexcept { return T(1); }
    double bound() const noexcept { return std::numeric_limits<double>::infinity(); }
    double inverse(double y) const noexcept { return y; }
    std::string name() const { return "none"; }
};

/// tau(x) = tanh(x), bound 1.
struct Tanh {
    template <class T> T value(T x) const noexcept { return xsimd::tanh(x); }
    template <class T> T derivative(T x) const noexcept { return detail::sech2(x); }
    double bound() const noexcept { return 1.0; }
    double inverse(double y) const noexcept { return std::atanh(y); }
    std::string name() const { return "tanh"; }
};

/// tau(x) = atan(x), bound pi/2.
struct Arctan {
    template <class T> T value(T x) const noexcept { return xsimd::atan(x); }
    // 1/(1+x^2); where x^2 overflows the true value is below the smallest normal and 0 is
    // returned, which the flush-to-zero rule for tiny derivatives allows.
    template <class T> T derivative(T x) const noexcept { return T(1) / (T(1) + x * x); }
    double bound() const noexcept { return 1.5707963267948966; }
    double inverse(double y) const noexcept { return std::tan(y); }
    std::string name() const { return "arctan"; }
};

/// tau(x) = x / (1 + |x|), bound 1.
struct Softsign {
    template <class T> T value(T x) const noexcept { return x / (T(1) + xsimd::abs(x)); }
    template <class T> T derivative(T x) const noexcept {
        const T r = T(1) / (T(1) + xsimd::abs(x));
        return r * r;
    }
    double bound() const noexcept { return 1.0; }
    double inverse(double y) const noexcept { return y / (1.0 - std::abs(y)); }
    std::string name() const { return "softsign"; }
};

/// tau(x) = a * tanh(b * x), bound |a|.
struct ScaledTanh {
    float a = 1.0f;
    float b = 1.0f;
    template <class T> T value(T x) const noexcept { return T(a) * xsimd::tanh(T(b) * x); }
    template <class T> T derivative(T x) const noexcept {
        return T(a) * T(b) * detail::sech2(T(b) * x);
    }
    double bound() const noexcept { return std::abs(static_cast<double>(a)); }
    double inverse(double y) const noexcept { return std::atanh(y / static_cast<double>(a)) / static_cast<double>(b); }
    std::string name() const;
};

/// LeCun's "modified tanh" 1.7159 * tanh(2x/3).
inline constexpr ScaledTanh modified_tanh() noexcept { return {1.7159f, 2.0f / 3.0f}; }

inline std::string ScaledTanh::name() const {
    const ScaledTanh m = modified_tanh();
    if (a == m.a && b == m.b) return "modtanh";
    return "scaledtanh(" + detail::format_number(a) + "," + detail::format_number(b) + ")";
}

/// tau(x) = clamp(x, -c, c): hard clipping, a comparison baseline (zero gradient outside).
struct HardTanh {
    float c = 1.0f;
    template <class T> T value(T x) const noexcept {
        const T hi(c), lo(-c);
        return detail::select(x > hi, hi, detail::select(x < lo, lo, x));
    }
    template <class T> T derivative(T x) const noexcept {
        return detail::select(xsimd::abs(x) < T(c), T(1), T(0));
    }
    double bound() const noexcept { return std::abs(static_cast<double>(c)); }
    double inverse(double y) const noexcept { return y; }
    std::string name() const {
        return c == 1.0f ? "hardtanh" : "hardtanh(" + detail::format_number(c) + ")";
    }
};

static_assert(Saf<Identity> && Saf<Tanh> && Saf<Arctan> && Saf<Softsign> && Saf<ScaledTanh> &&
              Saf<HardTanh>);

// ---------------------------------------------------------------------------------------------
// Scalar operations with the damaged-value policy.

template <Saf S>
inline bool is_bounded(const S& saf) noexcept { return std::isfinite(static_cast<double>(saf.bound())); }

/// tau(x) under the damaged-value policy (NaN -> 0, +-Inf -> +-bound for bounded SAFs).
template <Saf S, std::floating_point T>
inline T tau(const S& saf, T x) noexcept {
    if (is_bounded(saf)) {
        if (std::isnan(x)) return T(0);
        if (std::isinf(x)) return std::copysign(static_cast<T>(saf.bound()), x);
    }
    return saf.value(x);
}

/// tau'(x) under the damaged-value policy (0 at non-finite x for bounded SAFs).
template <Saf S, std::floating_point T>
inline T tau_derivative(const S& saf, T x) noexcept {
    if (is_bounded(saf) && !std::isfinite(x)) return T(0);
    return saf.derivative(x);
}

/// A raw value r with tau(r) = w: the start point for fine-tuning a model trained without a
/// SAF (paper Sec. "fine-tuning"). w is first clipped to (1 - margin) * bound, just inside the
/// SAF's range, because tau never reaches its bound (tanh^-1(1) = inf). Requires the SAF's
/// optional member inverse(y) (all built-ins have one). NaN w maps to 0.
template <Saf S>
inline double tau_preimage(const S& saf, double w, double margin = 1e-3) {
    static_assert(requires { saf.inverse(0.0); }, "this SAF has no inverse(y) member");
    if (std::isnan(w)) return 0.0;
    if (is_bounded(saf)) {
        const double limit = saf.bound() * (1.0 - margin);
        w = std::clamp(w, -limit, limit);
    }
    return saf.inverse(w);
}

// ---------------------------------------------------------------------------------------------
// Span operations.

namespace detail {

template <class S, class T>
concept SimdSaf = requires(const S s, xsimd::batch<T> b) {
    { s.value(b) } -> std::same_as<xsimd::batch<T>>;
    { s.derivative(b) } -> std::same_as<xsimd::batch<T>>;
};

template <class S, class T>
inline xsimd::batch<T> tau_batch(const S& saf, xsimd::batch<T> x, bool bounded, T bound) noexcept {
    xsimd::batch<T> y = saf.value(x);
    if (bounded) {
        y = xsimd::select(xsimd::isinf(x), xsimd::copysign(xsimd::batch<T>(bound), x), y);
        y = xsimd::select(xsimd::isnan(x), xsimd::batch<T>(T(0)), y);
    }
    return y;
}

inline void require_same_size(std::size_t a, std::size_t b, const char* what) {
    if (a != b)
        throw Error(std::string(what) + ": span sizes differ (" + std::to_string(a) + " vs " +
                    std::to_string(b) + ")");
}

}  // namespace detail

/// out[i] = tau(raw[i]) for all i. out may alias raw. Every element, tail included, goes
/// through the same (SIMD) kernel, so the result for a value does not depend on its position.
template <Saf S, std::floating_point T>
void apply(const S& saf, std::span<const T> raw, std::span<T> out) {
    detail::require_same_size(raw.size(), out.size(), "safnet::apply");
    if constexpr (detail::SimdSaf<S, T>) {
        using B = xsimd::batch<T>;
        const bool bounded = is_bounded(saf);
        const T bound = static_cast<T>(saf.bound());
        std::size_t i = 0;
        for (; i + B::size <= raw.size(); i += B::size)
            detail::tau_batch(saf, B::load_unaligned(raw.data() + i), bounded, bound)
                .store_unaligned(out.data() + i);
        if (i < raw.size()) {  // tail: pad one batch so it sees the same kernel
            alignas(64) T buf[B::size] = {};
            std::copy(raw.begin() + static_cast<std::ptrdiff_t>(i), raw.end(), buf);
            detail::tau_batch(saf, B::load_aligned(buf), bounded, bound).store_aligned(buf);
            std::copy(buf, buf + (raw.size() - i), out.begin() + static_cast<std::ptrdiff_t>(i));
        }
    } else {
        for (std::size_t i = 0; i < raw.size(); ++i) out[i] = tau(saf, raw[i]);
    }
}

/// Exactly the value apply() produces for x (bit for bit), for refreshing single elements
/// after a fault without recomputing a whole tensor.
template <Saf S, std::floating_point T>
T apply_one(const S& saf, T x) noexcept {
    if constexpr (detail::SimdSaf<S, T>) {
        using B = xsimd::batch<T>;
        alignas(64) T buf[B::size];
        detail::tau_batch(saf, B(x), is_bounded(saf), static_cast<T>(saf.bound())).store_aligned(buf);
        return buf[0];
    } else {
        return tau(saf, x);
    }
}

/// grad_raw[i] = grad_out[i] * tau'(raw[i]). grad_raw may alias grad_out.
template <Saf S, std::floating_point T>
void backward(const S& saf, std::span<const T> raw, std::span<const T> grad_out,
              std::span<T> grad_raw) {
    detail::require_same_size(raw.size(), grad_out.size(), "safnet::backward");
    detail::require_same_size(raw.size(), grad_raw.size(), "safnet::backward");
    std::size_t i = 0;
    if constexpr (detail::SimdSaf<S, T>) {
        using B = xsimd::batch<T>;
        const bool bounded = is_bounded(saf);
        auto kernel = [&](B x, B g) {
            B d = saf.derivative(x);
            if (bounded) d = xsimd::select(xsimd::isfinite(x), d, B(T(0)));
            return d * g;
        };
        for (; i + B::size <= raw.size(); i += B::size)
            kernel(B::load_unaligned(raw.data() + i), B::load_unaligned(grad_out.data() + i))
                .store_unaligned(grad_raw.data() + i);
        if (i < raw.size()) {
            alignas(64) T x[B::size] = {}, g[B::size] = {};
            const std::size_t n = raw.size() - i;
            std::copy_n(raw.data() + i, n, x);
            std::copy_n(grad_out.data() + i, n, g);
            kernel(B::load_aligned(x), B::load_aligned(g)).store_aligned(x);
            std::copy_n(x, n, grad_raw.data() + i);
        }
        return;
    }
    for (; i < raw.size(); ++i) grad_raw[i] = grad_out[i] * tau_derivative(saf, raw[i]);
}

// Convenience overloads so std::vector / arrays bind without spelling out spans.
template <Saf S, class In, class Out>
void apply(const S& saf, const In& raw, Out&& out) {
    using T = std::remove_cvref_t<decltype(*std::data(raw))>;
    apply(saf, std::span<const T>(std::data(raw), std::size(raw)),
          std::span<T>(std::data(out), std::size(out)));
}

// ---------------------------------------------------------------------------------------------
// Runtime registry: the one place a command-line name becomes a type.

using AnySaf = std::variant<Identity, Tanh, Arctan, Softsign, ScaledTanh, HardTanh>;

inline std::vector<std::string> saf_names() {
    return {"none", "tanh", "arctan", "softsign", "modtanh", "hardtanh", "scaledtanh(a,b)",
            "hardtanh(c)"};
}

namespace detail {

inline std::vector<float> parse_saf_args(std::string_view full, std::string_view args) {
    std::vector<float> out;
    while (!args.empty()) {
        const auto comma = args.find(',');
        std::string_view tok = args.substr(0, comma);
        while (!tok.empty() && tok.front() == ' ') tok.remove_prefix(1);
        while (!tok.empty() && tok.back() == ' ') tok.remove_suffix(1);
        float v = 0;
        auto [p, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), v);
        if (ec != std::errc() || p != tok.data() + tok.size() || !std::isfinite(v) || v == 0.0f)
            throw Error("SAF '" + std::string(full) + "': '" + std::string(tok) +
                        "' is not a finite nonzero number");
        out.push_back(v);
        if (comma == std::string_view::npos) break;
        args.remove_prefix(comma + 1);
    }
    return out;
}

[[noreturn]] inline void unknown_saf(std::string_view name) {
    std::string msg = "unknown SAF '" + std::string(name) + "'; valid names:";
    for (const auto& n : saf_names()) msg += " " + n;
    throw Error(msg);
}

}  // namespace detail

/// Maps a command-line name onto a SAF. Throws safnet::Error listing valid names.
inline AnySaf saf_from_name(std::string_view name) {
    if (name == "none" || name == "identity") return Identity{};
    if (name == "tanh") return Tanh{};
    if (name == "arctan") return Arctan{};
    if (name == "softsign") return Softsign{};
    if (name == "modtanh") return modified_tanh();
    if (name == "hardtanh") return HardTanh{};
    const auto open = name.find('(');
    if (open != std::string_view::npos && name.back() == ')') {
        const std::string_view head = name.substr(0, open);
        const auto args = detail::parse_saf_args(name, name.substr(open + 1, name.size() - open - 2));
        if (head == "scaledtanh" && args.size() == 2) return ScaledTanh{args[0], args[1]};
        if (head == "hardtanh" && args.size() == 1) {
            if (!(args[0] > 0.0f)) throw Error("SAF '" + std::string(name) + "': the bound c of hardtanh(c) must be positive");
            return HardTanh{args[0]};
        }
    }
    detail::unknown_saf(name);
}

inline std::string saf_name(const AnySaf& saf) {
    return std::visit([](const auto& s) { return s.name(); }, saf);
}

}  // namespace safnet
