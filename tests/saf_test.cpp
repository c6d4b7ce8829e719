#include <safnet/saf.hpp>
#include <support/ulp.hpp>

#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

using safnet::test::ulp_distance;

namespace {

// A user-defined SAF with scalar members only: must work through the scalar fallback.
struct Erf {
    float value(float x) const { return std::erf(x); }
    double value(double x) const { return std::erf(x); }
    float derivative(float x) const { return 1.1283791670955126f * std::exp(-x * x); }
    double derivative(double x) const { return 1.1283791670955126 * std::exp(-x * x); }
    double bound() const { return 1.0; }
    std::string name() const { return "erf"; }
};
static_assert(safnet::Saf<Erf>);

// A user-defined SAF written generically: gets the SIMD path like the built-ins.
struct HalfSoftsign {
    template <class T> T value(T x) const { return T(0.5) * x / (T(1) + xsimd::abs(x)); }
    template <class T> T derivative(T x) const {
        const T r = T(1) / (T(1) + xsimd::abs(x));
        return T(0.5) * r * r;
    }
    double bound() const { return 0.5; }
    std::string name() const { return "halfsoftsign"; }
};
static_assert(safnet::Saf<HalfSoftsign> && safnet::detail::SimdSaf<HalfSoftsign, float>);

template <class T>
std::vector<T> edge_values() {
    using L = std::numeric_limits<T>;
    std::vector<T> v{T(0), -T(0), L::denorm_min(), -L::denorm_min(), L::min(), -L::min(),
                     L::min() - L::denorm_min(), T(1e-30), T(-1e-30), T(1e-4), T(1), T(-1), T(9), T(-9),
                     T(44), T(-44), T(88.5), T(-88.5), T(1e10), T(-1e10), T(1e20), T(-1e20), L::max(),
                     L::lowest(), L::infinity(), -L::infinity(), L::quiet_NaN(), -L::quiet_NaN()};
    return v;
}

template <class T>
std::vector<T> test_values(std::size_t n, unsigned seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<T> u(T(-100), T(100));
    std::vector<T> v = edge_values<T>();
    while (v.size() < n) v.push_back(u(rng));
    return v;
}

// Distance to the double-precision reference in ulp. Where the reference is tiny (below
// 2^-122 in float, 2^-1018 in double) derivatives are flushed to 0 by design, so there only an
// absolute error of that size is asked for.
template <class T>
std::uint64_t ulps_from_reference(T got, double ref) {
    const double tiny = std::ldexp(1.0, std::numeric_limits<T>::min_exponent + 3);
    if (std::abs(ref) < tiny) return std::abs(double(got) - ref) <= tiny ? 0 : ~std::uint64_t{0};
    return ulp_distance(got, static_cast<T>(ref));
}

// apply/backward (SIMD + tail) and the scalar tau/tau_derivative, all against the scalar
// reference evaluated in double: within 4 ulp.
template <class S, class T>
void check_span_ops_match_scalar(const S& saf, bool against_double = true, std::uint64_t grad_tol = 4) {
    const auto x = test_values<T>(safnet::test::scaled(1'000'000) + 3, 7);  // odd size: exercises the scalar tail
    std::vector<T> y(x.size()), g_out(x.size()), g(x.size());
    safnet::apply(saf, std::span<const T>(x), std::span<T>(y));
    std::mt19937 rng(3);
    std::uniform_real_distribution<T> u(T(-2), T(2));
    for (auto& v : g_out) v = u(rng);
    safnet::backward(saf, std::span<const T>(x), std::span<const T>(g_out), std::span<T>(g));
    std::uint64_t worst_value = 0, worst_grad = 0, worst_scalar = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        // Built-in SAFs: the reference is the formula in double. A user SAF's float formula may
        // be less accurate than that (erf' loses x^2 ulps); its reference is its own scalar path.
        const double ref_value = against_double ? safnet::tau(saf, double(x[i])) : safnet::tau(saf, x[i]);
        const double ref_grad =
            double(g_out[i]) * (against_double ? safnet::tau_derivative(saf, double(x[i]))
                                               : double(safnet::tau_derivative(saf, x[i])));
        worst_value = std::max(worst_value, ulps_from_reference(y[i], ref_value));
        worst_grad = std::max(worst_grad, ulps_from_reference(g[i], ref_grad));
        if (against_double)
            worst_scalar = std::max({worst_scalar, ulps_from_reference(safnet::tau(saf, x[i]), ref_value),
                                     ulps_from_reference(safnet::tau_derivative(saf, x[i]),
                                                         safnet::tau_derivative(saf, double(x[i])))});
    }
    INFO(saf.name() << " worst ulp: value " << worst_value << ", gradient " << worst_grad << ", scalar "
                    << worst_scalar);
    CHECK(worst_value <= 4);
    CHECK(worst_grad <= grad_tol);
    CHECK(worst_scalar <= grad_tol);
}

template <class S>
void check_damaged_value_policy(const S& saf) {
    const float b = static_cast<float>(saf.bound());
    const float inf = std::numeric_limits<float>::infinity();
    const float nan = std::numeric_limits<float>::quiet_NaN();
    CHECK(safnet::tau(saf, nan) == 0.0f);
    CHECK(safnet::tau(saf, inf) == b);
    CHECK(safnet::tau(saf, -inf) == -b);
    CHECK(safnet::tau_derivative(saf, nan) == 0.0f);
    CHECK(safnet::tau_derivative(saf, inf) == 0.0f);
    // The same through the vectorized path, with damaged values at every lane position.
    std::vector<float> raw(67, 0.25f);
    for (std::size_t i = 0; i < raw.size(); i += 3) raw[i] = nan;
    for (std::size_t i = 1; i < raw.size(); i += 5) raw[i] = -inf;
    std::vector<float> out(raw.size()), grad(raw.size()), ones(raw.size(), 1.0f);
    safnet::apply(saf, std::span<const float>(raw), std::span<float>(out));
    safnet::backward(saf, std::span<const float>(raw), std::span<const float>(ones), std::span<float>(grad));
    for (std::size_t i = 0; i < raw.size(); ++i) {
        CHECK(std::isfinite(out[i]));
        CHECK(std::abs(out[i]) <= b);
        CHECK(std::isfinite(grad[i]));
        if (std::isnan(raw[i])) CHECK(out[i] == 0.0f);
        if (std::isinf(raw[i])) CHECK(out[i] == -b);
    }
}

// Derivative against a central difference of value, in double.
template <class S>
void check_derivative_by_finite_difference(const S& saf) {
    std::mt19937_64 rng(11);
    std::uniform_real_distribution<double> u(-4.0, 4.0);
    for (int i = 0; i < 2000; ++i) {
        const double x = u(rng);
        const double h = 1e-6;
        const double fd = (saf.value(x + h) - saf.value(x - h)) / (2 * h);
        const double d = saf.derivative(x);
        if (saf.name().rfind("hardtanh", 0) == 0 && std::abs(std::abs(x) - saf.bound()) < 1e-5) continue;
        INFO(saf.name() << " x=" << x << " fd=" << fd << " analytic=" << d);
        CHECK(std::abs(fd - d) <= 1e-7 * std::max(1.0, std::abs(d)));
    }
}

}  // namespace

TEMPLATE_TEST_CASE("SAF span operations match the scalar reference within 4 ulp", "[saf]", safnet::Identity,
                   safnet::Tanh, safnet::Arctan, safnet::Softsign, safnet::HardTanh) {
    check_span_ops_match_scalar<TestType, float>(TestType{});
    check_span_ops_match_scalar<TestType, double>(TestType{});
}

TEMPLATE_TEST_CASE("user-defined SAFs work through the span operations", "[saf]", HalfSoftsign, Erf) {
    check_span_ops_match_scalar<TestType, float>(TestType{}, false);
    check_span_ops_match_scalar<TestType, double>(TestType{}, false);
}

TEST_CASE("ScaledTanh and modified tanh span operations match the scalar reference", "[saf]") {
    // a*b*sech^2(b*x) rounds b*x in float first; an error of half an ulp in that argument is
    // amplified 2|bx| times by exp, so the float formula is compared with its own scalar
    // path, and the gradient (two more roundings: a*b and the product) gets 8 ulp.
    check_span_ops_match_scalar<safnet::ScaledTanh, float>(safnet::modified_tanh(), false, 8);
    check_span_ops_match_scalar<safnet::ScaledTanh, float>(safnet::ScaledTanh{2.5f, 0.25f}, false, 8);
    check_span_ops_match_scalar<safnet::ScaledTanh, double>(safnet::modified_tanh(), false, 8);
    check_span_ops_match_scalar<safnet::HardTanh, float>(safnet::HardTanh{0.75f});
}

TEST_CASE("SAF values are accurate against double precision", "[saf]") {
    const auto x = test_values<float>(200'000, 5);
    const safnet::Tanh t;
    const safnet::Arctan a;
    const safnet::Softsign s;
    std::uint64_t wt = 0, wa = 0, ws = 0, wdt = 0;
    for (float v : x) {
        if (!std::isfinite(v)) continue;
        wt = std::max(wt, ulp_distance(t.value(v), static_cast<float>(std::tanh(double{v}))));
        wa = std::max(wa, ulp_distance(a.value(v), static_cast<float>(std::atan(double{v}))));
        ws = std::max(ws, ulp_distance(s.value(v), static_cast<float>(double{v} / (1 + std::abs(double{v})))));
        const double c = std::cosh(double{v});
        if (std::abs(v) < 40) wdt = std::max(wdt, ulp_distance(t.derivative(v), static_cast<float>(1 / (c * c))));
    }
    INFO("tanh " << wt << " atan " << wa << " softsign " << ws << " tanh' " << wdt);
    CHECK(wt <= 4);
    CHECK(wa <= 4);
    CHECK(ws <= 4);
    CHECK(wdt <= 8);
    // The sech^2 form keeps gradients alive deep into saturation, where 1 - tanh^2 is 0.
    CHECK(t.derivative(12.0f) > 0.0f);
    CHECK(t.derivative(12.0f) == Approx(4 * std::exp(-24.0)).epsilon(1e-5));
}

TEMPLATE_TEST_CASE("SAF derivatives agree with finite differences (double)", "[saf]", safnet::Tanh, safnet::Arctan,
                   safnet::Softsign, safnet::Identity, Erf, HalfSoftsign) {
    check_derivative_by_finite_difference(TestType{});
}

TEST_CASE("ScaledTanh and HardTanh derivatives agree with finite differences", "[saf]") {
    check_derivative_by_finite_difference(safnet::modified_tanh());
    check_derivative_by_finite_difference(safnet::ScaledTanh{3.0f, 0.5f});
    check_derivative_by_finite_difference(safnet::HardTanh{1.5f});
}

TEMPLATE_TEST_CASE("bounded SAFs map damaged values (NaN, Inf) inside the bound", "[saf][policy]", safnet::Tanh,
                   safnet::Arctan, safnet::Softsign, safnet::HardTanh, HalfSoftsign, Erf) {
    check_damaged_value_policy(TestType{});
}

TEST_CASE("ScaledTanh honours the damaged-value policy with its own bound", "[saf][policy]") {
    check_damaged_value_policy(safnet::modified_tanh());
    CHECK(safnet::tau(safnet::modified_tanh(), std::numeric_limits<float>::infinity()) == 1.7159f);
}

TEST_CASE("every bounded SAF stays within its bound on all values", "[saf]") {
    const auto x = test_values<float>(100'000, 9);
    std::vector<float> y(x.size());
    for (const auto& any : {safnet::AnySaf{safnet::Tanh{}}, safnet::AnySaf{safnet::Arctan{}},
                            safnet::AnySaf{safnet::Softsign{}}, safnet::AnySaf{safnet::modified_tanh()},
                            safnet::AnySaf{safnet::HardTanh{2.0f}}}) {
        std::visit([&](const auto& saf) {
            safnet::apply(saf, std::span<const float>(x), std::span<float>(y));
            const auto b = static_cast<float>(saf.bound());
            for (float v : y) REQUIRE(std::abs(v) <= b);
        }, any);
    }
}

TEST_CASE("Identity passes damaged values through unchanged", "[saf][policy]") {
    const float inf = std::numeric_limits<float>::infinity();
    CHECK(std::isnan(safnet::tau(safnet::Identity{}, std::numeric_limits<float>::quiet_NaN())));
    CHECK(safnet::tau(safnet::Identity{}, inf) == inf);
    std::vector<float> raw(33, std::numeric_limits<float>::quiet_NaN()), out(33);
    raw[5] = -inf;
    safnet::apply(safnet::Identity{}, std::span<const float>(raw), std::span<float>(out));
    CHECK(std::isnan(out[0]));
    CHECK(out[5] == -inf);
}

TEST_CASE("apply works in place and rejects mismatched spans", "[saf]") {
    std::vector<float> v{-2.0f, 0.0f, 0.5f, 3.0f, 100.0f};
    std::vector<float> expect(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) expect[i] = std::tanh(v[i]);
    safnet::apply(safnet::Tanh{}, std::span<const float>(v), std::span<float>(v));
    for (std::size_t i = 0; i < v.size(); ++i) CHECK(ulp_distance(v[i], expect[i]) <= 4);
    std::vector<float> shorter(3);
    CHECK_THROWS_WITH(safnet::apply(safnet::Tanh{}, std::span<const float>(v), std::span<float>(shorter)),
                      Catch::Contains("sizes differ"));
}

TEST_CASE("the SAF registry maps names to SAFs and back", "[saf][registry]") {
    for (const char* name : {"none", "tanh", "arctan", "softsign", "modtanh", "hardtanh"})
        CHECK(safnet::saf_name(safnet::saf_from_name(name)) == name);
    CHECK(std::holds_alternative<safnet::Identity>(safnet::saf_from_name("none")));
    const auto m = std::get<safnet::ScaledTanh>(safnet::saf_from_name("modtanh"));
    CHECK(m.a == 1.7159f);
    CHECK(m.b == 2.0f / 3.0f);
    const auto s = safnet::saf_from_name("scaledtanh(2,0.5)");
    CHECK(safnet::saf_name(s) == "scaledtanh(2,0.5)");
    CHECK(safnet::saf_name(safnet::saf_from_name(safnet::saf_name(s))) == "scaledtanh(2,0.5)");
    CHECK(std::get<safnet::HardTanh>(safnet::saf_from_name("hardtanh(2.5)")).c == 2.5f);
}

TEST_CASE("the SAF registry rejects unknown names, listing the valid ones", "[saf][registry]") {
    CHECK_THROWS_WITH(safnet::saf_from_name("sigmoid"),
                      Catch::Contains("unknown SAF 'sigmoid'") && Catch::Contains("tanh") &&
                          Catch::Contains("softsign") && Catch::Contains("modtanh") && Catch::Contains("none"));
    CHECK_THROWS_WITH(safnet::saf_from_name("scaledtanh(x,1)"), Catch::Contains("'x'"));
    CHECK_THROWS_AS(safnet::saf_from_name("scaledtanh(1)"), safnet::Error);
    CHECK_THROWS_WITH(safnet::saf_from_name("hardtanh(-2)"), Catch::Contains("must be positive"));  // was silently hardtanh(2)
    CHECK_THROWS_AS(safnet::saf_from_name(""), safnet::Error);
}

TEST_CASE("apply gives every position the same bits, and apply_one reproduces them", "[saf]") {
    const auto x = test_values<float>(1'003, 13);  // a size with a tail
    for (const char* name : {"none", "tanh", "arctan", "softsign", "modtanh", "hardtanh"}) {
        std::visit([&](const auto& saf) {
            std::vector<float> y(x.size());
            safnet::apply(saf, std::span<const float>(x), std::span<float>(y));
            for (std::size_t i = 0; i < x.size(); ++i) {
                const float one = safnet::apply_one(saf, x[i]);
                INFO(name << " x=" << x[i]);
                REQUIRE(std::bit_cast<std::uint32_t>(one) == std::bit_cast<std::uint32_t>(y[i]));
            }
            // Shifting the data by one element moves values between main loop and tail.
            std::vector<float> y2(x.size() - 1);
            safnet::apply(saf, std::span<const float>(x).subspan(1), std::span<float>(y2));
            for (std::size_t i = 0; i < y2.size(); ++i)
                REQUIRE(std::bit_cast<std::uint32_t>(y2[i]) == std::bit_cast<std::uint32_t>(y[i + 1]));
        }, safnet::saf_from_name(name));
    }
}

TEST_CASE("tau_preimage inverts every SAF inside its bound and clips outside", "[saf][finetune]") {
    for (const safnet::AnySaf& saf : {safnet::AnySaf{safnet::Identity{}}, safnet::AnySaf{safnet::Tanh{}}, safnet::AnySaf{safnet::Arctan{}},
                                      safnet::AnySaf{safnet::Softsign{}}, safnet::AnySaf{safnet::modified_tanh()},
                                      safnet::AnySaf{safnet::ScaledTanh{2.0f, 0.5f}}, safnet::AnySaf{safnet::HardTanh{0.5f}}}) {
        std::visit([](const auto& s) {
            INFO(s.name());
            const double bound = std::isfinite(s.bound()) ? s.bound() : 10.0;
            for (double frac = -0.99; frac <= 0.99; frac += 0.01) {
                const double w = frac * bound;
                CHECK(safnet::tau(s, safnet::tau_preimage(s, w)) == Approx(w).margin(1e-12).epsilon(1e-10));
            }
            if (safnet::is_bounded(s)) {
                CHECK(safnet::tau(s, safnet::tau_preimage(s, 3 * s.bound())) == Approx(0.999 * s.bound()).epsilon(1e-9));
                CHECK(safnet::tau(s, safnet::tau_preimage(s, -3 * s.bound())) == Approx(-0.999 * s.bound()).epsilon(1e-9));
            }
            CHECK(safnet::tau_preimage(s, std::nan("")) == 0.0);
        }, saf);
    }
}
