// Winograd F(4,3) along rows (detail/conv/winograd.hpp) against a direct convolution summed in
// long double. The error is bounded relative to each output's sum of |w * x| (the scale a
// rounding error of the terms has): in double to 1e-13, in float to 2e-6 (measured maximum
// on these shapes: reported by the test). A wrong transform coefficient gives errors of the
// order of the output itself.
#include <catch2/catch.hpp>

#include <safnet/detail/conv/winograd.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

using namespace safnet::detail;

namespace {

struct Case {
    std::size_t c, o, h, w, pad;
};

template <class T>
double max_scaled_error(const Case& cs, std::uint64_t seed) {
    constexpr std::size_t MR = direct_conv_mr;
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(-1, 1);
    std::vector<T> x(cs.c * cs.h * cs.w), w(cs.o * cs.c * 9);
    for (auto& v : x) v = static_cast<T>(u(rng));
    for (auto& v : w) v = static_cast<T>(u(rng));
    const std::size_t oh = cs.h + 2 * cs.pad - 2, ow = cs.w + 2 * cs.pad - 2;
    const WinogradShape s = winograd_shape<T>(cs.c, cs.o, cs.h, cs.w, cs.pad);
    REQUIRE((s.oh == oh && s.ow == ow));
    // Workspaces start as NaN: every element the convolution reads must have been written.
    std::vector<T> packed(winograd_points * (cs.o + MR - 1) / MR * MR * cs.c * 3),
        t(winograd_input_size(s), std::numeric_limits<T>::quiet_NaN()), m(winograd_product_size(s), std::numeric_limits<T>::quiet_NaN()),
        y(cs.o * oh * ow, T(-777));
    pack_winograd_weights<MR>(w.data(), cs.o, cs.c, packed.data());
    winograd_conv(s, packed.data(), x.data(), t.data(), m.data(), y.data());
    double worst = 0;
    for (std::size_t o = 0; o < cs.o; ++o)
        for (std::size_t i = 0; i < oh; ++i)
            for (std::size_t j = 0; j < ow; ++j) {
                long double ref = 0, scale = 0;
                for (std::size_t c = 0; c < cs.c; ++c)
                    for (std::size_t ky = 0; ky < 3; ++ky)
                        for (std::size_t kx = 0; kx < 3; ++kx) {
                            const auto r = static_cast<std::ptrdiff_t>(i + ky) - static_cast<std::ptrdiff_t>(cs.pad);
                            const auto q = static_cast<std::ptrdiff_t>(j + kx) - static_cast<std::ptrdiff_t>(cs.pad);
                            if (r < 0 || q < 0 || r >= std::ptrdiff_t(cs.h) || q >= std::ptrdiff_t(cs.w)) continue;
                            const long double term = static_cast<long double>(w[((o * cs.c + c) * 3 + ky) * 3 + kx]) *
                                                     x[(c * cs.h + std::size_t(r)) * cs.w + std::size_t(q)];
                            ref += term;
                            scale += std::abs(term);
                        }
                const double err = double(std::abs(static_cast<long double>(y[(o * oh + i) * ow + j]) - ref) / (scale + 1e-30L));
                worst = std::max(worst, err);
            }
    return worst;
}

const Case kCases[] = {{3, 5, 32, 32, 1}, {16, 16, 32, 32, 1}, {16, 9, 28, 28, 1}, {8, 16, 14, 14, 1}, {4, 4, 13, 7, 1},
                       {5, 3, 10, 33, 0}, {4, 6, 9, 9, 2},    {1, 1, 3, 3, 0},     {32, 32, 16, 16, 1}};

}  // namespace

TEST_CASE("Winograd F(4,3) rows equal the direct convolution to rounding", "[conv][winograd]") {
    double worst_float = 0;
    for (const Case& cs : kCases) {
        CAPTURE(cs.c, cs.o, cs.h, cs.w, cs.pad);
        const double ed = max_scaled_error<double>(cs, 3), ef = max_scaled_error<float>(cs, 3);
        CHECK(ed < 1e-13);
        CHECK(ef < 2e-6);
        worst_float = std::max(worst_float, ef);
    }
    WARN("largest float error / sum |w x| over the cases: " << worst_float);
}
