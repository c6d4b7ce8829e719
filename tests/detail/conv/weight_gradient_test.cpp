// The direct weight gradient (detail/conv/weight_gradient.hpp): for one vector of output channels,
// stride 1 and kernel width 3, wgrad_accumulate takes the row tile that reuses each broadcast
// for three taps. It must give the same bits as the general tile (same terms, same order), and
// both must agree with the definition summed in long double. Shapes cover kernel-row counts
// that are not multiples of the tile's 4, padded output channels and single-column planes.
#include <catch2/catch.hpp>

#include <safnet/detail/conv/padding.hpp>
#include <safnet/detail/conv/weight_gradient.hpp>

#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

using namespace safnet::detail;

namespace {

struct Case {
    std::size_t c, o, oh, ow, pad;
};

template <class T>
void check_weight_gradient(const Case& cs) {
    constexpr std::size_t S = xsimd::batch<T>::size;
    CAPTURE(cs.c, cs.o, cs.oh, cs.ow, cs.pad, sizeof(T));
    std::mt19937_64 rng(cs.c * 100 + cs.o * 10 + cs.ow);
    std::uniform_real_distribution<double> u(-1, 1);
    const std::size_t h = cs.oh + 2 - 2 * cs.pad, w = cs.ow + 2 - 2 * cs.pad;  // 3x3, stride 1
    const std::size_t hp = cs.oh + 2, wp = cs.ow + 2, taps = cs.c * 9, pixels = cs.oh * cs.ow;
    std::vector<T> x(cs.c * h * w), xp(cs.c * hp * wp), dyt(pixels * S, T(0));
    for (auto& v : x) v = static_cast<T>(u(rng));
    for (std::size_t p = 0; p < pixels; ++p)
        for (std::size_t o = 0; o < cs.o; ++o) dyt[p * S + o] = static_cast<T>(u(rng));
    pad_image(x.data(), cs.c, h, w, cs.pad, hp, wp, hp * wp, xp.data());
    std::vector<std::size_t> offsets(taps);
    for (std::size_t c = 0; c < cs.c; ++c)
        for (std::size_t ky = 0; ky < 3; ++ky)
            for (std::size_t kx = 0; kx < 3; ++kx) offsets[(c * 3 + ky) * 3 + kx] = (c * hp + ky) * wp + kx;
    const WgradShape s{taps, S, 1, cs.oh, cs.ow, wp, 3};
    // Accumulated twice onto the same nonzero start: both paths must add, not overwrite.
    std::vector<T> rows(taps * S, T(0.5)), general(taps * S, T(0.5));
    for (int pass = 0; pass < 2; ++pass) {
        wgrad_accumulate(s, offsets.data(), xp.data(), dyt.data(), rows.data());
        wgrad_columns<16, 1>(s, offsets.data(), xp.data(), dyt.data(), general.data());
    }
    CHECK(std::memcmp(rows.data(), general.data(), rows.size() * sizeof(T)) == 0);
    double worst = 0;
    for (std::size_t tap = 0; tap < taps; ++tap)
        for (std::size_t o = 0; o < S; ++o) {
            long double sum = 0, scale = 0;
            for (std::size_t p = 0; p < pixels; ++p) {
                const long double term = static_cast<long double>(xp[offsets[tap] + p / cs.ow * wp + p % cs.ow]) * dyt[p * S + o];
                sum += term;
                scale += std::fabs(term);
            }
            const long double expect = 0.5L + 2 * sum;
            worst = std::max(worst, static_cast<double>(std::fabs(rows[tap * S + o] - expect) / (1 + 2 * scale)));
        }
    CHECK(worst < (sizeof(T) == 4 ? 1e-6 : 1e-14));
}

const Case kCases[] = {{16, 16, 32, 32, 1}, {3, 16, 32, 32, 1}, {5, 6, 9, 13, 1}, {1, 4, 7, 7, 1}, {2, 3, 4, 1, 1}, {7, 8, 6, 5, 0}};

}  // namespace

TEST_CASE("direct weight gradient: the row tile equals the general tile bit for bit, and the definition", "[detail][conv]") {
    std::size_t checked = 0;  // the row tile needs the output channels in one vector
    for (const Case& c : kCases) {
        if (c.o <= xsimd::batch<float>::size) check_weight_gradient<float>(c), ++checked;
        if (c.o <= xsimd::batch<double>::size) check_weight_gradient<double>(c), ++checked;
    }
    CHECK(checked >= 2);
}

namespace {

template <class T>
void check_transpose(std::size_t channels, std::size_t pixels, std::size_t o_padded) {
    CAPTURE(channels, pixels, o_padded, sizeof(T));
    std::vector<T> dy(channels * pixels), dyt(pixels * o_padded, std::numeric_limits<T>::quiet_NaN());
    for (std::size_t i = 0; i < dy.size(); ++i) dy[i] = static_cast<T>(i) + T(0.25);  // distinct values
    transpose_to_pixel_major(dy.data(), channels, pixels, o_padded, dyt.data());
    std::size_t wrong = 0;
    for (std::size_t p = 0; p < pixels; ++p)
        for (std::size_t o = 0; o < o_padded; ++o) {
            const T expect = o < channels ? dy[o * pixels + p] : T(0);
            wrong += !(dyt[p * o_padded + o] == expect);  // NaN (unwritten) counts as wrong
        }
    CHECK(wrong == 0);
}

}  // namespace

TEST_CASE("the output gradient's transpose to pixel-major rows, with zero-padded channels", "[detail][conv]") {
    // Whole 16 x 16 blocks (the AVX-512 path where built), pixel tails, channel counts that are
    // not multiples of 16, and padding.
    for (const auto [c, p, op] : {std::array<std::size_t, 3>{16, 1024, 16}, {32, 256, 32}, {64, 64, 64}, {64, 49, 64},
                                  {16, 33, 16}, {5, 40, 16}, {3, 1024, 16}, {48, 20, 64}, {16, 7, 32}})
        check_transpose<float>(c, p, op), check_transpose<double>(c, p, op);
}
