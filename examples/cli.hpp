// examples/cli.hpp — the entry point the example tools share: parse flags with CLI11 (usage
// errors print CLI11's message and exit with its code), then run, turning any exception into
// "<tool>: error: <message>" on stderr and exit code 1.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>

namespace safnet::examples {

template <class Flags, class AddFlags, class Run>
int run_cli(const char* tool, const char* description, int argc, char** argv, AddFlags&& add_flags, Run&& run) {
    CLI::App app{description};
    Flags flags;
    add_flags(app, flags);
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
