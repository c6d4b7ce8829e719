// tools/cli.hpp — the entry point the example tools share: parse flags with CLI11 (usage
// errors print CLI11's message and exit with its code), then run, turning any exception into
// "<tool>: error: <message>" on stderr and exit code 1.
// Every numeric flag is parsed strictly before CLI11 converts it (safnet/checked.hpp): whole
// numbers are decimal digits only (no sign, no space, no leading zero that CLI11 would read as
// octal, no wrap of "-1" to 2^64 - 1, no saturation of 2^64 and beyond), real numbers finite with nothing after them ("nan", "inf",
// "1e-400" underflowing to 0 and "0x1p3" are refused), each list element alike.
#pragma once

#include <safnet/checked.hpp>
#include <safnet/version.hpp>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <limits>
#include <string>

namespace safnet::examples {

/// A CLI11 check running one of checked.hpp's strict parsers on the flag's text.
template <class Parse>
CLI::Validator strict(Parse parse, const char* name) {
    return CLI::Validator(
        [parse](std::string& text) -> std::string {
            try {
                parse(text);
                return {};
            } catch (const std::exception& e) {
                return e.what();
            }
        },
        "", name);
}

/// Decimal digits only, no leading zero: CLI11 converts integers with strtoull(text, base 0),
/// which would read "010" as octal 8 (found by the `flags` fuzz harness).
inline void parse_decimal_count(const std::string& t, std::uint64_t max) {
    parse_unsigned(t, max, "the value");
    if (t.size() > 1 && t[0] == '0') throw Error("the value: '" + t + "' has a leading zero (write it without, it would be read as octal)");
}

/// Adds the strict parsers to every numeric option, by the type CLI11 converts it to.
inline void strict_numbers(CLI::App& app) {
    for (CLI::Option* opt : app.get_options()) {
        // The type name, without what validators append to it ("FLOAT:FLOAT in [0 - 1]").
        const std::string full = opt->get_type_name(), type = full.substr(0, full.find_first_of(": "));
        if (type == "UINT")
            opt->check(strict([](const std::string& t) { parse_decimal_count(t, std::numeric_limits<std::uint64_t>::max()); }, "UINT"));
        else if (type == "INT")
            opt->check(strict([](const std::string& t) {
                parse_decimal_count(t.size() > 1 && t[0] == '-' ? t.substr(1) : t, std::numeric_limits<std::int64_t>::max());
            }, "INT"));
        else if (type == "FLOAT")
            opt->check(strict([](const std::string& t) { parse_finite(t, "the value"); }, "FLOAT"));
    }
}

template <class Flags, class AddFlags, class Run>
int run_cli(const char* tool, const char* description, int argc, char** argv, AddFlags&& add_flags, Run&& run) {
    CLI::App app{description};
    app.set_version_flag("--version", std::string(tool) + " " + version_string);
    Flags flags;
    add_flags(app, flags);
    strict_numbers(app);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    try {
        return run(flags);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: error: %s\n", tool, e.what());
        return 1;
    }
}

}  // namespace safnet::examples
