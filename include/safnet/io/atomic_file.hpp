// safnet/io/atomic_file.hpp — write a file so that a crash never leaves a broken one.
//
// write_file_atomic(path, bytes) writes `path.tmp-<pid>` in the same directory, flushes it to
// disk (fsync), then renames it over `path` (atomic on POSIX file systems). A process killed at
// any moment leaves either the old file or the new one, never a half-written `path`; at worst
// a stale temp file remains. The temp file is created exclusively (O_EXCL | O_NOFOLLOW) after
// removing whatever entry holds its name, so a symlink planted there is never followed, and
// rename replaces a symlink at `path` itself rather than the file it points to. Errors throw safnet::Error naming the path and the OS reason, and
// remove the temp file.
#pragma once

#include <safnet/error.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include <fcntl.h>
#include <unistd.h>

namespace safnet::io {

inline void write_file_atomic(const std::string& path, std::string_view bytes) {
    const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
    if (::unlink(tmp.c_str()) != 0 && errno != ENOENT) throw Error(path + ": cannot replace " + tmp + " (" + std::strerror(errno) + ")");
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) throw Error(path + ": cannot write (" + std::strerror(errno) + ")");
    auto fail = [&](const char* what) {
        const std::string reason = std::strerror(errno);
        ::close(fd);
        ::unlink(tmp.c_str());
        throw Error(path + ": " + what + " failed (" + reason + ")");
    };
    for (std::size_t done = 0; done < bytes.size();) {
        const ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (w < 0) {
            if (errno == EINTR) continue;
            fail("write");
        }
        done += static_cast<std::size_t>(w);
    }
    if (::fsync(fd) != 0) fail("fsync");
    if (::close(fd) != 0) {
        const std::string reason = std::strerror(errno);
        ::unlink(tmp.c_str());
        throw Error(path + ": close failed (" + reason + ")");
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        const std::string reason = std::strerror(errno);
        ::unlink(tmp.c_str());
        throw Error(path + ": rename failed (" + reason + ")");
    }
}

}  // namespace safnet::io
