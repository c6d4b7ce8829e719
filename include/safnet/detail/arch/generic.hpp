// safnet/detail/arch/generic.hpp — the portable fallbacks of safnet's ISA-specific kernels.
//
// Each kernel is an overload set on xsimd's architecture tags: this file gives the
// xsimd::generic member, which every architecture tag derives from, and arch/<isa>.hpp adds
// the overloads for one ISA. An algorithm calls kernel(Arch{}, ...) with Arch a template
// parameter defaulting to xsimd::default_arch, so overload resolution picks the most derived
// ISA compiled in, and translation units built with different -m flags instantiate
// differently named templates (no ODR clash). A kernel returns how much of the work it did;
// the algorithm does the rest with its portable loop, so the fallback here does nothing.
#pragma once

#include <xsimd/xsimd.hpp>

#include <cstddef>
#include <cstdint>

namespace safnet::detail {

/// Transposes leading 16 x 16 blocks of dy (channels x pixels) into dyt (pixels x o_padded);
/// returns the number of leading pixels done (all channels of them).
template <class T>
std::size_t transpose_blocks_to_pixel_major(xsimd::generic, const T*, std::size_t, std::size_t, std::size_t, T*) noexcept {
    return 0;
}

/// Whether load_short_row exists for batches of T: a load of n < batch-size values that reads
/// nothing past them and fills the other lanes with zeros.
template <class T>
constexpr bool loads_short_rows(xsimd::generic) noexcept {
    return false;
}

/// float -> IEEE half (round to nearest even) of a leading part of [in, in + n); returns the
/// count converted.
inline std::size_t encode_half_prefix(xsimd::generic, const float*, std::size_t, std::uint16_t*) noexcept { return 0; }
/// IEEE half -> float of a leading part of [in, in + n); returns the count converted.
inline std::size_t decode_half_prefix(xsimd::generic, const std::uint16_t*, std::size_t, float*) noexcept { return 0; }

}  // namespace safnet::detail
