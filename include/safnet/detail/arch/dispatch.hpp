// safnet/detail/arch/dispatch.hpp — every ISA's overloads of safnet's ISA-specific kernels;
// algorithms include this and call kernel(Arch{}, ...) (see arch/generic.hpp).
#pragma once

#include <safnet/detail/arch/avx.hpp>
#include <safnet/detail/arch/avx512.hpp>
#include <safnet/detail/arch/generic.hpp>
