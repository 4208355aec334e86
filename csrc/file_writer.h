// Files written by the graph builder: a writer that deletes its file unless kept,
// path helpers, and a section copy that checksums what it copies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace atlas {

// A file being written; removed on destruction unless keep() was called, so an
// exception anywhere in the build leaves no partial output behind.
class FileWriter {
 public:
  explicit FileWriter(std::string path);
  ~FileWriter();
  FileWriter(const FileWriter&) = delete;
  FileWriter& operator=(const FileWriter&) = delete;

  void write_at(const void* data, size_t n, uint64_t offset);
  void append(const void* data, size_t n) { write_at(data, n, end_); }
  // Reads up to `n` bytes at `offset`. It returns fewer only at the end of the file.
  size_t read_at(void* out, size_t n, uint64_t offset) const;
  void truncate(uint64_t size);
  void sync();
  void keep() { kept_ = true; }
  uint64_t size() const { return end_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t end_ = 0;
  bool kept_ = false;
};

// Reads up to `n` bytes of open file `fd` at `offset`, retrying short and interrupted
// reads. It returns fewer only at the end of the file and raises IoError naming `path`.
size_t read_fully(int fd, void* out, size_t n, uint64_t offset, const std::string& path);

// Directory part of `path` ("." when it has none).
std::string directory_of(const std::string& path);
// File name part of `path`.
std::string base_name(const std::string& path);
// Copy `nbytes` from the start of `from` to `to` at `offset`, returning the CRC-32 of the bytes.
uint32_t copy_section(FileWriter& from, FileWriter& to, uint64_t offset, uint64_t nbytes);

}  // namespace atlas
