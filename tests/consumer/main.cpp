// Uses each primitive once through the umbrella header; exits non-zero if a result is wrong.
#include <safnet/safnet.hpp>

#include <cstdio>
#include <vector>

int main() {
    safnet::set_threads(2);  // public: threads.hpp, profile.hpp
    if (safnet::threads() != 2) return 1;
    safnet::profile::enable(false);
    const std::vector<float> w{0.5f, -1.25f, 3.0f};
    std::vector<std::uint8_t> words(w.size());
    const safnet::Q2_5 q;
    q.encode(w, words);
    safnet::fault::inject(std::span<std::uint8_t>(words), q.bits_per_value(),
                          safnet::fault::FaultModel::bit_flip(1.0), {42, 0, 0});
    std::vector<float> back(w.size());
    q.decode(words, back);
    safnet::apply(safnet::Tanh{}, back, back);
    for (float v : back)
        if (!(v >= -1.0f && v <= 1.0f)) return 1;
    // Zero failures in 100 rounds: the exact 95 % upper bound on the failure probability is 3.6 %.
    const auto fail = safnet::fault::clopper_pearson(0, 100, 0.95);
    if (!(fail.high > 0.036 && fail.high < 0.037)) return 1;
    std::printf("safnet %s consumer ok\n", safnet::version_string);
    return 0;
}
