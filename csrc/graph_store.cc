#include "graph_store.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "checksum.h"
#include "graph_errors.h"

namespace atlas {

GraphStore::GraphStore(const std::string& path, bool verify_sections) : file_(std::make_shared<MappedFile>(path)) {
  if (file_->size() < sizeof(FileHeader)) {
    throw FormatError(path + ": file is " + std::to_string(file_->size()) + " bytes, too small for the " +
                      std::to_string(sizeof(FileHeader)) + "-byte graph store header (truncated or not a store)");
  }
  std::memcpy(&header_, file_->data(), sizeof(FileHeader));
  validate_header(header_, file_->size(), path);

  // O(1) content checks that catch most truncation-by-rewrite and wrong-section damage.
  const int64_t first = indptr()[0];
  const int64_t last = indptr()[header_.num_nodes];
  if (first != 0 || last != num_edges()) {
    throw FormatError(path + ": corrupt indptr, it runs from " + std::to_string(first) + " to " +
                      std::to_string(last) + " but must run from 0 to num_edges = " + std::to_string(num_edges()));
  }
  if (verify_sections) verify();

  // Neighbour lists are read at random positions; readahead would only evict useful pages.
  advise("indices", "random");
  advise("weights", "random");
  advise("types", "random");
}

void GraphStore::check_node(int64_t v) const {
  if (v < 0 || v >= num_nodes()) {
    throw OutOfRange("node id " + std::to_string(v) + " is out of range for a graph with " +
                     std::to_string(num_nodes()) + " nodes (valid ids are 0.." + std::to_string(num_nodes() - 1) + ")");
  }
}

std::pair<int64_t, int64_t> GraphStore::edge_range(int64_t v) const {
  check_node(v);
  const int64_t b = indptr()[v];
  const int64_t e = indptr()[v + 1];
  if (b < 0 || b > e || e > num_edges()) {
    throw FormatError(path() + ": corrupt indptr at node " + std::to_string(v) + " (" + std::to_string(b) + ", " +
                      std::to_string(e) + "); run verify() or rebuild the store");
  }
  return {b, e};
}

int64_t GraphStore::find_input_id(int64_t input_id) const {
  if (!has_id_map()) return (input_id >= 0 && input_id < num_nodes()) ? input_id : -1;
  const int64_t* begin = id_map();
  const int64_t* end = begin + num_nodes();
  const int64_t* it = std::lower_bound(begin, end, input_id);
  return (it != end && *it == input_id) ? static_cast<int64_t>(it - begin) : -1;
}

void GraphStore::verify() const {
  const std::string& p = path();
  const uint8_t* base = file_->data();

  // Checksums and zero padding: together they cover every byte after the header.
  uint64_t padding_begin = sizeof(FileHeader);
  auto check_zero = [&](uint64_t begin, uint64_t end) {
    for (uint64_t i = begin; i < end; ++i) {
      if (base[i] != 0) throw FormatError(p + ": corrupt file, nonzero padding byte at offset " + std::to_string(i));
    }
  };
  for (int id = 0; id < kNumSections; ++id) {
    const Section& s = header_.sections[id];
    if (s.dtype == 0) continue;
    check_zero(padding_begin, s.offset);
    const uint32_t crc = crc32(base + s.offset, s.nbytes);
    if (crc != s.crc32) {
      throw FormatError(p + ": corrupt section " + section_name(id) + ", CRC-32 " + std::to_string(crc) +
                        " does not match the recorded " + std::to_string(s.crc32) + "; rebuild the store");
    }
    padding_begin = s.offset + s.nbytes;
  }
  check_zero(padding_begin, file_->size());

  const int64_t n = num_nodes();
  const int64_t* ip = indptr();
  for (int64_t v = 0; v < n; ++v) {
    if (ip[v + 1] < ip[v]) throw FormatError(p + ": corrupt indptr, it decreases at node " + std::to_string(v));
  }
  for (int64_t e = 0; e < num_edges(); ++e) {
    const int64_t u = neighbor_at(e);
    if (u < 0 || u >= n) {
      throw FormatError(p + ": corrupt indices, neighbour id " + std::to_string(u) + " at edge " + std::to_string(e) +
                        " is out of range");
    }
  }
  // Flags promise properties of each neighbour list; check the ones a reader may rely on.
  const bool sorted = (header_.flags & kSorted) != 0;
  const bool dedup = (header_.flags & kDeduplicated) != 0;
  const bool no_loops = (header_.flags & kNoSelfLoops) != 0;
  if (sorted || dedup || no_loops) {
    auto type_at = [&](int64_t e) -> int64_t {
      if (!has_types()) return 0;
      return types_dtype() == DType::kUInt8 ? reinterpret_cast<const uint8_t*>(types())[e]
                                            : reinterpret_cast<const uint16_t*>(types())[e];
    };
    for (int64_t v = 0; v < n; ++v) {
      for (int64_t e = ip[v]; e < ip[v + 1]; ++e) {
        const int64_t u = neighbor_at(e);
        if (no_loops && u == v) {
          throw FormatError(p + ": corrupt store, node " + std::to_string(v) +
                            " has a self-loop but the header says self-loops were dropped");
        }
        if (e == ip[v]) continue;
        const int64_t prev = neighbor_at(e - 1);
        const bool increasing = prev < u || (prev == u && type_at(e - 1) < type_at(e));
        if ((sorted && prev > u) || (dedup && !increasing)) {
          throw FormatError(p + ": corrupt store, the neighbours of node " + std::to_string(v) + " are not " +
                            (dedup ? "strictly increasing" : "sorted") + " as the header flags promise");
        }
      }
    }
  }
  if (has_id_map()) {
    const int64_t* ids = id_map();
    for (int64_t v = 1; v < n; ++v) {
      if (ids[v] <= ids[v - 1]) throw FormatError(p + ": corrupt id_map, not increasing at node " + std::to_string(v));
    }
  }
}

void GraphStore::advise(const std::string& section_label, const std::string& advice) const {
  if (section_label == "all") {
    file_->advise(0, file_->size(), advice);
    return;
  }
  for (int id = 0; id < kNumSections; ++id) {
    if (section_label == section_name(id)) {
      const Section& s = header_.sections[id];
      if (s.dtype != 0) file_->advise(s.offset, s.nbytes, advice);
      return;
    }
  }
  throw std::invalid_argument("unknown section '" + section_label +
                              "'; use indptr, indices, weights, types, id_map or all");
}

}  // namespace atlas
