// Replays every committed fuzz input — the seed corpora and the crash inputs the fuzzers found
// (tests/fuzz/crashes/<harness>/) — through the harnesses, in the ordinary unit tests, so the
// regressions are checked by every build, with or without clang.
#include "fuzz/harnesses.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>

namespace fs = std::filesystem;

TEST_CASE("every committed fuzz input ends in a safnet::Error or passes its harness's invariants", "[fuzz]") {
    const fs::path root = fs::path(SAFNET_SOURCE_DIR) / "tests" / "fuzz";
    std::size_t replayed = 0;
    for (const auto& [name, run] : safnet::fuzz::harnesses()) {
        std::size_t seeds = 0;
        for (const char* kind : {"corpus", "crashes"}) {
            const fs::path dir = root / kind / name;
            if (!fs::exists(dir)) continue;
            for (const auto& entry : fs::directory_iterator(dir)) {
                std::ifstream in(entry.path(), std::ios::binary);
                const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
                INFO(entry.path().string());
                CHECK_NOTHROW(run(safnet::fuzz::Bytes(bytes)));
                seeds += std::string(kind) == "corpus";
                ++replayed;
            }
        }
        INFO("harness " << name);
        CHECK(seeds > 0);  // every harness has a committed seed corpus
    }
    CHECK(replayed >= 12);
}
