#include "edge_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

#include "file_writer.h"
#include "graph_errors.h"

namespace atlas {
namespace {

constexpr size_t kBatchEdges = size_t{1} << 20;

// ---------------------------------------------------------------- arrays

class ArraySource final : public EdgeSource {
 public:
  ArraySource(const void* src, const void* dst, DType dtype, int64_t count, const float* weights,
              const int64_t* types)
      : src_(src), dst_(dst), dtype_(dtype), count_(count), weights_(weights), types_(types) {}

  void rewind() override { pos_ = 0; }
  bool next(EdgeBatch& batch) override {
    batch.clear();
    if (pos_ >= count_) return false;
    const int64_t n = std::min<int64_t>(count_ - pos_, kBatchEdges);
    batch.src.resize(n);
    batch.dst.resize(n);
    for (int64_t i = 0; i < n; ++i) {
      batch.src[i] = load(src_, pos_ + i);
      batch.dst[i] = load(dst_, pos_ + i);
    }
    if (weights_) batch.weights.assign(weights_ + pos_, weights_ + pos_ + n);
    if (types_) batch.types.assign(types_ + pos_, types_ + pos_ + n);
    pos_ += n;
    return true;
  }
  bool has_weights() const override { return weights_ != nullptr; }
  bool has_types() const override { return types_ != nullptr; }
  int64_t num_edges_hint() const override { return count_; }
  std::string describe() const override { return "in-memory arrays (" + std::to_string(count_) + " edges)"; }

 private:
  int64_t load(const void* p, int64_t i) const {
    return dtype_ == DType::kInt32 ? static_cast<const int32_t*>(p)[i] : static_cast<const int64_t*>(p)[i];
  }
  const void* src_;
  const void* dst_;
  DType dtype_;
  int64_t count_;
  const float* weights_;
  const int64_t* types_;
  int64_t pos_ = 0;
};

// ---------------------------------------------------------------- files

// A file descriptor with sequential positional reads.
class InputFile {
 public:
  explicit InputFile(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw_io_error("cannot open", path);
    struct stat st {};
    if (::fstat(fd_, &st) != 0) throw_io_error("cannot stat", path);
    size_ = static_cast<uint64_t>(st.st_size);
    ::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
  }
  ~InputFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  // Read exactly `n` bytes at `offset` unless the file ends first; returns the count read.
  size_t read_at(void* out, size_t n, uint64_t offset) const { return read_fully(fd_, out, n, offset, path_); }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// Edges stored as two id streams: interleaved pairs (stride 2) or two blocks.
class PackedFileSource final : public EdgeSource {
 public:
  PackedFileSource(const std::string& path, uint64_t data_offset, int id_bytes, int64_t count, bool interleaved,
                   std::string label)
      : file_(path), data_offset_(data_offset), id_bytes_(id_bytes), count_(count), interleaved_(interleaved),
        label_(std::move(label)) {}

  void rewind() override { pos_ = 0; }
  bool next(EdgeBatch& batch) override {
    batch.clear();
    if (pos_ >= count_) return false;
    const int64_t n = std::min<int64_t>(count_ - pos_, kBatchEdges);
    batch.src.resize(n);
    batch.dst.resize(n);
    if (interleaved_) {
      buffer_.resize(static_cast<size_t>(n) * 2 * id_bytes_);
      read_exact(buffer_.data(), buffer_.size(), data_offset_ + static_cast<uint64_t>(pos_) * 2 * id_bytes_);
      for (int64_t i = 0; i < n; ++i) {
        batch.src[i] = decode(buffer_.data(), 2 * i);
        batch.dst[i] = decode(buffer_.data(), 2 * i + 1);
      }
    } else {
      buffer_.resize(static_cast<size_t>(n) * id_bytes_);
      read_exact(buffer_.data(), buffer_.size(), data_offset_ + static_cast<uint64_t>(pos_) * id_bytes_);
      for (int64_t i = 0; i < n; ++i) batch.src[i] = decode(buffer_.data(), i);
      read_exact(buffer_.data(), buffer_.size(),
                 data_offset_ + static_cast<uint64_t>(count_ + pos_) * id_bytes_);
      for (int64_t i = 0; i < n; ++i) batch.dst[i] = decode(buffer_.data(), i);
    }
    pos_ += n;
    return true;
  }
  int64_t num_edges_hint() const override { return count_; }
  std::string describe() const override { return label_ + " " + file_.path(); }

 private:
  void read_exact(void* out, size_t n, uint64_t offset) {
    if (file_.read_at(out, n, offset) != n) {
      throw InputError(file_.path() + ": file ended early at byte " + std::to_string(offset) +
                       " (it changed while the build was reading it)");
    }
  }
  int64_t decode(const uint8_t* p, int64_t i) const {
    if (id_bytes_ == 4) {
      int32_t v;
      std::memcpy(&v, p + 4 * i, 4);
      return v;
    }
    int64_t v;
    std::memcpy(&v, p + 8 * i, 8);
    return v;
  }
  InputFile file_;
  uint64_t data_offset_;
  int id_bytes_;
  int64_t count_;
  bool interleaved_;
  std::string label_;
  std::vector<uint8_t> buffer_;
  int64_t pos_ = 0;
};

// Value of `key` in a .npy header dict such as "{'descr': '<i8', 'fortran_order': False, 'shape': (5, 2), }".
std::string npy_field(const std::string& header, const std::string& key, const std::string& path) {
  const std::string quoted = "'" + key + "'";
  const size_t k = header.find(quoted);
  if (k == std::string::npos) throw InputError(path + ": .npy header has no '" + key + "' field");
  size_t p = header.find(':', k + quoted.size());
  if (p == std::string::npos) throw InputError(path + ": .npy header field '" + key + "' has no value");
  ++p;
  while (p < header.size() && header[p] == ' ') ++p;
  if (p >= header.size()) throw InputError(path + ": .npy header field '" + key + "' has no value");
  size_t end;
  if (header[p] == '\'') {
    end = header.find('\'', p + 1);
    if (end == std::string::npos) throw InputError(path + ": .npy header field '" + key + "' is unterminated");
    return header.substr(p + 1, end - p - 1);
  }
  if (header[p] == '(') {
    end = header.find(')', p);
    if (end == std::string::npos) throw InputError(path + ": .npy header field '" + key + "' is unterminated");
    return header.substr(p, end - p + 1);
  }
  end = header.find_first_of(",}", p);
  if (end == std::string::npos) end = header.size();
  return header.substr(p, end - p);
}

std::vector<int64_t> parse_shape(const std::string& text, const std::string& path) {
  std::vector<int64_t> dims;
  size_t p = 1;  // after '('
  while (p < text.size()) {
    while (p < text.size() && (text[p] == ' ' || text[p] == ',')) ++p;
    if (p >= text.size() || text[p] == ')') break;
    int64_t d = -1;
    auto [ptr, ec] = std::from_chars(text.data() + p, text.data() + text.size(), d);
    if (ec != std::errc() || d < 0) throw InputError(path + ": .npy header has an invalid shape " + text);
    dims.push_back(d);
    p = static_cast<size_t>(ptr - text.data());
    while (p < text.size() && text[p] == 'L') ++p;
  }
  return dims;
}

// ---------------------------------------------------------------- text

class TextSource final : public EdgeSource {
 public:
  TextSource(const std::string& path, bool with_weights, bool with_types)
      : file_(path), with_weights_(with_weights), with_types_(with_types) {}

  void rewind() override {
    offset_ = 0;
    line_number_ = 0;
    carry_.clear();
    eof_ = false;
  }

  bool next(EdgeBatch& batch) override {
    batch.clear();
    while (batch.size() < kBatchEdges && !eof_) {
      // Read a block and parse the complete lines in it; a partial last line waits for the next block.
      block_.resize(kBlockBytes);
      const size_t got = file_.read_at(block_.data(), block_.size(), offset_);
      offset_ += got;
      if (got == 0) eof_ = true;
      carry_.append(block_.data(), got);
      size_t start = 0;
      while (true) {
        const size_t nl = carry_.find('\n', start);
        if (nl == std::string::npos) break;
        handle_line(carry_.data() + start, carry_.data() + nl, batch);
        start = nl + 1;
      }
      carry_.erase(0, start);
      if (carry_.size() > kMaxLine) {
        throw InputError(file_.path() + ":" + std::to_string(line_number_ + 1) + ": line is longer than " +
                         std::to_string(kMaxLine) + " bytes; is this a text edge list?");
      }
      if (eof_ && !carry_.empty()) {
        handle_line(carry_.data(), carry_.data() + carry_.size(), batch);
        carry_.clear();
      }
    }
    return batch.size() > 0 || !eof_;
  }
  bool has_weights() const override { return with_weights_; }
  bool has_types() const override { return with_types_; }
  std::string describe() const override { return "text edge list " + file_.path(); }

 private:
  static constexpr size_t kBlockBytes = size_t{4} << 20;
  static constexpr size_t kMaxLine = size_t{1} << 16;

  void handle_line(const char* b, const char* e, EdgeBatch& batch) {
    ++line_number_;
    if (static_cast<size_t>(e - b) > kMaxLine) {
      throw InputError(file_.path() + ":" + std::to_string(line_number_) + ": line is longer than " +
                       std::to_string(kMaxLine) + " bytes; is this a text edge list?");
    }
    const ParsedLine line =
        parse_edge_line(b, e, with_weights_, with_types_, file_.path() + ":" + std::to_string(line_number_));
    if (!line.is_edge) return;
    batch.src.push_back(line.src);
    batch.dst.push_back(line.dst);
    if (with_weights_) batch.weights.push_back(line.weight);
    if (with_types_) batch.types.push_back(line.type);
  }

  InputFile file_;
  bool with_weights_;
  bool with_types_;
  uint64_t offset_ = 0;
  int64_t line_number_ = 0;
  std::string carry_;
  std::string block_;
  bool eof_ = false;
};

std::string quote_line(const char* b, const char* e) {
  std::string out = "'";
  const char* stop = (e - b > 80) ? b + 80 : e;
  for (const char* p = b; p < stop; ++p) {
    const unsigned char c = static_cast<unsigned char>(*p);
    if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
    } else {
      static const char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  out += (stop != e) ? "...'" : "'";
  return out;
}

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

}  // namespace

ParsedLine parse_edge_line(const char* begin, const char* end, bool with_weights, bool with_types,
                           const std::string& where) {
  ParsedLine out;
  const char* b = begin;
  const char* e = end;
  while (b < e && is_blank(*b)) ++b;
  while (e > b && is_blank(e[-1])) --e;
  if (b == e || *b == '#' || *b == '%') return out;

  // Split into fields on runs of blanks, or on one comma with optional blanks around it.
  const char* fields[4];
  const char* field_ends[4];
  const int want = 2 + (with_weights ? 1 : 0) + (with_types ? 1 : 0);
  int count = 0;
  const char* p = b;
  auto fail = [&](const std::string& why) -> void {
    throw InputError(where + ": " + why + " in line " + quote_line(begin, end) + "; expected '" +
                     (with_weights ? (with_types ? "src dst weight type" : "src dst weight")
                                   : (with_types ? "src dst type" : "src dst")) +
                     "' separated by spaces, tabs or a comma");
  };
  while (p < e) {
    if (count == want) fail("too many fields");
    const char* f = p;
    while (p < e && !is_blank(*p) && *p != ',') ++p;
    if (p == f) fail("empty field");
    fields[count] = f;
    field_ends[count] = p;
    ++count;
    while (p < e && is_blank(*p)) ++p;
    if (p < e && *p == ',') {
      ++p;
      while (p < e && is_blank(*p)) ++p;
      if (p == e) fail("trailing comma");
    }
  }
  if (count < want) fail("expected " + std::to_string(want) + " fields but found " + std::to_string(count));

  auto parse_id = [&](int i, const char* name) -> int64_t {
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(fields[i], field_ends[i], v);
    if (ec == std::errc::result_out_of_range) fail(std::string(name) + " id does not fit in int64");
    if (ec != std::errc() || ptr != field_ends[i]) fail(std::string(name) + " id is not an integer");
    if (v < 0) fail(std::string(name) + " id " + std::to_string(v) + " is negative");
    return v;
  };
  out.src = parse_id(0, "source");
  out.dst = parse_id(1, "destination");
  int next = 2;
  if (with_weights) {
    double w = 0.0;
    auto [ptr, ec] = std::from_chars(fields[next], field_ends[next], w);
    if (ec != std::errc() || ptr != field_ends[next]) fail("weight is not a number");
    if (!std::isfinite(w) || std::fabs(w) > std::numeric_limits<float>::max()) fail("weight is not a finite float32");
    out.weight = static_cast<float>(w);
    ++next;
  }
  if (with_types) {
    int64_t t = 0;
    auto [ptr, ec] = std::from_chars(fields[next], field_ends[next], t);
    if (ec != std::errc() || ptr != field_ends[next]) fail("edge type is not an integer");
    if (t < 0 || t > 65535) fail("edge type " + std::to_string(t) + " is outside 0..65535");
    out.type = t;
  }
  out.is_edge = true;
  return out;
}

std::unique_ptr<EdgeSource> make_array_source(const void* src, const void* dst, DType id_dtype, int64_t count,
                                              const float* weights, const int64_t* types) {
  if (id_dtype != DType::kInt32 && id_dtype != DType::kInt64) {
    throw std::invalid_argument("edge arrays must be int32 or int64");
  }
  return std::make_unique<ArraySource>(src, dst, id_dtype, count, weights, types);
}

std::unique_ptr<EdgeSource> make_binary_source(const std::string& path, int id_bytes) {
  if (id_bytes != 4 && id_bytes != 8) throw std::invalid_argument("binary edge ids must be 4 or 8 bytes");
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw_io_error("cannot stat", path);
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  const uint64_t pair = 2 * static_cast<uint64_t>(id_bytes);
  if (size % pair != 0) {
    throw InputError(path + ": file is " + std::to_string(size) + " bytes, not a multiple of the " +
                     std::to_string(pair) + "-byte (src, dst) pair of int" + std::to_string(8 * id_bytes) +
                     "; check the input format");
  }
  return std::make_unique<PackedFileSource>(path, 0, id_bytes, static_cast<int64_t>(size / pair), true,
                                            "binary int" + std::to_string(8 * id_bytes) + " pairs");
}

std::unique_ptr<EdgeSource> make_npy_source(const std::string& path) {
  InputFile file(path);
  uint8_t prefix[12] = {};
  const size_t got = file.read_at(prefix, sizeof(prefix), 0);
  static const uint8_t magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (got < 10 || std::memcmp(prefix, magic, 6) != 0) throw InputError(path + ": not a .npy file (bad magic)");
  const int major = prefix[6];
  uint64_t header_len;
  uint64_t header_start;
  if (major == 1) {
    header_len = prefix[8] | (uint64_t{prefix[9]} << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (got < 12) throw InputError(path + ": truncated .npy header");
    header_len = prefix[8] | (uint64_t{prefix[9]} << 8) | (uint64_t{prefix[10]} << 16) | (uint64_t{prefix[11]} << 24);
    header_start = 12;
  } else {
    throw InputError(path + ": unsupported .npy version " + std::to_string(major));
  }
  if (header_len > (1u << 20) || header_start + header_len > file.size()) {
    throw InputError(path + ": truncated or invalid .npy header");
  }
  std::string header(header_len, '\0');
  file.read_at(header.data(), header_len, header_start);

  const std::string descr = npy_field(header, "descr", path);
  const std::string fortran = npy_field(header, "fortran_order", path);
  const std::vector<int64_t> shape = parse_shape(npy_field(header, "shape", path), path);
  int id_bytes;
  if (descr == "<i8" || descr == "=i8" || descr == "i8") id_bytes = 8;
  else if (descr == "<i4" || descr == "=i4" || descr == "i4") id_bytes = 4;
  else throw InputError(path + ": .npy dtype '" + descr + "' is not supported; save the edges as int32 or int64");
  const bool is_fortran = fortran.find("True") != std::string::npos;
  if (shape.size() != 2 || (shape[0] != 2 && shape[1] != 2)) {
    throw InputError(path + ": .npy array must have shape (m, 2) or (2, m)");
  }
  // (m, 2) in C order is interleaved pairs; (2, m) in C order, or (m, 2) in Fortran order, is two blocks.
  bool interleaved;
  int64_t count;
  if (shape[1] == 2 && !(shape[0] == 2 && !is_fortran)) {
    count = shape[0];
    interleaved = !is_fortran;
  } else {
    count = shape[1];
    interleaved = is_fortran;
  }
  if (shape[0] == 2 && shape[1] == 2) {  // Ambiguous 2x2: rows are edges, as in (m, 2).
    count = 2;
    interleaved = !is_fortran;
  }
  const uint64_t data_offset = header_start + header_len;
  const uint64_t need = static_cast<uint64_t>(count) * 2 * id_bytes;
  if (file.size() - data_offset < need) {
    throw InputError(path + ": .npy data is " + std::to_string(file.size() - data_offset) + " bytes but shape needs " +
                     std::to_string(need) + " (truncated file)");
  }
  return std::make_unique<PackedFileSource>(path, data_offset, id_bytes, count, interleaved, ".npy");
}

std::unique_ptr<EdgeSource> make_text_source(const std::string& path, bool with_weights, bool with_types) {
  return std::make_unique<TextSource>(path, with_weights, with_types);
}

}  // namespace atlas
