// Pieces of the out-of-core graph builder: progress reporting and the table that
// maps input ids to dense node ids.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "edge_source.h"
#include "file_writer.h"
#include "graph_builder.h"
#include "graph_errors.h"
#include "mapped_file.h"

namespace atlas {

// Throttle of the build's progress callback: at most twice a second, and always when forced.
class Reporter {
 public:
  explicit Reporter(const BuildOptions& options) : options_(options), start_(std::chrono::steady_clock::now()) {}
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  void report(const char* phase, int pass, int num_passes, int64_t done, int64_t total, bool force) {
    if (!options_.progress) return;
    const double now = seconds();
    if (!force && now - last_ < 0.5) return;
    last_ = now;
    BuildProgress p;
    p.phase = phase;
    p.pass = pass;
    p.num_passes = num_passes;
    p.edges_done = done;
    p.edges_total = total;
    p.seconds = now;
    options_.progress(p);
  }

 private:
  const BuildOptions& options_;
  std::chrono::steady_clock::time_point start_;
  double last_ = -1.0;
};

// Sorted distinct input ids, spilled to disk in sorted runs and merged, then mapped.
class IdTable {
 public:
  // Reads every edge of `source` once. Keeps at most max(2^20, budget / 16) ids in
  // memory and spills sorted runs to files named after `prefix`.
  void build(EdgeSource& source, const std::string& prefix, uint64_t budget, Reporter& reporter, int pass,
             int num_passes, int64_t total);
  int64_t size() const { return size_; }
  // Returns the dense id of input id `id`, or raises InputError for an id the table
  // lacks. It is inline because the fill passes call it for every edge.
  int64_t lookup(int64_t id) const {
    const int64_t* it = std::lower_bound(ids_, ids_ + size_, id);
    if (it == ids_ + size_ || *it != id) throw InputError("input id " + std::to_string(id) + " appeared in a later pass "
                                                          "but not in the first; the input changed during the build");
    return it - ids_;
  }
  FileWriter& file() { return *table_file_; }

 private:
  std::unique_ptr<FileWriter> table_file_;
  std::unique_ptr<MappedFile> map_;
  const int64_t* ids_ = nullptr;
  int64_t size_ = 0;
};

}  // namespace atlas
