// Graph500 R-MAT edge generator (Chakrabarti, Zhan and Faloutsos, SDM 2004;
// parameters from the Graph500 specification: A = 0.57, B = C = 0.19, D = 0.05).
// Edge i is a pure function of (seed, i), so any range of edges can be
// regenerated on any thread in any order.
#pragma once

#include <cstdint>
#include <memory>

#include "edge_source.h"

namespace atlas {

struct RmatParams {
  int scale = 16;            // 2^scale nodes
  int64_t edge_factor = 16;  // edge_factor * 2^scale edges
  double a = 0.57;
  double b = 0.19;
  double c = 0.19;           // d = 1 - a - b - c
  uint64_t seed = 0;
  bool permute = true;       // relabel nodes by a seeded bijection so degree does not follow the id
};

class RmatGenerator {
 public:
  explicit RmatGenerator(const RmatParams& params);
  int64_t num_nodes() const { return int64_t{1} << params_.scale; }
  int64_t num_edges() const { return params_.edge_factor << params_.scale; }
  // Write edges [first, first + count) to src/dst.
  void generate(int64_t first, int64_t count, int64_t* src, int64_t* dst) const;
  // The seeded node relabelling, a bijection on [0, 2^scale).
  uint64_t permute(uint64_t x) const;

 private:
  RmatParams params_;
  uint64_t key_;
  uint32_t threshold_a_, threshold_ab_, threshold_abc_;  // cumulative quadrant probabilities in 1/65536
  uint64_t mask_;
  uint64_t perm_mul_[3], perm_add_[3];
};

// An EdgeSource over the generator that fills each batch with `num_threads` threads.
std::unique_ptr<EdgeSource> make_rmat_source(const RmatParams& params, int num_threads);

}  // namespace atlas
