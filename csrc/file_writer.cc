#include "file_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "checksum.h"
#include "graph_errors.h"

namespace atlas {

FileWriter::FileWriter(std::string path) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw_io_error("cannot create", path_);
}

FileWriter::~FileWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!kept_) ::unlink(path_.c_str());
}

void FileWriter::write_at(const void* data, size_t n, uint64_t offset) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::pwrite(fd_, p, n, static_cast<off_t>(offset));
    if (w < 0) {
      if (errno == EINTR) continue;
      throw_io_error("cannot write", path_);
    }
    p += w;
    n -= static_cast<size_t>(w);
    offset += static_cast<uint64_t>(w);
  }
  end_ = std::max(end_, offset);
}

size_t FileWriter::read_at(void* out, size_t n, uint64_t offset) const { return read_fully(fd_, out, n, offset, path_); }

size_t read_fully(int fd, void* out, size_t n, uint64_t offset, const std::string& path) {
  size_t done = 0;
  while (done < n) {
    const ssize_t r = ::pread(fd, static_cast<char*>(out) + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      throw_io_error("cannot read", path);
    }
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  return done;
}

void FileWriter::truncate(uint64_t size) {
  if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) throw_io_error("cannot resize", path_);
  end_ = size;
}

void FileWriter::sync() {
  if (::fsync(fd_) != 0) throw_io_error("cannot fsync", path_);
}

std::string directory_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string base_name(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

uint32_t copy_section(FileWriter& from, FileWriter& to, uint64_t offset, uint64_t nbytes) {
  std::vector<char> buffer(size_t{8} << 20);
  uint32_t crc = 0;
  uint64_t done = 0;
  while (done < nbytes) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(buffer.size(), nbytes - done));
    if (from.read_at(buffer.data(), n, done) != n) throw IoError("temporary file " + from.path() + " ended early");
    crc = crc32(buffer.data(), n, crc);
    to.write_at(buffer.data(), n, offset + done);
    done += n;
  }
  return crc;
}

}  // namespace atlas
