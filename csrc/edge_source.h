// Streams of edges for the builder. Every source can be rewound and read
// again, because the out-of-core builder makes one pass per node bucket
// instead of holding the edge list in memory.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "graph_format.h"

namespace atlas {

struct EdgeBatch {
  std::vector<int64_t> src;
  std::vector<int64_t> dst;
  std::vector<float> weights;  // empty unless the source has weights
  std::vector<int64_t> types;  // empty unless the source has edge types
  int64_t input_edges = -1;    // input edges this batch covers when the source left some out, else -1
  size_t size() const { return src.size(); }
  int64_t covered() const { return input_edges >= 0 ? input_edges : static_cast<int64_t>(src.size()); }
  void clear() {
    input_edges = -1;
    src.clear();
    dst.clear();
    weights.clear();
    types.clear();
  }
};

class EdgeSource {
 public:
  virtual ~EdgeSource() = default;
  // Restart from the first edge.
  virtual void rewind() = 0;
  // Replace `batch` with the next edges; false once the stream is exhausted.
  virtual bool next(EdgeBatch& batch) = 0;
  virtual bool has_weights() const { return false; }
  virtual bool has_types() const { return false; }
  // Hint: the consumer needs only edges whose source is in [lo, hi), so the
  // source may leave the others out; lo = -1 lifts the restriction.
  virtual void restrict_sources(int64_t lo, int64_t hi) { (void)lo, (void)hi; }
  // Hint: the consumer ignores destinations, so the source may return 0 for them.
  virtual void skip_destinations(bool skip) { (void)skip; }
  // Number of input edges if known without a pass, else -1.
  virtual int64_t num_edges_hint() const { return -1; }
  // Node count fixed by the source (R-MAT), else -1.
  virtual int64_t num_nodes_hint() const { return -1; }
  virtual std::string describe() const = 0;
};

// Edge arrays already in memory. `src`/`dst` are int32 or int64; `weights`
// (float32) and `types` (int64) may be null. The caller keeps them alive.
std::unique_ptr<EdgeSource> make_array_source(const void* src, const void* dst, DType id_dtype, int64_t count,
                                              const float* weights, const int64_t* types);

// Raw little-endian (src, dst) pairs of `id_bytes` = 4 or 8 bytes each.
std::unique_ptr<EdgeSource> make_binary_source(const std::string& path, int id_bytes);

// A NumPy .npy file of int32/int64, shape (m, 2) or (2, m), C or Fortran order.
std::unique_ptr<EdgeSource> make_npy_source(const std::string& path);

// A text edge list: one edge per line, "src dst [weight] [type]", fields
// separated by spaces, tabs or one comma; '#' and '%' start comment lines.
std::unique_ptr<EdgeSource> make_text_source(const std::string& path, bool with_weights, bool with_types);

// One parsed text line.
struct ParsedLine {
  bool is_edge = false;  // false for blank and comment lines
  int64_t src = 0;
  int64_t dst = 0;
  float weight = 1.0f;
  int64_t type = 0;
};

// Parse one line (without its newline). Throws InputError whose message
// starts with `where` (such as "edges.txt:12") and quotes the line.
ParsedLine parse_edge_line(const char* begin, const char* end, bool with_weights, bool with_types,
                           const std::string& where);

}  // namespace atlas
