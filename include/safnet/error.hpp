// safnet/error.hpp — the one exception type safnet throws.
//
// Contract: every function that rejects its input throws safnet::Error whose message names
// the offending thing (a flag, a file, a parameter) and the value it got, in the spirit of
// {fmt}: "ber must be in [0, 1], got nan". Nothing in safnet aborts on bad input.
#pragma once

#include <stdexcept>
#include <string>

namespace safnet {

class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace safnet
