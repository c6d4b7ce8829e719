// tests/support/counting_allocator.hpp — the unit-test binary replaces every form of global
// operator new (tests/support/counting_allocator.cpp) with one that, while counting is on,
// counts calls and requested bytes. Off under AddressSanitizer, whose allocator must stay.
#pragma once

#include <atomic>
#include <cstddef>

namespace safnet::test {

struct AllocationCount {
    std::size_t calls = 0, bytes = 0;
};

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool allocations_counted = false;
#else
inline constexpr bool allocations_counted = true;
#endif

void start_counting() noexcept;
AllocationCount stop_counting() noexcept;  // what was allocated since start_counting()

}  // namespace safnet::test
