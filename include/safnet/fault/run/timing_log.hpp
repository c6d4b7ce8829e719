// safnet/fault/run/timing_log.hpp — the wall-clock record of one campaign directory, kept across
// the resumed runs that together compute it.
//
//   fault::TimingLog log(out / "timing.json", resume); // with resume: the entries an earlier run left
//   log.record(key, seconds, resumed, entry);        // after each configuration
//   log.write(header);                               // atomically; done after each configuration
//
// A run that resumes from the campaign state computes only the missing configurations; the
// time the others took lives in the timing.json of the run that computed them. TimingLog
// carries those entries over (marked "resumed": true) so the file always describes every
// configuration: "seconds" is the time its computation took (summed over the runs that computed
// its rounds, when a later design asked for more of them), or null when no run left a record
// of it (it was computed by a run killed before the file was written). The totals
// "configuration_seconds" (sum of the known seconds) and "untimed_configurations" let a report
// state a campaign's cost across sessions. An unreadable earlier file is no record (note()
// says why): timing is never a reason to refuse a resume. Results never depend on this file.
#pragma once

#include <safnet/io/atomic_file.hpp>

#include <safnet/io/read_file.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <utility>

namespace safnet::fault {

class TimingLog {
public:
    TimingLog(std::filesystem::path path, bool resume) : path_(std::move(path)) {
        if (resume) load_earlier();
    }

    /// Records configuration `key`. A configuration computed now (`resumed` false) takes
    /// `seconds`; one loaded from the state keeps the entry of the run that computed it.
    void record(const std::string& key, double seconds, bool resumed, nlohmann::ordered_json entry) {
        entry["configuration"] = key;
        entry["resumed"] = resumed;
        if (!resumed) {  // computed now, possibly on top of rounds an earlier run computed
            const auto it = earlier_.find(key);
            if (it == earlier_.end()) entry["seconds"] = seconds;
            else if (it->second.at("seconds").is_number()) entry["seconds"] = seconds + it->second.at("seconds").get<double>();
            else entry["seconds"] = nullptr;  // part of its cost is unknown, so the whole is
        } else if (const auto it = earlier_.find(key); it != earlier_.end()) {
            entry = it->second;
            entry["resumed"] = true;
        } else {
            entry["seconds"] = nullptr;
        }
        entries_.push_back(reorder(std::move(entry)));
    }

    /// Writes `header` (run-wide fields) followed by the totals and the entries.
    void write(nlohmann::ordered_json header) const {
        double total = 0;
        std::size_t untimed = 0;
        for (const auto& e : entries_) {
            if (e.at("seconds").is_number()) total += e.at("seconds").get<double>();
            else ++untimed;
        }
        header["configuration_seconds"] = total;
        header["untimed_configurations"] = untimed;
        header["configurations"] = entries_;
        io::write_file_atomic(path_.string(), header.dump(2) + "\n");
    }

    /// Why an earlier file was ignored (empty: there was none, or it was read).
    const std::string& note() const noexcept { return note_; }
    std::size_t earlier_entries() const noexcept { return earlier_.size(); }

private:
    // "configuration" first, then "seconds" and "resumed", then the rest, for a readable file.
    static nlohmann::ordered_json reorder(nlohmann::ordered_json e) {
        nlohmann::ordered_json o = {{"configuration", e.at("configuration")}, {"seconds", e.at("seconds")}, {"resumed", e.at("resumed")}};
        for (auto it = e.begin(); it != e.end(); ++it)
            if (!o.contains(it.key())) o[it.key()] = it.value();
        return o;
    }

    void load_earlier() {
        if (!std::filesystem::exists(path_)) return;
        try {
            const auto bytes = io::read_file(path_.string(), "the timing log", io::max_state_file_bytes);
            const auto j = nlohmann::ordered_json::parse(bytes.begin(), bytes.end());
            for (const auto& e : j.at("configurations")) {
                const auto& seconds = e.at("seconds");
                if (!seconds.is_null() && !(seconds.is_number() && seconds.get<double>() >= 0)) throw std::runtime_error("a 'seconds' that is not a time");
                earlier_[e.at("configuration").get<std::string>()] = e;
            }
        } catch (const std::exception& e) {
            earlier_.clear();
            note_ = path_.string() + ": earlier timing unreadable (" + e.what() + "), so configurations resumed from the state are untimed";
        }
    }

    std::filesystem::path path_;
    std::map<std::string, nlohmann::ordered_json> earlier_;
    nlohmann::ordered_json entries_ = nlohmann::ordered_json::array();
    std::string note_;
};

}  // namespace safnet::fault
