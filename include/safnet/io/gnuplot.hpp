// safnet/io/gnuplot.hpp — draw a PNG with gnuplot without letting any name steer it.
//
// Contract:
//   data_text(s)        s as a double-quoted gnuplot *data* field: '"' becomes '\'' and every
//                       control character (newline, CR, tab, ...) a space, so the field stays
//                       one field of one line. Titles and tick labels reach gnuplot only this
//                       way (`title columnheader(1)`, `xtic(1)`), as data it reads, never as
//                       program text it runs.
//   render_png(dir, name, script)
//                       writes `script` to dir/name.gp and runs gnuplot on it with dir as its
//                       working directory, so the script names its files by fixed relative
//                       names and holds no path a user chose (a newline in --out, or in a
//                       model file's name, cannot become a gnuplot command such as `!id`). The
//                       script must not `set output`: gnuplot writes the PNG to its standard
//                       output, which is a file created here with O_EXCL | O_NOFOLLOW (a
//                       pre-placed symlink at that name is removed, never followed), then
//                       renamed to dir/name.png; its standard error goes to dir/name.gnuplot.log
//                       created the same way and removed on success. Returns false (log kept)
//                       when gnuplot is missing or fails. No shell is involved: gnuplot is
//                       spawned with posix_spawnp.
#pragma once

#include <safnet/error.hpp>
#include <safnet/io/atomic_file.hpp>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace safnet::io {

inline std::string data_text(std::string_view s) {
    std::string out = "\"";
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        out += c == '"' ? '\'' : (u < 0x20 || u == 0x7f) ? ' ' : c;
    }
    return out + "\"";
}

namespace detail {

/// A new file at `path` for writing: whatever entry was there (a symlink included) is removed
/// first and the file is created exclusively, so the open can never follow a link.
inline int create_exclusive(const std::string& path) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) throw Error(path + ": cannot replace (" + std::strerror(errno) + ")");
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) throw Error(path + ": cannot create (" + std::strerror(errno) + ")");
    return fd;
}

inline bool spawn_gnuplot(const std::string& dir, const std::string& script, int out_fd, int err_fd) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
    posix_spawn_file_actions_adddup2(&actions, err_fd, 2);
    posix_spawn_file_actions_addchdir_np(&actions, dir.c_str());
    std::string prog = "gnuplot", arg = script;
    char* argv[] = {prog.data(), arg.data(), nullptr};
    pid_t pid = 0;
    const int rc = posix_spawnp(&pid, "gnuplot", &actions, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) return false;
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return false;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace detail

inline bool render_png(const std::filesystem::path& dir, const std::string& name, const std::string& script) {
    const std::filesystem::path png = dir / (name + ".png"), tmp = dir / (name + ".png.tmp"), log = dir / (name + ".gnuplot.log");
    write_file_atomic((dir / (name + ".gp")).string(), "set terminal pngcairo size 1000,640 noenhanced\n" + script);
    const int out = detail::create_exclusive(tmp.string());
    int err = -1;
    try {
        err = detail::create_exclusive(log.string());
    } catch (...) {
        ::close(out);
        throw;
    }
    const bool ok = detail::spawn_gnuplot(dir.string(), name + ".gp", out, err);
    const bool closed = ::close(out) == 0;
    ::close(err);
    if (!ok || !closed) {
        ::unlink(tmp.c_str());
        return false;
    }
    if (std::rename(tmp.c_str(), png.c_str()) != 0) throw Error(png.string() + ": rename failed (" + std::strerror(errno) + ")");
    ::unlink(log.c_str());
    return true;
}

}  // namespace safnet::io
