#include "rmat.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "rng.h"

namespace atlas {

template <int N>
void AliasTable<N>::build(const double* prob) {
  // Vose's alias method on N * p, with thresholds rounded down to 1/65536.
  double scaled[N];
  int small[N], large[N];
  int num_small = 0, num_large = 0;
  double total = 0;
  for (int i = 0; i < N; ++i) total += prob[i];
  for (int i = 0; i < N; ++i) {
    scaled[i] = total > 0 ? prob[i] * N / total : 1.0;
    keep[i] = 65535;
    other[i] = static_cast<uint8_t>(i);
    if (scaled[i] < 1.0) small[num_small++] = i;
    else large[num_large++] = i;
  }
  while (num_small > 0 && num_large > 0) {
    const int s = small[--num_small];
    const int l = large[--num_large];
    keep[s] = static_cast<uint16_t>(std::min(65535.0, std::floor(scaled[s] * 65536.0)));
    other[s] = static_cast<uint8_t>(l);
    scaled[l] -= 1.0 - scaled[s];
    if (scaled[l] < 1.0) small[num_small++] = l;
    else large[num_large++] = l;
  }
}

namespace {

uint32_t to_threshold(double p) { return static_cast<uint32_t>(std::lround(std::clamp(p, 0.0, 1.0) * 65536.0)); }

// Counter slots per edge: row words at 0..3, column words at 4..9.
constexpr uint64_t kSlotsPerEdge = 16;
constexpr uint64_t kColumnSlot = 4;

}  // namespace

RmatGenerator::RmatGenerator(const RmatParams& p) : params_(p) {
  if (p.scale < 1 || p.scale > 40) throw std::invalid_argument("R-MAT scale must be in 1..40, got " + std::to_string(p.scale));
  if (p.edge_factor < 1 || p.edge_factor > (int64_t{1} << 20)) {
    throw std::invalid_argument("R-MAT edge factor must be in 1..2^20, got " + std::to_string(p.edge_factor));
  }
  const double d = 1.0 - p.a - p.b - p.c;
  if (p.a < 0 || p.b < 0 || p.c < 0 || d < -1e-9) {
    throw std::invalid_argument("R-MAT probabilities a, b, c must be >= 0 with a + b + c <= 1");
  }
  key_ = stream_key(p.seed, 0x524D4154 /* "RMAT" */);
  const double row_one = p.c + std::max(0.0, d);
  const double column_one[2] = {p.a + p.b > 0 ? p.b / (p.a + p.b) : 0.0,
                                row_one > 0 ? std::max(0.0, d) / row_one : 0.0};
  double prob[256];
  for (int i = 0; i < 256; ++i) {
    prob[i] = 1.0;
    for (int bit = 0; bit < 8; ++bit) prob[i] *= ((i >> bit) & 1) ? row_one : 1.0 - row_one;
  }
  row_table_.build(prob);
  for (int rows = 0; rows < 16; ++rows) {
    double cprob[16];
    for (int cols = 0; cols < 16; ++cols) {
      cprob[cols] = 1.0;
      for (int bit = 0; bit < 4; ++bit) {
        const double q = column_one[(rows >> bit) & 1];
        cprob[cols] *= ((cols >> bit) & 1) ? q : 1.0 - q;
      }
    }
    column_tables_[rows].build(cprob);
  }
  row_one_ = to_threshold(row_one);
  column_one_[0] = to_threshold(column_one[0]);
  column_one_[1] = to_threshold(column_one[1]);
  mask_ = (uint64_t{1} << p.scale) - 1;
  const uint64_t perm_key = stream_key(p.seed, 0x5045524D /* "PERM" */);
  for (int r = 0; r < 3; ++r) {
    perm_mul_[r] = draw64(perm_key, 2 * r) | 1;  // odd, so multiplication is invertible mod 2^scale
    perm_add_[r] = draw64(perm_key, 2 * r + 1);
  }
}

uint64_t RmatGenerator::permute(uint64_t x) const {
  if (!params_.permute) return x;
  // Each step is a bijection on scale-bit integers: odd multiply, add and
  // xor-shift (the high bits fold into the low bits, which is invertible).
  const int shift = std::max(1, params_.scale / 2);
  for (int r = 0; r < 3; ++r) {
    x = (x * perm_mul_[r] + perm_add_[r]) & mask_;
    x ^= x >> shift;
  }
  return x;
}

uint64_t RmatGenerator::row_bits(uint64_t edge) const {
  const int scale = params_.scale;
  uint64_t counter = edge * kSlotsPerEdge;
  uint64_t rows = 0;
  int level = 0;
  // Eight levels per lookup (8 bits of index, 16 of coin), two lookups per 64-bit word.
  while (level + 8 <= scale) {
    uint64_t bits = draw64(key_, counter++);
    for (int half = 0; half < 2 && level + 8 <= scale; ++half, level += 8) {
      rows = (rows << 8) | row_table_.pick(static_cast<uint32_t>(bits & 0xFF), static_cast<uint32_t>((bits >> 8) & 0xFFFF));
      bits >>= 24;
    }
  }
  uint64_t bits = draw64(key_, edge * kSlotsPerEdge + 3);
  for (; level < scale; ++level) {
    rows = (rows << 1) | ((bits & 0xFFFF) < row_one_);
    bits >>= 16;
  }
  return rows;
}

uint64_t RmatGenerator::column_bits(uint64_t edge, uint64_t rows) const {
  const int scale = params_.scale;
  uint64_t counter = edge * kSlotsPerEdge + kColumnSlot;
  uint64_t cols = 0;
  int level = 0;
  // Four levels per lookup (4 bits of index, 16 of coin), three lookups per word.
  while (level + 4 <= scale) {
    uint64_t bits = draw64(key_, counter++);
    for (int third = 0; third < 3 && level + 4 <= scale; ++third, level += 4) {
      const uint64_t row_group = (rows >> (scale - level - 4)) & 15;
      cols = (cols << 4) | column_tables_[row_group].pick(static_cast<uint32_t>(bits & 15),
                                                           static_cast<uint32_t>((bits >> 4) & 0xFFFF));
      bits >>= 20;
    }
  }
  uint64_t bits = draw64(key_, edge * kSlotsPerEdge + kSlotsPerEdge - 1);
  for (; level < scale; ++level) {
    const uint64_t row = (rows >> (scale - level - 1)) & 1;
    cols = (cols << 1) | ((bits & 0xFFFF) < column_one_[row]);
    bits >>= 16;
  }
  return cols;
}

void RmatGenerator::generate(int64_t first, int64_t count, int64_t* src, int64_t* dst) const {
  for (int64_t i = 0; i < count; ++i) {
    const uint64_t edge = static_cast<uint64_t>(first + i);
    const uint64_t rows = row_bits(edge);
    src[i] = static_cast<int64_t>(permute(rows));
    dst[i] = static_cast<int64_t>(permute(column_bits(edge, rows)));
  }
}

int64_t RmatGenerator::generate_sources_in(int64_t first, int64_t count, int64_t lo, int64_t hi, int64_t* src,
                                           int64_t* dst) const {
  int64_t written = 0;
  for (int64_t i = 0; i < count; ++i) {
    const uint64_t edge = static_cast<uint64_t>(first + i);
    const uint64_t rows = row_bits(edge);
    const int64_t u = static_cast<int64_t>(permute(rows));
    if (u < lo || u >= hi) continue;
    src[written] = u;
    dst[written] = static_cast<int64_t>(permute(column_bits(edge, rows)));
    ++written;
  }
  return written;
}

void RmatGenerator::generate_sources(int64_t first, int64_t count, int64_t* src) const {
  for (int64_t i = 0; i < count; ++i) src[i] = static_cast<int64_t>(permute(row_bits(static_cast<uint64_t>(first + i))));
}

namespace {

class RmatSource final : public EdgeSource {
 public:
  RmatSource(const RmatParams& params, int num_threads)
      : gen_(params), num_threads_(std::max(1, num_threads)), desc_("R-MAT scale " + std::to_string(params.scale) +
                                                                     " edge factor " + std::to_string(params.edge_factor) +
                                                                     " seed " + std::to_string(params.seed)) {}

  void rewind() override { pos_ = 0; }
  void restrict_sources(int64_t lo, int64_t hi) override {
    lo_ = lo;
    hi_ = hi;
  }
  void skip_destinations(bool skip) override { skip_destinations_ = skip; }

  bool next(EdgeBatch& batch) override {
    batch.clear();
    const int64_t total = gen_.num_edges();
    if (pos_ >= total) return false;
    const int64_t n = std::min<int64_t>(total - pos_, kBatch);
    batch.src.resize(n);
    batch.dst.resize(n);
    // Threads fill contiguous slices; with a source range each slice is compacted, then slices are joined in order.
    const int64_t per = (n + num_threads_ - 1) / num_threads_;
    std::vector<int64_t> kept(static_cast<size_t>(num_threads_), 0);
    auto work = [&](int t) {
      const int64_t b = std::min(n, t * per), e = std::min(n, (t + 1) * per);
      if (b >= e) return;
      if (lo_ >= 0) {
        kept[t] = gen_.generate_sources_in(pos_ + b, e - b, lo_, hi_, &batch.src[b], &batch.dst[b]);
      } else if (skip_destinations_) {
        gen_.generate_sources(pos_ + b, e - b, &batch.src[b]);
        std::fill(batch.dst.begin() + b, batch.dst.begin() + e, 0);
        kept[t] = e - b;
      } else {
        gen_.generate(pos_ + b, e - b, &batch.src[b], &batch.dst[b]);
        kept[t] = e - b;
      }
    };
    std::vector<std::thread> workers;
    for (int t = 1; t < num_threads_; ++t) workers.emplace_back(work, t);
    work(0);
    for (auto& w : workers) w.join();
    int64_t out = kept[0];
    for (int t = 1; t < num_threads_; ++t) {
      const int64_t b = std::min(n, t * per);
      std::copy_n(batch.src.begin() + b, kept[t], batch.src.begin() + out);
      std::copy_n(batch.dst.begin() + b, kept[t], batch.dst.begin() + out);
      out += kept[t];
    }
    batch.src.resize(out);
    batch.dst.resize(out);
    batch.input_edges = n;
    pos_ += n;
    return true;
  }
  int64_t num_edges_hint() const override { return gen_.num_edges(); }
  int64_t num_nodes_hint() const override { return gen_.num_nodes(); }
  std::string describe() const override { return desc_; }

 private:
  static constexpr int64_t kBatch = int64_t{1} << 22;
  RmatGenerator gen_;
  int num_threads_;
  std::string desc_;
  int64_t pos_ = 0;
  int64_t lo_ = -1, hi_ = -1;
  bool skip_destinations_ = false;
};

}  // namespace

std::unique_ptr<EdgeSource> make_rmat_source(const RmatParams& params, int num_threads) {
  return std::make_unique<RmatSource>(params, num_threads);
}

}  // namespace atlas
