// Whether this test binary runs under AddressSanitizer + UndefinedBehaviorSanitizer
// (tests/CMakeLists.txt defines SAFNET_TEST_SANITIZED there). The sanitized run checks
// memory and undefined behaviour, which a smaller workload through the same code paths finds
// as well as a large one; the heaviest tests shrink their image counts and sweeps with it,
// at 10-20x the cost per inference.
#pragma once

#include <cstddef>

namespace safnet::test {

#ifdef SAFNET_TEST_SANITIZED
inline constexpr bool sanitized = true;
#else
inline constexpr bool sanitized = false;
#endif

/// `full` in the plain builds, `small` under the sanitizers.
constexpr std::size_t full_or_sanitized(std::size_t full, std::size_t small) { return sanitized ? small : full; }

}  // namespace safnet::test
