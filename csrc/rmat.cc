#include "rmat.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "rng.h"

namespace atlas {

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
  auto scaled = [](double x) { return static_cast<uint32_t>(std::lround(std::min(1.0, x) * 65536.0)); };
  threshold_a_ = scaled(p.a);
  threshold_ab_ = scaled(p.a + p.b);
  threshold_abc_ = scaled(p.a + p.b + p.c);
  mask_ = (p.scale == 64) ? ~uint64_t{0} : ((uint64_t{1} << p.scale) - 1);
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

void RmatGenerator::generate(int64_t first, int64_t count, int64_t* src, int64_t* dst) const {
  const int scale = params_.scale;
  for (int64_t i = 0; i < count; ++i) {
    const uint64_t edge = static_cast<uint64_t>(first + i);
    uint64_t u = 0, v = 0;
    uint64_t bits = 0;
    for (int level = 0; level < scale; ++level) {
      // Four 16-bit quadrant draws per 64-bit random word.
      if ((level & 3) == 0) bits = draw64(key_, edge * 16 + static_cast<uint64_t>(level >> 2));
      const uint32_t r = static_cast<uint32_t>(bits & 0xFFFF);
      bits >>= 16;
      const uint64_t row = r >= threshold_ab_;
      const uint64_t col = (r >= threshold_a_ && r < threshold_ab_) || r >= threshold_abc_;
      u = (u << 1) | row;
      v = (v << 1) | col;
    }
    src[i] = static_cast<int64_t>(permute(u));
    dst[i] = static_cast<int64_t>(permute(v));
  }
}

namespace {

class RmatSource final : public EdgeSource {
 public:
  RmatSource(const RmatParams& params, int num_threads)
      : gen_(params), num_threads_(std::max(1, num_threads)), desc_("R-MAT scale " + std::to_string(params.scale) +
                                                                     " edge factor " + std::to_string(params.edge_factor) +
                                                                     " seed " + std::to_string(params.seed)) {}

  void rewind() override { pos_ = 0; }
  bool next(EdgeBatch& batch) override {
    batch.clear();
    const int64_t total = gen_.num_edges();
    if (pos_ >= total) return false;
    const int64_t n = std::min<int64_t>(total - pos_, kBatch);
    batch.src.resize(n);
    batch.dst.resize(n);
    const int64_t per = (n + num_threads_ - 1) / num_threads_;
    std::vector<std::thread> workers;
    for (int t = 1; t < num_threads_; ++t) {
      const int64_t b = std::min(n, t * per), e = std::min(n, (t + 1) * per);
      if (b < e) workers.emplace_back([&, b, e] { gen_.generate(pos_ + b, e - b, &batch.src[b], &batch.dst[b]); });
    }
    gen_.generate(pos_, std::min(n, per), batch.src.data(), batch.dst.data());
    for (auto& w : workers) w.join();
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
};

}  // namespace

std::unique_ptr<EdgeSource> make_rmat_source(const RmatParams& params, int num_threads) {
  return std::make_unique<RmatSource>(params, num_threads);
}

}  // namespace atlas
