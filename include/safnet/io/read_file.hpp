// safnet/io/read_file.hpp — a whole file into memory, for the loaders that validate it there.
//
// read_file(path, what, max_bytes): the file's bytes. Only a regular file is read: a
// directory, a FIFO (which would block), a device such as /dev/zero (which never ends) or a
// socket is an Error "<path>: <what> is not a regular file (...)". A file larger than max_bytes
// — checked before reading and again while reading, so a file that grows meanwhile cannot
// outrun it — is an Error naming the cap. A file that cannot be opened is "<path>: cannot open
// <what> (reason)", a failed read "<path>: read error (reason)". Memory is what the file really
// holds (read in chunks, never sized from a claim). Symlinks to regular files are followed.
#pragma once

#include <safnet/error.hpp>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace safnet::io {

namespace detail {

inline const char* file_kind(mode_t mode) {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a regular file";
}

struct FileCloser {
    int fd;
    ~FileCloser() { ::close(fd); }
};

}  // namespace detail

inline std::vector<std::uint8_t> read_file(const std::string& path, const std::string& what, std::size_t max_bytes) {
    // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused just below.
    const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) throw Error(path + ": cannot open " + what + " (" + std::strerror(errno) + ")");
    const detail::FileCloser closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw Error(path + ": cannot stat " + what + " (" + std::strerror(errno) + ")");
    if (!S_ISREG(st.st_mode)) throw Error(path + ": " + what + " is not a regular file (" + detail::file_kind(st.st_mode) + ")");
    const auto too_big = [&] {
        return Error(path + ": " + what + " is larger than the " + std::to_string(max_bytes) + "-byte limit for it");
    };
    if (static_cast<std::uint64_t>(st.st_size) > max_bytes) throw too_big();
    std::vector<std::uint8_t> bytes;
    bytes.reserve(static_cast<std::size_t>(st.st_size));
    std::uint8_t buf[1 << 16];
    for (;;) {
        const ssize_t got = ::read(fd, buf, sizeof buf);
        if (got < 0) {
            if (errno == EINTR) continue;
            throw Error(path + ": read error (" + std::strerror(errno) + ")");
        }
        if (got == 0) break;
        if (bytes.size() + static_cast<std::size_t>(got) > max_bytes) throw too_big();
        bytes.insert(bytes.end(), buf, buf + got);
    }
    return bytes;
}

/// Caps for the files safnet reads (generous: each is far above what the format holds in practice).
inline constexpr std::size_t max_model_file_bytes = std::size_t{64} << 30;  // a safetensors model or checkpoint
inline constexpr std::size_t max_dataset_file_bytes = std::size_t{4} << 30;  // one IDX or CIFAR file
inline constexpr std::size_t max_state_file_bytes = std::size_t{4} << 30;    // a campaign state or timing log

}  // namespace safnet::io
