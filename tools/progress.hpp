// tools/progress.hpp — a one-line live progress bar for the example tools.
//
// On a terminal the line is redrawn in place (at most 10 times a second); when stdout is a
// file or a pipe (CI logs) nothing is drawn and the tools print plain lines instead.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

#include <unistd.h>

namespace safnet::examples {

inline bool stdout_is_terminal() { return ::isatty(STDOUT_FILENO) == 1; }

inline std::string format_duration(double seconds) {
    if (!(seconds >= 0) || seconds > 1e7) return "--:--";
    const long s = static_cast<long>(seconds + 0.5);
    char b[32];
    if (s >= 3600) std::snprintf(b, sizeof b, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else std::snprintf(b, sizeof b, "%02ld:%02ld", s / 60, s % 60);
    return b;
}

class ProgressBar {
public:
    explicit ProgressBar(bool enabled = stdout_is_terminal()) : enabled_(enabled) {}

    /// Redraws "label [#####.....] done/total  text" unless the last draw is under 100 ms old
    /// (the final step always draws).
    void update(const std::string& label, std::size_t done, std::size_t total, const std::string& text) {
        if (!enabled_) return;
        const auto now = std::chrono::steady_clock::now();
        if (done < total && now - last_ < std::chrono::milliseconds(100)) return;
        last_ = now;
        constexpr int width = 24;
        const int filled = total ? static_cast<int>(static_cast<double>(width) * static_cast<double>(done) / static_cast<double>(total)) : width;
        std::string bar(static_cast<std::size_t>(filled), '#');
        bar.append(static_cast<std::size_t>(width - filled), '.');
        std::printf("\r\033[K%s [%s] %zu/%zu  %s", label.c_str(), bar.c_str(), done, total, text.c_str());
        std::fflush(stdout);
        drawn_ = true;
    }
    /// Ends the bar's line (call before printing anything else).
    void finish() {
        if (enabled_ && drawn_) std::printf("\r\033[K");
        drawn_ = false;
    }

private:
    bool enabled_;
    bool drawn_ = false;
    std::chrono::steady_clock::time_point last_{};
};

}  // namespace safnet::examples
