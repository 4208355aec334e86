#include "graph_format.h"

#include <cstring>
#include <limits>
#include <sstream>

#include "checksum.h"
#include "graph_errors.h"

namespace atlas {

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::kInt32: return 4;
    case DType::kInt64: return 8;
    case DType::kFloat32: return 4;
    case DType::kUInt8: return 1;
    case DType::kUInt16: return 2;
    default: return 0;
  }
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kNone: return "none";
    case DType::kInt32: return "int32";
    case DType::kInt64: return "int64";
    case DType::kFloat32: return "float32";
    case DType::kUInt8: return "uint8";
    case DType::kUInt16: return "uint16";
  }
  return "unknown";
}

const char* section_name(int id) {
  static const char* names[kNumSections] = {"indptr", "indices", "weights", "types", "id_map"};
  return (id >= 0 && id < kNumSections) ? names[id] : "unknown";
}

uint32_t header_checksum(const FileHeader& header) {
  FileHeader copy = header;
  copy.header_crc = 0;
  return crc32(&copy, sizeof(copy));
}

namespace {

// Product a * b, or throw when it overflows 2^63, which no valid file reaches.
uint64_t checked_mul(uint64_t a, uint64_t b, const std::string& path, const char* what) {
  constexpr uint64_t limit = uint64_t{1} << 62;
  if (a != 0 && b > limit / a) {
    throw FormatError(path + ": corrupt header, " + what + " overflows (" + std::to_string(a) + " x " +
                      std::to_string(b) + ")");
  }
  return a * b;
}

}  // namespace

void validate_header(const FileHeader& h, uint64_t actual_size, const std::string& path) {
  auto fail = [&](const std::string& msg) { throw FormatError(path + ": " + msg); };

  if (std::memcmp(h.magic, kMagic, sizeof(kMagic)) != 0) {
    fail("not an atlas graph store (the file does not start with the magic bytes 'ATLASCSR')");
  }
  if (h.byte_order != kByteOrderMark) {
    if (h.byte_order == 0x04030201u) fail("written on a machine of the other byte order; rebuild it here");
    fail("corrupt header, byte-order mark " + std::to_string(h.byte_order) + " is invalid");
  }
  if (h.version != kFormatVersion) {
    fail("unsupported format version " + std::to_string(h.version) + ", this reader supports version " +
         std::to_string(kFormatVersion) + "; rebuild the store with this atlas_jax");
  }
  // Checked after the version, because another version may lay out its header differently.
  if (header_checksum(h) != h.header_crc) {
    fail("corrupt header, its CRC-32 does not match (the file was modified or damaged); rebuild the store");
  }
  if (h.header_size != sizeof(FileHeader)) fail("corrupt header, header_size " + std::to_string(h.header_size));
  if (h.alignment < kAlignment || h.alignment > (1u << 30) || (h.alignment & (h.alignment - 1)) != 0) {
    fail("corrupt header, section alignment " + std::to_string(h.alignment) + " is not a power of two >= 4096");
  }
  if ((h.flags & ~uint64_t{kKnownFlags}) != 0) {
    fail("unknown flag bits 0x" + [&] { std::ostringstream s; s << std::hex << h.flags; return s.str(); }() +
         "; the store was written by a newer atlas_jax");
  }
  if (h.file_size != actual_size) {
    fail("file is " + std::to_string(actual_size) + " bytes but its header records " + std::to_string(h.file_size) +
         " (truncated or extended); rebuild the store");
  }
  constexpr uint64_t max_count = uint64_t{1} << 48;
  if (h.num_nodes >= max_count) fail("corrupt header, num_nodes " + std::to_string(h.num_nodes));
  if (h.num_edges >= max_count) fail("corrupt header, num_edges " + std::to_string(h.num_edges));
  if (h.padding != 0) fail("corrupt header, nonzero padding");
  for (uint8_t b : h.reserved) {
    if (b != 0) fail("corrupt header, nonzero reserved bytes");
  }

  // Expected dtype and length of each section.
  struct Expect {
    bool present;
    uint64_t count;
  };
  const Expect expect[kNumSections] = {
      {true, h.num_nodes + 1},
      {true, h.num_edges},
      {(h.flags & kHasWeights) != 0, h.num_edges},
      {(h.flags & kHasTypes) != 0, h.num_edges},
      {(h.flags & kHasIdMap) != 0, h.num_nodes},
  };
  uint64_t previous_end = h.alignment;
  for (int id = 0; id < kNumSections; ++id) {
    const Section& s = h.sections[id];
    const std::string name = section_name(id);
    const DType dtype = static_cast<DType>(s.dtype);
    if (!expect[id].present) {
      if (s.offset != 0 || s.nbytes != 0 || s.dtype != 0 || s.crc32 != 0) {
        fail("corrupt header, section " + name + " is described but its flag is not set");
      }
      continue;
    }
    bool dtype_ok = false;
    switch (id) {
      case kIndptr: dtype_ok = dtype == DType::kInt64; break;
      case kIndices:
        dtype_ok = dtype == DType::kInt64 ||
                   (dtype == DType::kInt32 && h.num_nodes <= uint64_t{std::numeric_limits<int32_t>::max()} + 1);
        break;
      case kWeights: dtype_ok = dtype == DType::kFloat32; break;
      case kTypes: dtype_ok = dtype == DType::kUInt8 || dtype == DType::kUInt16; break;
      case kIdMap: dtype_ok = dtype == DType::kInt64; break;
    }
    if (!dtype_ok) fail("corrupt header, section " + name + " has invalid dtype code " + std::to_string(s.dtype));
    const uint64_t want = checked_mul(expect[id].count, dtype_size(dtype), path, name.c_str());
    if (s.nbytes != want) {
      fail("corrupt header, section " + name + " is " + std::to_string(s.nbytes) + " bytes, expected " +
           std::to_string(want));
    }
    if (s.offset % h.alignment != 0 || s.offset < previous_end) {
      fail("corrupt header, section " + name + " offset " + std::to_string(s.offset) +
           " is misaligned or overlaps the previous section");
    }
    if (s.offset > actual_size || s.nbytes > actual_size - s.offset) {
      fail("section " + name + " [" + std::to_string(s.offset) + ", +" + std::to_string(s.nbytes) +
           ") runs past the end of the " + std::to_string(actual_size) + "-byte file (truncated); rebuild the store");
    }
    previous_end = align_up(s.offset + s.nbytes, h.alignment);
  }
  if (previous_end != actual_size) {
    fail("file size " + std::to_string(actual_size) + " does not match the section layout, which ends at " +
         std::to_string(previous_end));
  }
}

}  // namespace atlas
