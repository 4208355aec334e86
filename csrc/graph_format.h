// On-disk layout of a graph store (version 1). docs/graph_format.md describes
// it for readers in other languages; keep the two in step.
//
// [0, alignment)            header page: FileHeader, then zero bytes
// sections, in this order, each starting at a multiple of `alignment` and
// followed by zero padding up to the next section:
//   indptr    int64[num_nodes + 1]   CSR row offsets, indptr[0] = 0, indptr[n] = num_edges
//   indices   int32|int64[num_edges] neighbour ids, int32 while num_nodes <= 2^31
//   weights   float32[num_edges]     optional, flag kHasWeights
//   types     uint8|uint16[num_edges] optional edge types, flag kHasTypes
//   id_map    int64[num_nodes]       optional, flag kHasIdMap: store id -> input id, increasing
// All integers are in the byte order of the writing machine, recorded by
// `byte_order`; a reader on the other byte order rejects the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace atlas {

inline constexpr char kMagic[8] = {'A', 'T', 'L', 'A', 'S', 'C', 'S', 'R'};
inline constexpr uint32_t kFormatVersion = 1;
inline constexpr uint32_t kByteOrderMark = 0x01020304u;
inline constexpr uint32_t kAlignment = 4096;

enum class DType : uint32_t { kNone = 0, kInt32 = 1, kInt64 = 2, kFloat32 = 3, kUInt8 = 4, kUInt16 = 5 };

size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);

enum Flags : uint64_t {
  kHasWeights = 1ull << 0,
  kHasTypes = 1ull << 1,
  kHasIdMap = 1ull << 2,
  kSymmetrized = 1ull << 3,    // every edge (u, v) was stored with its reverse (v, u)
  kSorted = 1ull << 4,         // neighbours increase within each node
  kDeduplicated = 1ull << 5,   // no (neighbour, type) pair repeats within a node
  kNoSelfLoops = 1ull << 6,    // self-loops were dropped at build time
  kKnownFlags = (1ull << 7) - 1,
};

enum SectionId : int { kIndptr = 0, kIndices = 1, kWeights = 2, kTypes = 3, kIdMap = 4, kNumSections = 5 };
const char* section_name(int id);

struct Section {
  uint64_t offset;  // bytes from the start of the file, a multiple of `alignment`; 0 when absent
  uint64_t nbytes;  // exact payload length, without padding
  uint32_t dtype;   // a DType code
  uint32_t crc32;   // zlib CRC-32 of the payload bytes
};

struct FileHeader {
  char magic[8];
  uint32_t version;
  uint32_t byte_order;   // kByteOrderMark as written by the producing machine
  uint32_t header_size;  // sizeof(FileHeader)
  uint32_t alignment;    // section alignment in bytes, a power of two >= 4096
  uint64_t flags;
  uint64_t num_nodes;
  uint64_t num_edges;
  uint64_t file_size;    // total bytes, including the padding after the last section
  Section sections[kNumSections];
  uint8_t reserved[64];  // zero; room for later versions
  uint32_t padding;      // zero
  uint32_t header_crc;   // CRC-32 of this struct with header_crc set to zero
};
static_assert(sizeof(FileHeader) == 248, "FileHeader layout changed");

inline uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

// CRC-32 that FileHeader::header_crc must hold.
uint32_t header_checksum(const FileHeader& header);

// Validate everything in the header against itself and against the actual
// file size; throws FormatError naming the first inconsistency. Does not read
// the sections.
void validate_header(const FileHeader& header, uint64_t actual_file_size, const std::string& path);

}  // namespace atlas
