// safnet/fault/inject/fault_model.hpp — what a fault does to stored bits, as a value type.
//
// A FaultModel selects "affected" bits among the eligible bits of a span of storage words,
// then acts on them:
//   kind   flip    affected bits are inverted (the classic bit-error model)
//          stuck0  affected bits read as 0;  stuck1: read as 1 (a bit already at its stuck
//                  value is unchanged and is not reported as a change)
//   rate   each eligible bit is affected independently with this probability (the BER)
//   count  if set, exactly this many distinct eligible bits are affected instead
//   bit_mask  eligible bit positions inside a word (bit 0 = LSB), e.g. 0x7F800000 for the
//          fp32 exponent; intersected with the codec's storage bits.
// validate() throws safnet::Error for a rate outside [0, 1] or NaN, naming the value.
#pragma once

#include <safnet/error.hpp>

#include <cmath>
#include <cstdio>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace safnet::fault {

enum class FaultKind { flip, stuck0, stuck1 };

inline std::string_view fault_kind_name(FaultKind k) noexcept {
    switch (k) {
        case FaultKind::flip: return "flip";
        case FaultKind::stuck0: return "stuck0";
        case FaultKind::stuck1: return "stuck1";
    }
    return "?";
}

inline FaultKind fault_kind_from_name(std::string_view name) {
    if (name == "flip") return FaultKind::flip;
    if (name == "stuck0") return FaultKind::stuck0;
    if (name == "stuck1") return FaultKind::stuck1;
    throw Error("unknown fault model '" + std::string(name) + "'; valid: flip, stuck0, stuck1");
}

/// A bit mask as the flags spell it: 0x7f800000, or "all".
inline std::string hex_mask(std::uint64_t mask) {
    if (mask == ~std::uint64_t{0}) return "all";
    char b[24];
    std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(mask));
    return b;
}

struct FaultModel {
    FaultKind kind = FaultKind::flip;
    double rate = 0.0;
    std::optional<std::uint64_t> count;
    std::uint64_t bit_mask = ~std::uint64_t{0};

    static FaultModel bit_flip(double ber) { return {FaultKind::flip, ber, std::nullopt}; }
    static FaultModel stuck_at(bool value, double rate) {
        return {value ? FaultKind::stuck1 : FaultKind::stuck0, rate, std::nullopt};
    }
    static FaultModel exact_flips(std::uint64_t n) { return {FaultKind::flip, 0.0, n}; }
    FaultModel with_mask(std::uint64_t mask) const {
        FaultModel m = *this;
        m.bit_mask = mask;
        return m;
    }

    void validate() const {
        if (count) return;
        if (!(rate >= 0.0 && rate <= 1.0)) {  // written so that NaN fails too
            const std::string v = std::isnan(rate) ? std::string("nan") : std::to_string(rate);
            throw Error("fault rate (BER) must be in [0, 1], got " + v);
        }
    }
};

/// One bit a fault changed: word index into the span, bit position in the word (0 = LSB).
struct BitFault {
    std::uint64_t word;
    std::uint32_t bit;
    friend bool operator==(const BitFault&, const BitFault&) = default;
};

}  // namespace safnet::fault
