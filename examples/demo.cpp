// safnet-demo: how far does y = W x drift when W's storage suffers bit flips, with and without
// a SAF? Stores one weight matrix as fp32 / fp16 / q2.5 (or any codec), flips bits at a BER
// for many seeded rounds, and prints the relative error of y for
//   none: the effective weights W = tau(R) stored directly (the unprotected baseline)
//   SAF:  the raw weights R stored, tau applied after reading them back (the paper's method)
// Both compute the same clean y, so their drifts are directly comparable.
#include <safnet/safnet.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace {

struct Options {
    std::vector<std::string> codecs{"fp32", "fp16", "q2.5"};
    std::string saf = "tanh";
    double ber = 1e-3;
    int rounds = 200;
    int size = 256;
    std::uint64_t seed = 1;
};

[[noreturn]] void usage_error(const std::string& msg) {
    std::fprintf(stderr, "safnet-demo: %s (see --help)\n", msg.c_str());
    std::exit(2);
}

template <class T>
T parse_number(std::string_view flag, std::string_view text) {
    T v{};
    if constexpr (std::is_floating_point_v<T>) {
        try {
            std::size_t used = 0;
            v = static_cast<T>(std::stod(std::string(text), &used));
            if (used != text.size()) throw std::invalid_argument("trailing");
        } catch (const std::exception&) {
            usage_error(std::string(flag) + ": '" + std::string(text) + "' is not a number");
        }
    } else {
        auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (ec != std::errc() || p != text.data() + text.size())
            usage_error(std::string(flag) + ": '" + std::string(text) + "' is not a whole number");
    }
    return v;
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--help" || a == "-h") {
            std::printf(
                "usage: safnet-demo [--ber P] [--rounds N] [--size N] [--seed S] [--saf NAME] [--codecs LIST]\n"
                "  --ber P       bit error rate per stored bit, in [0, 1] (default 1e-3)\n"
                "  --rounds N    independent fault rounds per configuration (default 200)\n"
                "  --size N      the weight matrix is N x N (default 256)\n"
                "  --seed S      seed of every random draw (default 1)\n"
                "  --saf NAME    SAF to compare with the baseline: tanh, arctan, softsign, modtanh, hardtanh\n"
                "  --codecs LIST comma-separated storage formats: fp32, fp16, bf16, q<I>.<F> (default fp32,fp16,q2.5)\n");
            std::exit(0);
        }
        if (i + 1 >= argc) usage_error(std::string(a) + " needs a value");
        const std::string_view v = argv[++i];
        if (a == "--ber") o.ber = parse_number<double>(a, v);
        else if (a == "--rounds") o.rounds = parse_number<int>(a, v);
        else if (a == "--size") o.size = parse_number<int>(a, v);
        else if (a == "--seed") o.seed = parse_number<std::uint64_t>(a, v);
        else if (a == "--saf") o.saf = v;
        else if (a == "--codecs") {
            o.codecs.clear();
            std::string_view rest = v;
            while (!rest.empty()) {
                const auto c = rest.find(',');
                o.codecs.emplace_back(rest.substr(0, c));
                rest = c == std::string_view::npos ? std::string_view{} : rest.substr(c + 1);
            }
        } else usage_error("unknown flag '" + std::string(a) + "'");
    }
    if (!(o.ber >= 0 && o.ber <= 1)) usage_error("--ber must be in [0, 1], got " + std::to_string(o.ber));
    if (o.rounds < 1) usage_error("--rounds must be >= 1");
    if (o.size < 1 || o.size > 4096) usage_error("--size must be in [1, 4096]");
    return o;
}

struct Drift {
    double median = 0, p95 = 0, max = 0;
    int non_finite_rounds = 0;
};

Drift summarize(std::vector<double> errors) {
    Drift d;
    for (double& e : errors)
        if (!std::isfinite(e)) {
            ++d.non_finite_rounds;
            e = INFINITY;
        }
    std::sort(errors.begin(), errors.end());
    d.median = errors[errors.size() / 2];
    d.p95 = errors[std::min(errors.size() - 1, errors.size() * 95 / 100)];
    d.max = errors.back();
    return d;
}

void matvec(const std::vector<float>& w, const std::vector<float>& x, std::vector<double>& y) {
    const std::size_t n = x.size();
    for (std::size_t r = 0; r < n; ++r) {
        double s = 0;
        for (std::size_t c = 0; c < n; ++c) s += double{w[r * n + c]} * x[c];
        y[r] = s;
    }
}

double relative_error(const std::vector<double>& y, const std::vector<double>& ref) {
    double num = 0, den = 0;
    for (std::size_t i = 0; i < y.size(); ++i) {
        num += (y[i] - ref[i]) * (y[i] - ref[i]);
        den += ref[i] * ref[i];
    }
    return std::sqrt(num / den);
}

// Stores `weights` with `codec`, damages them `rounds` times, reads back through `saf`.
template <safnet::Codec C, safnet::Saf S>
Drift run(const C& codec, const S& saf, const std::vector<float>& weights, const std::vector<float>& x,
          const Options& o, std::uint32_t tensor_id) {
    std::vector<typename C::word_type> words(weights.size());
    codec.encode(weights, words);
    std::vector<float> w(weights.size());
    std::vector<double> y(x.size()), ref(x.size());
    codec.decode(words, w);
    safnet::apply(saf, std::span<const float>(w), std::span<float>(w));
    matvec(w, x, ref);
    std::vector<safnet::fault::BitFault> changed;
    std::vector<double> errors;
    for (int r = 0; r < o.rounds; ++r) {
        safnet::fault::inject(std::span<typename C::word_type>(words), codec.bits_per_value(),
                              safnet::fault::FaultModel::bit_flip(o.ber),
                              {o.seed, static_cast<std::uint32_t>(r), tensor_id}, changed);
        codec.decode(words, w);
        safnet::apply(saf, std::span<const float>(w), std::span<float>(w));
        matvec(w, x, y);
        errors.push_back(relative_error(y, ref));
        safnet::fault::restore(std::span<typename C::word_type>(words), std::span<const safnet::fault::BitFault>(changed));
    }
    return summarize(errors);
}

void print_row(const std::string& codec, const std::string& saf, const Drift& d) {
    std::printf("%-7s %-10s %12.3g %12.3g %12.3g %9d\n", codec.c_str(), saf.c_str(), d.median, d.p95, d.max,
                d.non_finite_rounds);
}

}  // namespace

int main(int argc, char** argv) try {
    const Options o = parse(argc, argv);
    const safnet::AnySaf saf = safnet::saf_from_name(o.saf);
    std::vector<safnet::AnyCodec> codecs;
    for (const auto& name : o.codecs) codecs.push_back(safnet::codec_from_name(name));

    const auto n = static_cast<std::size_t>(o.size);
    std::mt19937_64 rng(o.seed);
    std::normal_distribution<float> normal(0.0f, 0.5f);
    std::vector<float> raw(n * n), x(n);
    for (auto& v : raw) v = normal(rng);
    for (auto& v : x) v = normal(rng);
    std::vector<float> effective(raw.size());  // what the baseline stores: the same weights tau(R)
    std::visit([&](const auto& s) { safnet::apply(s, std::span<const float>(raw), std::span<float>(effective)); }, saf);

    std::printf("y = W x, W %zux%zu, BER %g, %d rounds, seed %llu\n", n, n, o.ber, o.rounds,
                static_cast<unsigned long long>(o.seed));
    std::printf("relative L2 error of y vs the fault-free y (non-finite = rounds whose y has NaN/Inf)\n");
    std::printf("%-7s %-10s %12s %12s %12s %9s\n", "codec", "SAF", "median", "p95", "max", "non-fin.");
    std::uint32_t tensor = 0;
    for (const auto& any_codec : codecs) {
        std::visit([&](const auto& codec) {
            print_row(codec.name(), "none", run(codec, safnet::Identity{}, effective, x, o, tensor));
            std::visit([&](const auto& s) { print_row(codec.name(), s.name(), run(codec, s, raw, x, o, tensor)); }, saf);
        }, any_codec);
        ++tensor;
    }
    return 0;
} catch (const safnet::Error& e) {
    std::fprintf(stderr, "safnet-demo: %s\n", e.what());
    return 2;
}
