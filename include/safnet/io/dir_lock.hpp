// safnet/io/dir_lock.hpp — one writer per output directory.
//
// DirectoryLock lock(dir, tool): takes an exclusive flock on dir/.safnet.lock (created if
// missing, never through a symlink) for the object's lifetime, or throws Error "<dir>: another
// <tool> is writing to this directory (...)" at once, without waiting. The kernel drops the
// lock when the process dies, so a killed run never leaves a stale lock behind; the lock file
// itself stays (empty) and is reused.
#pragma once

#include <safnet/error.hpp>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace safnet::io {

class DirectoryLock {
public:
    DirectoryLock(const std::filesystem::path& dir, const std::string& tool) {
        const std::string path = (dir / ".safnet.lock").string();
        fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd_ < 0) throw Error(path + ": cannot create the directory's lock file (" + std::strerror(errno) + ")");
        if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
            const int err = errno;
            ::close(fd_);
            if (err == EWOULDBLOCK)
                throw Error(dir.string() + ": another " + tool + " is writing to this directory (it holds " + path + "); wait for it or use another directory");
            throw Error(path + ": cannot lock (" + std::strerror(err) + ")");
        }
    }
    DirectoryLock(const DirectoryLock&) = delete;
    DirectoryLock& operator=(const DirectoryLock&) = delete;
    ~DirectoryLock() { ::close(fd_); }

private:
    int fd_ = -1;
};

}  // namespace safnet::io
