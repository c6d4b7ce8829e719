# Compile options for safnet's own executables (tests, examples, benchmarks); never
# imposed on consumers of the INTERFACE target.
#   safnet_target_options(<target> [PORTABLE])
# PORTABLE skips -march=native so the scalar / SSE2 fallback paths get built and tested.
function(safnet_target_options target)
    cmake_parse_arguments(ARG "PORTABLE" "" "" ${ARGN})
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow -Wnon-virtual-dtor)
    # GCC 12 reports its own AVX-512 intrinsics (_mm512_undefined_*, used inside xsimd's
    # exp/tanh, 64-bit shifts) as "(may be) used uninitialized" (GCC bug 105593), and std::string concatenation
    # as -Wrestrict overlap (GCC bug 105651); both false positives are fixed in GCC 13.
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
        target_compile_options(${target} PRIVATE -Wno-maybe-uninitialized -Wno-uninitialized -Wno-restrict)
    endif()
    if(SAFNET_WERROR)
        target_compile_options(${target} PRIVATE -Werror)
    endif()
    if(SAFNET_NATIVE AND NOT ARG_PORTABLE)
        target_compile_options(${target} PRIVATE -march=native)
    endif()
    if(SAFNET_SANITIZE)
        target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-sanitize-recover=all
                                                 -fno-omit-frame-pointer)
        target_link_options(${target} PRIVATE -fsanitize=address,undefined)
    endif()
endfunction()
