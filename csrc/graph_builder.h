// Out-of-core CSR builder. Memory stays near `memory_bytes` whatever the
// edge count. A counting pass sizes every node and a prefix sum places it.
// Then each bucket of consecutive nodes whose edges fit the budget is filled
// by one more pass over the (rewindable) input, sorted, deduplicated and
// appended to the output. Output goes to a temporary file renamed at the end.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "edge_source.h"

namespace atlas {

enum class RemapMode { kAuto, kAlways, kNever };

struct BuildProgress {
  std::string phase;    // "scan", "remap", "count", "fill", "finish"
  int pass = 0;         // 1-based pass number within the phase
  int num_passes = 0;
  int64_t edges_done = 0;   // input edges read in this pass
  int64_t edges_total = -1; // input edges per pass, -1 when not yet known
  double seconds = 0;       // since the build started
};

struct BuildOptions {
  int64_t num_nodes = -1;   // -1: 1 + the largest id, or the id_map size when remapping
  bool symmetrize = false;  // store every edge in both directions
  bool drop_self_loops = false;
  bool dedup = false;       // keep the first of repeated (neighbour, type) pairs per node; implies sort
  bool sort = true;         // sort neighbours by id (then type) within each node
  RemapMode remap = RemapMode::kAuto;
  uint64_t memory_bytes = uint64_t{2} << 30;  // budget for the degree table and bucket buffers
  std::string temp_dir;     // for temporary files; empty: next to the output
  // Called from the building thread about once a second and at the end of each pass.
  std::function<void(const BuildProgress&)> progress;
};

struct BuildStats {
  int64_t num_nodes = 0;
  int64_t num_edges = 0;      // stored edges
  int64_t input_edges = 0;    // edges read from the source per pass
  int64_t self_loops_dropped = 0;
  int64_t duplicates_dropped = 0;
  int num_buckets = 0;
  int num_passes = 0;         // full passes over the input
  bool remapped = false;
  double seconds = 0;
  std::vector<std::string> warnings;
};

BuildStats build_graph(EdgeSource& source, const std::string& out_path, const BuildOptions& options);

}  // namespace atlas
