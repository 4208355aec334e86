// Graph500 R-MAT edge generator (Chakrabarti, Zhan and Faloutsos, SDM 2004;
// parameters from the Graph500 specification: A = 0.57, B = C = 0.19, D = 0.05).
// Edge i is a pure function of (seed, i), so any range of edges can be
// regenerated on any thread in any order.
//
// Each level picks quadrant (row bit, column bit) with probabilities A, B, C,
// D. The generator draws all row bits first from their marginal (P(row = 1) =
// C + D), then the column bits from their conditional given the row bit
// (B / (A + B) or D / (C + D)). The joint law is the same, and a consumer that
// only needs the edges of some source nodes can skip the column bits of the rest.
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

// Walker's alias table over N outcomes with 16-bit acceptance thresholds.
template <int N>
struct AliasTable {
  uint16_t keep[N];
  uint8_t other[N];
  void build(const double* prob);
  uint32_t pick(uint32_t index, uint32_t coin) const { return coin < keep[index] ? index : other[index]; }
};

class RmatGenerator {
 public:
  explicit RmatGenerator(const RmatParams& params);
  int64_t num_nodes() const { return int64_t{1} << params_.scale; }
  int64_t num_edges() const { return params_.edge_factor << params_.scale; }
  // Write edges [first, first + count) to src/dst.
  void generate(int64_t first, int64_t count, int64_t* src, int64_t* dst) const;
  // Write only the edges of [first, first + count) whose source is in
  // [lo, hi), in order; returns how many were written.
  int64_t generate_sources_in(int64_t first, int64_t count, int64_t lo, int64_t hi, int64_t* src, int64_t* dst) const;
  // Write the sources of edges [first, first + count), skipping the destinations.
  void generate_sources(int64_t first, int64_t count, int64_t* src) const;
  // The seeded node relabelling, a bijection on [0, 2^scale).
  uint64_t permute(uint64_t x) const;

 private:
  uint64_t row_bits(uint64_t edge) const;
  uint64_t column_bits(uint64_t edge, uint64_t rows) const;

  RmatParams params_;
  uint64_t key_;
  AliasTable<256> row_table_;         // eight row bits per draw, first level in the high bit
  AliasTable<16> column_tables_[16];  // four column bits given the four row bits
  uint32_t row_one_;                  // P(row = 1) in 1/65536, for levels left over
  uint32_t column_one_[2];            // P(column = 1 | row) in 1/65536, for levels left over
  uint64_t mask_;
  uint64_t perm_mul_[3], perm_add_[3];
};

// An EdgeSource over the generator that fills each batch with `num_threads` threads.
std::unique_ptr<EdgeSource> make_rmat_source(const RmatParams& params, int num_threads);

}  // namespace atlas
