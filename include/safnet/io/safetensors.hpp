// safnet/io/safetensors.hpp — the safetensors file format (Hugging Face), read and written.
//
// Layout: an 8-byte little-endian header length N, N bytes of UTF-8 JSON, then the data buffer.
// The JSON maps each tensor name to {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}
// (offsets relative to the buffer) and may hold "__metadata__": {string: string}.
//
// Reading treats the file as hostile. Every check below fails with a safnet::Error that names
// the file and what is wrong, before any tensor byte is touched:
//   header length >= 2, <= 100 MiB, within the file; the header is a JSON object (starts
//   with '{', parses) nested at most 3 deep, with no array longer than 8 and no key twice in
//   one object (so parsing costs a small multiple of the header's size, and no entry is
//   silently replaced by a later one); tensor names are not empty; each entry has exactly
//   dtype/shape/data_offsets of the right JSON types; the dtype is known; element count *
//   dtype size (checked_product: no wrap-around, <= max_tensor_bytes) equals e - b; b <= e;
//   the entries, sorted by offset, tile the buffer exactly: no overlap, no hole, nothing
//   after the last tensor (the reference implementation's rule); metadata values are strings.
// Content digest: the metadata key "content_sha256" holds the SHA-256 of every tensor (name,
// dtype, shape, bytes; in name order) and every other metadata entry (in key order), each
// field prefixed by its 8-byte little-endian length. safnet's writers (this one and
// tools/safnet_torch.py) always add it; reading verifies it when present, so a
// tensor or a metadata value changed after writing (a relabelled SAF, another normalization)
// is refused instead of evaluated. Files from elsewhere, without the key, load unchecked.
// Writing: tensors sorted by name, header padded with spaces to a multiple of 8 (so data
// starts aligned), file written atomically (safnet/io/atomic_file.hpp).
#pragma once

#include <safnet/codec/bfloat16.hpp>
#include <safnet/codec/float16.hpp>
#include <safnet/checked.hpp>
#include <safnet/error.hpp>
#include <safnet/io/atomic_file.hpp>
#include <safnet/io/read_file.hpp>
#include <safnet/io/sha256.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace safnet::io {

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian; big-endian hosts need byte swaps");

enum class Dtype { BOOL, U8, I8, I16, U16, F16, BF16, I32, U32, F32, I64, U64, F64 };

namespace detail {

struct DtypeInfo {
    Dtype dtype;
    const char* name;
    std::size_t size;
};
inline constexpr DtypeInfo dtype_table[] = {
    {Dtype::BOOL, "BOOL", 1}, {Dtype::U8, "U8", 1},   {Dtype::I8, "I8", 1},     {Dtype::I16, "I16", 2},
    {Dtype::U16, "U16", 2},   {Dtype::F16, "F16", 2}, {Dtype::BF16, "BF16", 2}, {Dtype::I32, "I32", 4},
    {Dtype::U32, "U32", 4},   {Dtype::F32, "F32", 4}, {Dtype::I64, "I64", 8},   {Dtype::U64, "U64", 8},
    {Dtype::F64, "F64", 8},
};
inline constexpr std::size_t max_header_bytes = std::size_t{100} << 20;

}  // namespace detail

inline std::size_t dtype_size(Dtype d) noexcept {
    for (const auto& e : detail::dtype_table)
        if (e.dtype == d) return e.size;
    return 0;
}
inline std::string dtype_name(Dtype d) {
    for (const auto& e : detail::dtype_table)
        if (e.dtype == d) return e.name;
    return "?";
}
inline std::optional<Dtype> dtype_from_name(const std::string& s) {
    for (const auto& e : detail::dtype_table)
        if (s == e.name) return e.dtype;
    return std::nullopt;
}

struct TensorInfo {
    Dtype dtype = Dtype::F32;
    std::vector<std::size_t> shape;
    std::size_t begin = 0, end = 0;  // byte range within the data buffer
    std::size_t elements() const noexcept {  // bounded: parsing checked the product
        std::size_t n = 1;
        for (auto d : shape) n *= d;
        return n;
    }
    std::string shape_str() const {
        std::string s = "[";
        for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
        return s + "]";
    }
};

inline constexpr const char* content_digest_key = "content_sha256";

namespace detail {

/// The content digest's hash (see the header comment); tensors first, then metadata.
class ContentDigest {
public:
    ContentDigest() { field("safnet-content-v1"); }
    void tensor(const std::string& name, Dtype dtype, const std::vector<std::size_t>& shape, std::span<const std::uint8_t> bytes) {
        field(name);
        field(dtype_name(dtype));
        std::string dims;
        for (std::size_t i = 0; i < shape.size(); ++i) dims += (i ? "," : "") + std::to_string(shape[i]);
        field(dims);
        field(bytes);
    }
    void metadata(const std::string& key, const std::string& value) {
        if (key == content_digest_key) return;
        field(key);
        field(value);
    }
    std::string hex() const { return h_.hex(); }

private:
    void field(std::string_view text) { field({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()}); }
    void field(std::span<const std::uint8_t> bytes) {
        std::uint8_t n[8];
        for (int i = 0; i < 8; ++i) n[i] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(bytes.size()) >> (8 * i));
        h_.update(std::span<const std::uint8_t>(n, 8));
        h_.update(bytes);
    }
    Sha256 h_;
};

}  // namespace detail

/// A whole safetensors file in memory, validated.
class Safetensors {
public:
    static Safetensors read_file(const std::string& path) {
        return parse(io::read_file(path, "safetensors file", max_model_file_bytes), path);
    }

    /// Validates `bytes` as a safetensors file; `source` names it in errors.
    static Safetensors parse(std::vector<std::uint8_t> bytes, std::string source) {
        Safetensors f;
        f.source_ = std::move(source);
        f.bytes_ = std::move(bytes);
        f.validate();
        return f;
    }

    const std::string& source() const noexcept { return source_; }
    const std::map<std::string, std::string>& metadata() const noexcept { return metadata_; }
    const std::map<std::string, TensorInfo>& tensors() const noexcept { return tensors_; }
    bool contains(const std::string& name) const { return tensors_.count(name) != 0; }

    const TensorInfo& info(const std::string& name) const {
        const auto it = tensors_.find(name);
        if (it == tensors_.end()) throw Error(source_ + ": no tensor '" + name + "'");
        return it->second;
    }
    std::string meta(const std::string& key, const std::string& fallback = "") const {
        const auto it = metadata_.find(key);
        return it == metadata_.end() ? fallback : it->second;
    }
    std::span<const std::uint8_t> raw_bytes(const std::string& name) const {
        const TensorInfo& t = info(name);
        return {bytes_.data() + data_start_ + t.begin, t.end - t.begin};
    }

    /// The values of a floating-point tensor (F16, BF16, F32, F64) converted to T.
    template <class T>
    void read_floats(const std::string& name, std::span<T> out) const {
        const TensorInfo& t = info(name);
        if (out.size() != t.elements())
            throw Error(source_ + ": tensor '" + name + "' has " + std::to_string(t.elements()) + " elements, expected " +
                        std::to_string(out.size()));
        const std::uint8_t* p = raw_bytes(name).data();
        for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<T>(float_at(t.dtype, p, i, name));
    }
    /// The values of an integer tensor as int64 (for counters like num_batches_tracked).
    std::vector<std::int64_t> read_integers(const std::string& name) const {
        const TensorInfo& t = info(name);
        const std::uint8_t* p = raw_bytes(name).data();
        std::vector<std::int64_t> v(t.elements());
        for (std::size_t i = 0; i < v.size(); ++i) {
            switch (t.dtype) {
                case Dtype::I64: v[i] = load<std::int64_t>(p, i); break;
                case Dtype::I32: v[i] = load<std::int32_t>(p, i); break;
                case Dtype::I16: v[i] = load<std::int16_t>(p, i); break;
                case Dtype::I8: v[i] = load<std::int8_t>(p, i); break;
                case Dtype::U8: v[i] = load<std::uint8_t>(p, i); break;
                default: throw Error(source_ + ": tensor '" + name + "' has dtype " + dtype_name(t.dtype) + ", expected an integer type");
            }
        }
        return v;
    }

private:
    template <class V>
    static V load(const std::uint8_t* p, std::size_t i) noexcept {
        V v;
        std::memcpy(&v, p + i * sizeof(V), sizeof(V));
        return v;
    }
    double float_at(Dtype d, const std::uint8_t* p, std::size_t i, const std::string& name) const {
        switch (d) {
            case Dtype::F32: return load<float>(p, i);
            case Dtype::F64: return load<double>(p, i);
            case Dtype::F16: return Float16{}.decode_one(load<std::uint16_t>(p, i));
            case Dtype::BF16: return BFloat16{}.decode_one(load<std::uint16_t>(p, i));
            default: throw Error(source_ + ": tensor '" + name + "' has dtype " + dtype_name(d) + ", expected F16, BF16, F32 or F64");
        }
    }

    [[noreturn]] void fail(const std::string& what) const { throw Error(source_ + ": not a valid safetensors file: " + what); }

    void validate() {
        if (bytes_.size() < 8) fail("shorter than the 8-byte header length (" + std::to_string(bytes_.size()) + " bytes)");
        std::uint64_t n = 0;
        std::memcpy(&n, bytes_.data(), 8);
        if (n < 2) fail("header length " + std::to_string(n) + " is too small");
        if (n > detail::max_header_bytes) fail("header length " + std::to_string(n) + " exceeds the 100 MiB limit");
        if (n > bytes_.size() - 8)
            fail("header length " + std::to_string(n) + " exceeds the file (" + std::to_string(bytes_.size()) + " bytes; truncated?)");
        data_start_ = 8 + static_cast<std::size_t>(n);
        const char* h = reinterpret_cast<const char*>(bytes_.data() + 8);
        if (h[0] != '{') fail("header does not start with '{'");
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(h, h + n, header_shape_check());
        } catch (const nlohmann::json::exception& e) {
            fail(std::string("header is not valid JSON (") + e.what() + ")");
        }
        if (!j.is_object()) fail("header is not a JSON object");
        for (auto it = j.begin(); it != j.end(); ++it) {
            if (it.key() == "__metadata__") {
                read_metadata(it.value());
                continue;
            }
            if (it.key().empty()) fail("a tensor has an empty name");
            tensors_.emplace(it.key(), read_entry(it.key(), it.value()));
        }
        check_tiling();
        check_content_digest();
    }

    void check_content_digest() const {
        const auto recorded = metadata_.find(content_digest_key);
        if (recorded == metadata_.end()) return;
        detail::ContentDigest d;
        for (const auto& [name, t] : tensors_) d.tensor(name, t.dtype, t.shape, {bytes_.data() + data_start_ + t.begin, t.end - t.begin});
        for (const auto& [k, v] : metadata_) d.metadata(k, v);
        const std::string actual = d.hex();
        if (actual != recorded->second)
            fail("metadata '" + std::string(content_digest_key) + "' is " + recorded->second + " but the tensors and metadata hash to " + actual +
                 ": a tensor or a metadata value was changed after the file was written");
    }

    // Rejects, while parsing, what no valid header has: nesting deeper than root -> entry ->
    // shape, arrays longer than 8, a key twice in one object (nlohmann keeps the last).
    nlohmann::json::parser_callback_t header_shape_check() const {
        struct Container {
            bool array;
            std::size_t items = 0;
            std::set<std::string> keys;
        };
        auto open = std::make_shared<std::vector<Container>>();
        return [this, open](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
            using E = nlohmann::json::parse_event_t;
            const auto count_item = [&] {
                if (!open->empty() && open->back().array && ++open->back().items > 8) fail("header holds an array longer than 8");
            };
            switch (event) {
                case E::object_start:
                case E::array_start:
                    if (depth >= 3) fail("header is nested deeper than tensor entries and their shapes");
                    count_item();
                    open->push_back(Container{event == E::array_start, 0, {}});
                    break;
                case E::object_end:
                case E::array_end: open->pop_back(); break;
                case E::key:
                    if (!open->back().keys.insert(parsed.get<std::string>()).second)
                        fail("key '" + parsed.get<std::string>() + "' appears twice in one object");
                    break;
                case E::value: count_item(); break;
            }
            return true;
        };
    }

    void read_metadata(const nlohmann::json& m) {
        if (!m.is_object()) fail("__metadata__ is not an object");
        for (auto it = m.begin(); it != m.end(); ++it) {
            if (!it.value().is_string()) fail("__metadata__ value for '" + it.key() + "' is not a string");
            metadata_[it.key()] = it.value().get<std::string>();
        }
    }

    TensorInfo read_entry(const std::string& name, const nlohmann::json& e) const {
        const std::string where = "tensor '" + name + "': ";
        if (!e.is_object() || e.size() != 3 || !e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets"))
            fail(where + "entry must be an object with exactly dtype, shape and data_offsets");
        TensorInfo t;
        if (!e["dtype"].is_string()) fail(where + "dtype is not a string");
        const auto d = dtype_from_name(e["dtype"].get<std::string>());
        if (!d) fail(where + "unknown dtype '" + e["dtype"].get<std::string>() + "'");
        t.dtype = *d;
        if (!e["shape"].is_array() || e["shape"].size() > 8) fail(where + "shape must be an array of at most 8 dimensions");
        for (const auto& v : e["shape"]) {
            if (!v.is_number_unsigned()) fail(where + "shape holds a value that is not a non-negative integer");
            t.shape.push_back(static_cast<std::size_t>(v.get<std::uint64_t>()));
        }
        std::size_t bytes = 0;
        try {
            bytes = checked_mul(checked_product(t.shape, max_tensor_bytes, "element count"), dtype_size(t.dtype), "byte size", max_tensor_bytes);
        } catch (const Error& err) {
            fail(where + "shape " + t.shape_str() + " of " + dtype_name(t.dtype) + ": " + err.what());
        }
        const auto& off = e["data_offsets"];
        if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
            fail(where + "data_offsets must be two non-negative integers");
        const auto b = off[0].get<std::uint64_t>(), en = off[1].get<std::uint64_t>();
        if (b > en) fail(where + "data_offsets begin " + std::to_string(b) + " > end " + std::to_string(en));
        const std::size_t buffer = bytes_.size() - data_start_;
        if (en > buffer)
            fail(where + "data_offsets end " + std::to_string(en) + " lies outside the " + std::to_string(buffer) + "-byte data buffer");
        if (en - b != bytes)
            fail(where + "shape " + t.shape_str() + " of " + dtype_name(t.dtype) + " needs " + std::to_string(bytes) +
                 " bytes but data_offsets span " + std::to_string(en - b));
        t.begin = static_cast<std::size_t>(b);
        t.end = static_cast<std::size_t>(en);
        return t;
    }

    void check_tiling() const {
        std::vector<std::pair<std::size_t, const std::string*>> starts;
        for (const auto& [name, t] : tensors_) starts.emplace_back(t.begin, &name);
        std::sort(starts.begin(), starts.end(), [&](const auto& a, const auto& b) {
            return a.first != b.first ? a.first < b.first : tensors_.at(*a.second).end < tensors_.at(*b.second).end;
        });
        std::size_t at = 0;
        for (const auto& [begin, name] : starts) {
            if (begin < at) fail("tensor '" + *name + "' overlaps the previous tensor's bytes");
            if (begin > at) fail("bytes [" + std::to_string(at) + ", " + std::to_string(begin) + ") before tensor '" + *name + "' belong to no tensor");
            at = tensors_.at(*name).end;
        }
        if (at != bytes_.size() - data_start_)
            fail(std::to_string(bytes_.size() - data_start_ - at) + " bytes after the last tensor belong to no tensor");
    }

    std::string source_;
    std::vector<std::uint8_t> bytes_;
    std::size_t data_start_ = 0;
    std::map<std::string, TensorInfo> tensors_;
    std::map<std::string, std::string> metadata_;
};

/// Collects tensors and metadata, then writes one safetensors file atomically.
class SafetensorsWriter {
public:
    template <class T>
    void add(const std::string& name, std::span<const T> values, std::vector<std::size_t> shape) {
        static_assert(std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, std::int64_t>,
                      "safetensors writer stores float, double or int64 values");
        std::size_t n = 1;
        for (auto d : shape) n *= d;
        if (n != values.size())
            throw Error("safetensors: tensor '" + name + "' has " + std::to_string(values.size()) + " values for shape of " +
                        std::to_string(n));
        if (name.empty() || name == "__metadata__" || entries_.count(name))
            throw Error("safetensors: tensor name '" + name + "' is empty, reserved or used twice");
        Entry e;
        e.dtype = std::is_same_v<T, float> ? Dtype::F32 : std::is_same_v<T, double> ? Dtype::F64 : Dtype::I64;
        e.shape = std::move(shape);
        e.bytes.resize(values.size() * sizeof(T));
        if (!values.empty()) std::memcpy(e.bytes.data(), values.data(), e.bytes.size());
        entries_.emplace(name, std::move(e));
    }
    void set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }

    std::string serialize() const {
        nlohmann::ordered_json h = nlohmann::ordered_json::object();
        h["__metadata__"] = metadata_;
        h["__metadata__"][content_digest_key] = content_digest();
        std::size_t offset = 0;
        for (const auto& [name, e] : entries_) {
            h[name] = {{"dtype", dtype_name(e.dtype)}, {"shape", e.shape}, {"data_offsets", {offset, offset + e.bytes.size()}}};
            offset += e.bytes.size();
        }
        std::string header = h.dump();
        header.append((8 - header.size() % 8) % 8, ' ');
        std::string out(8, '\0');
        const std::uint64_t n = header.size();
        std::memcpy(out.data(), &n, 8);
        out += header;
        for (const auto& [name, e] : entries_) out.append(reinterpret_cast<const char*>(e.bytes.data()), e.bytes.size());
        return out;
    }
    void write(const std::string& path) const { write_file_atomic(path, serialize()); }

private:
    std::string content_digest() const {
        detail::ContentDigest d;
        for (const auto& [name, e] : entries_) d.tensor(name, e.dtype, e.shape, e.bytes);
        for (const auto& [k, v] : metadata_) d.metadata(k, v);
        return d.hex();
    }

    struct Entry {
        Dtype dtype;
        std::vector<std::size_t> shape;
        std::vector<std::uint8_t> bytes;
    };
    std::map<std::string, Entry> entries_;
    std::map<std::string, std::string> metadata_;
};

}  // namespace safnet::io
