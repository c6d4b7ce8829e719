#include <safnet/fault/run/timing_log.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

using namespace safnet;
namespace fs = std::filesystem;

namespace {

nlohmann::json read_json(const fs::path& p) {
    std::ifstream in(p);
    return nlohmann::json::parse(in);
}

const nlohmann::json& entry(const nlohmann::json& log, const std::string& key) {
    for (const auto& e : log.at("configurations"))
        if (e.at("configuration") == key) return e;
    throw std::runtime_error("no entry " + key);
}

}  // namespace

TEST_CASE("timing log: a resumed run keeps the times of configurations computed earlier", "[fault][timing]") {
    const auto dir = fs::temp_directory_path() / "safnet_timing_log_test";
    fs::remove_all(dir);
    fs::create_directories(dir);
    const auto path = dir / "timing.json";
    {  // a first run computes a and b, then is killed: its file is the one written after b
        fault::TimingLog first(path, true);
        first.record("a", 10.5, false, {{"rounds", 100}});
        first.record("b", 20.25, false, {{"rounds", 100}});
        first.write({{"seconds", 31.0}, {"finished", false}});
    }
    const auto first = read_json(path);
    CHECK(first.at("configuration_seconds") == 30.75);
    CHECK(first.at("untimed_configurations") == 0);
    {  // the resume loads a and b from the state, and meets c, whose earlier run left no record
        fault::TimingLog second(path, true);
        CHECK(second.note().empty());
        CHECK(second.earlier_entries() == 2);
        second.record("a", 0.01, true, {{"rounds", 100}});
        second.record("b", 0.01, true, {{"rounds", 100}});
        second.record("c", 0.01, true, {{"rounds", 100}});
        second.record("d", 40.0, false, {{"rounds", 100}});
        second.write({{"seconds", 40.1}, {"finished", true}});
    }
    const auto second = read_json(path);
    CHECK(entry(second, "a").at("seconds") == 10.5);
    CHECK(entry(second, "a").at("resumed") == true);
    CHECK(entry(second, "b").at("seconds") == 20.25);
    CHECK(entry(second, "c").at("seconds").is_null());
    CHECK(entry(second, "d").at("seconds") == 40.0);
    CHECK(entry(second, "d").at("resumed") == false);
    CHECK(second.at("configuration_seconds") == 70.75);
    CHECK(second.at("untimed_configurations") == 1);
    CHECK(second.at("seconds") == 40.1);
    {  // a third resume still carries the first run's times
        fault::TimingLog third(path, true);
        third.record("a", 0.02, true, {});
        third.record("b", 2.0, false, {});  // saved, but this design wanted more rounds of it
        third.record("c", 3.0, false, {});  // the same, over rounds of an untimed run
        third.write({});
    }
    CHECK(entry(read_json(path), "a").at("seconds") == 10.5);
    CHECK(entry(read_json(path), "b").at("seconds") == 22.25);
    CHECK(entry(read_json(path), "c").at("seconds").is_null());
    CHECK(read_json(path).at("untimed_configurations") == 1);
    {  // a fresh run (no resume) starts a new record
        fault::TimingLog fresh(path, false);
        CHECK(fresh.earlier_entries() == 0);
        fresh.record("a", 0.5, true, {});
        fresh.write({});
    }
    CHECK(entry(read_json(path), "a").at("seconds").is_null());
    for (const std::string broken : {"{\"configurations\": [", "{\"configurations\": [{\"configuration\": \"a\", \"seconds\": -1}]}", "[]"}) {
        std::ofstream(path) << broken;
        fault::TimingLog log(path, true);
        CHECK(log.earlier_entries() == 0);
        CHECK_THAT(log.note(), Catch::Contains(path.string()) && Catch::Contains("untimed"));
    }
    fs::remove_all(dir);
}
