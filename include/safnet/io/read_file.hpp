// safnet/io/read_file.hpp — a whole file into memory, for the loaders that validate it there.
//
// read_file(path, what): the file's bytes. A file that cannot be opened, or a read that fails
// (a directory, an I/O error), is a safnet::Error "<path>: cannot open <what>" or
// "<path>: read error". Reads in chunks, so memory is what the file really holds, whatever
// its reported size.
#pragma once

#include <safnet/error.hpp>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace safnet::io {

inline std::vector<std::uint8_t> read_file(const std::string& path, const std::string& what) {
    struct Closer {
        void operator()(std::FILE* f) const noexcept { std::fclose(f); }
    };
    std::unique_ptr<std::FILE, Closer> f(std::fopen(path.c_str(), "rb"));
    if (!f) throw Error(path + ": cannot open " + what);
    std::vector<std::uint8_t> bytes;
    std::uint8_t buf[1 << 16];
    for (std::size_t got; (got = std::fread(buf, 1, sizeof buf, f.get())) > 0;) bytes.insert(bytes.end(), buf, buf + got);
    if (std::ferror(f.get())) throw Error(path + ": read error");
    return bytes;
}

}  // namespace safnet::io
