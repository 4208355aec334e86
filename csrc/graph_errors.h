// Exception types of the graph store. module.cc maps them onto Python classes:
// FormatError -> atlas_jax.graph.GraphFormatError, InputError -> GraphInputError,
// OutOfRange -> IndexError.
#pragma once

#include <stdexcept>
#include <string>

namespace atlas {

// A store file that is truncated, corrupt or of an unsupported version.
class FormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Edge-list input that cannot be parsed or violates a stated limit.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A node id outside [0, num_nodes).
class OutOfRange : public std::out_of_range {
 public:
  using std::out_of_range::out_of_range;
};

// An operating-system call failed; the message carries strerror(errno).
class IoError : public std::runtime_error {
 public:
  explicit IoError(const std::string& what, int code = 0) : std::runtime_error(what), code_(code) {}
  int code() const { return code_; }  // errno, 0 when not from a system call

 private:
  int code_;
};

[[noreturn]] void throw_io_error(const std::string& what, const std::string& path);

}  // namespace atlas
