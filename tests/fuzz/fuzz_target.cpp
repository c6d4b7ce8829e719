// The libFuzzer entry point shared by every fuzz_<name> target: each target links this object
// with a one-line definition of safnet_fuzz_harness (tests/fuzz/CMakeLists.txt writes it), the
// name of its harness in tests/fuzz/harnesses.hpp, so the heavy translation unit compiles once.
#include "harnesses.hpp"

#include <safnet/threads.hpp>

extern const char* const safnet_fuzz_harness;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    safnet::set_threads(1);  // one input, one thread: reproducible and sanitizer-friendly
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const auto& run = safnet::fuzz::harnesses().at(safnet_fuzz_harness);
    run(safnet::fuzz::Bytes(data, size));
    return 0;
}
