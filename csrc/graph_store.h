// Read-only view of a graph store file through mmap. All accessors are O(1)
// and bounds-checked, so a store whose sections were damaged after open() can
// return wrong neighbours but never reads outside the mapping.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "graph_format.h"
#include "mapped_file.h"

namespace atlas {

class GraphStore {
 public:
  // Map `path` and validate its header and section table against the file.
  // With `verify` it also reads every section once: checksums, zero padding,
  // monotone indptr, neighbour ids in range, increasing id_map.
  explicit GraphStore(const std::string& path, bool verify = false);

  const FileHeader& header() const { return header_; }
  const MappedFile& file() const { return *file_; }
  const std::string& path() const { return file_->path(); }
  int64_t num_nodes() const { return static_cast<int64_t>(header_.num_nodes); }
  int64_t num_edges() const { return static_cast<int64_t>(header_.num_edges); }
  bool has_weights() const { return (header_.flags & kHasWeights) != 0; }
  bool has_types() const { return (header_.flags & kHasTypes) != 0; }
  bool has_id_map() const { return (header_.flags & kHasIdMap) != 0; }
  DType indices_dtype() const { return static_cast<DType>(header_.sections[kIndices].dtype); }
  DType types_dtype() const { return static_cast<DType>(header_.sections[kTypes].dtype); }

  const int64_t* indptr() const { return reinterpret_cast<const int64_t*>(section(kIndptr)); }
  const void* indices() const { return section(kIndices); }
  const float* weights() const { return reinterpret_cast<const float*>(section(kWeights)); }
  const void* types() const { return section(kTypes); }
  const int64_t* id_map() const { return reinterpret_cast<const int64_t*>(section(kIdMap)); }
  const uint8_t* section(int id) const { return file_->data() + header_.sections[id].offset; }

  // Throw OutOfRange naming `v` unless 0 <= v < num_nodes.
  void check_node(int64_t v) const;
  // Edge range [begin, end) of node v, checked against num_edges.
  std::pair<int64_t, int64_t> edge_range(int64_t v) const;
  int64_t degree(int64_t v) const {
    auto [b, e] = edge_range(v);
    return e - b;
  }
  // Neighbour id at edge position e, widened to int64.
  int64_t neighbor_at(int64_t e) const {
    return indices_dtype() == DType::kInt32 ? reinterpret_cast<const int32_t*>(indices())[e]
                                            : reinterpret_cast<const int64_t*>(indices())[e];
  }

  // Store id of an input id through the id_map (binary search); -1 when absent.
  int64_t find_input_id(int64_t input_id) const;

  // Read every section; throws FormatError on the first damage found.
  void verify() const;

  // madvise one section ("indptr", "indices", ...) or "all".
  void advise(const std::string& section, const std::string& advice) const;

 private:
  std::shared_ptr<MappedFile> file_;
  FileHeader header_{};
};

}  // namespace atlas
