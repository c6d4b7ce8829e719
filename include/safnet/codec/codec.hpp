// safnet/codec/codec.hpp — the Codec concept: how a float weight becomes the bits memory stores.
//
// A codec C provides
//   C::word_type            unsigned integer type of one storage word (one value per word)
//   c.bits_per_value()      how many low bits of a word are storage bits (a fault injector
//                           flips only these; the rest of the word is padding)
//   c.encode(span<const float>, span<word_type>)    spans of equal size, else safnet::Error
//   c.decode(span<const word_type>, span<float>)
//   c.encode_one(float) -> word_type, c.decode_one(word_type) -> float
//                           scalar versions; bit-identical to the span versions, so that a
//                           fault campaign can re-decode only the words it damaged
//   c.name()                "fp32", "fp16", "bf16", "q2.5", ...
// Every word pattern decodes to some float (possibly NaN/Inf); decode never fails.
#pragma once

#include <safnet/error.hpp>

#include <concepts>
#include <cstddef>
#include <span>
#include <string>

namespace safnet {

template <class C>
concept Codec = std::unsigned_integral<typename C::word_type> &&
    requires(const C c, std::span<const float> in, std::span<typename C::word_type> words,
             std::span<const typename C::word_type> cwords, std::span<float> out,
             typename C::word_type w, float f) {
        { c.bits_per_value() } -> std::convertible_to<int>;
        c.encode(in, words);
        c.decode(cwords, out);
        { c.encode_one(f) } -> std::same_as<typename C::word_type>;
        { c.decode_one(w) } -> std::same_as<float>;
        { c.name() } -> std::convertible_to<std::string>;
    };

namespace detail {

inline void require_codec_sizes(std::size_t values, std::size_t words, const char* codec) {
    if (values != words)
        throw Error(std::string(codec) + " codec: " + std::to_string(values) + " values but " +
                    std::to_string(words) + " words");
}

}  // namespace detail
}  // namespace safnet
