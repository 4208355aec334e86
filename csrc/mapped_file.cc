#include "mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "graph_errors.h"

namespace atlas {

void throw_io_error(const std::string& what, const std::string& path) {
  const int code = errno;
  throw IoError(what + " " + path + ": " + std::strerror(code), code);
}

MappedFile::MappedFile(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw_io_error("cannot open", path);
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    ::close(fd_);
    throw_io_error("cannot stat", path);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd_);
    throw FormatError(path + ": not a regular file");
  }
  size_ = static_cast<uint64_t>(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd_, 0);
    if (p == MAP_FAILED) {
      ::close(fd_);
      throw_io_error("cannot mmap", path);
    }
    data_ = static_cast<const uint8_t*>(p);
  }
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
  if (fd_ >= 0) ::close(fd_);
}

void MappedFile::advise(uint64_t offset, uint64_t nbytes, const std::string& advice) const {
  int flag;
  if (advice == "normal") flag = MADV_NORMAL;
  else if (advice == "random") flag = MADV_RANDOM;
  else if (advice == "sequential") flag = MADV_SEQUENTIAL;
  else if (advice == "willneed") flag = MADV_WILLNEED;
  else if (advice == "dontneed") flag = MADV_DONTNEED;
  else throw std::invalid_argument("unknown madvise advice '" + advice +
                                   "'; use normal, random, sequential, willneed or dontneed");
  if (data_ == nullptr || nbytes == 0 || offset >= size_) return;
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const uint64_t begin = offset / page * page;
  const uint64_t end = std::min<uint64_t>(size_, offset + nbytes);
  // Advice is a hint; a failure (for example on a filesystem without support) changes nothing we rely on.
  ::madvise(const_cast<uint8_t*>(data_) + begin, end - begin, flag);
}

}  // namespace atlas
