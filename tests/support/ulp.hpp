// Test helpers: ulp distance and a chi-square critical value.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace safnet::test {

/// Sample counts for the big randomized loops: full size in the release builds (where the
/// issue's minimums apply), a tenth under the sanitizers, which look for memory errors.
constexpr std::size_t scaled(std::size_t n) {
#if defined(__SANITIZE_ADDRESS__)
    return n / 10;
#else
    return n;
#endif
}

/// Distance in units in the last place; two NaNs are 0 apart, NaN vs number is "infinite".
inline std::uint64_t ulp_distance(float a, float b) {
    if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b) ? 0 : ~std::uint64_t{0};
    auto ordered = [](float x) {
        const auto u = std::bit_cast<std::int32_t>(x);
        return u < 0 ? std::int64_t{std::numeric_limits<std::int32_t>::min()} - u : std::int64_t{u};
    };
    const std::int64_t d = ordered(a) - ordered(b);
    return static_cast<std::uint64_t>(d < 0 ? -d : d);
}

inline std::uint64_t ulp_distance(double a, double b) {
    if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b) ? 0 : ~std::uint64_t{0};
    auto ordered = [](double x) {
        const auto u = std::bit_cast<std::int64_t>(x);
        return u < 0 ? static_cast<__int128>(std::numeric_limits<std::int64_t>::min()) - u : static_cast<__int128>(u);
    };
    const __int128 d = ordered(a) - ordered(b);
    return static_cast<std::uint64_t>(d < 0 ? -d : d);
}

/// Upper critical value of chi-square(df) at upper-tail probability p = 1e-4
/// (Wilson-Hilferty: accurate to ~1% for df >= 10, far below the margins tests need).
inline double chi2_critical_1e4(int df) {
    const double z = 3.7190;  // standard normal upper 1e-4 quantile
    const double k = 2.0 / (9.0 * df);
    return df * std::pow(1.0 - k + z * std::sqrt(k), 3);
}

}  // namespace safnet::test
