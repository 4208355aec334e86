// Tree-ensemble prediction (sum of leaf values per output), as an XLA FFI
// handler for the CPU. The Python face and its pure-JAX reference are in
// kernels/gbdt_predict.py.
//
// Inputs:  x float32[rows, features] (NaN = missing), and node arrays of shape
//          [trees, nodes]: feature int32, threshold float32, default_left bool,
//          left int32, right int32, is_leaf bool, value float32.
// Output:  margin float32[rows, outputs]; tree t adds to output t % outputs.
// A row goes left when x <= threshold, or when x is NaN and default_left.
// Each walk stops after `nodes` steps, so a malformed tree with a cycle cannot
// hang the call. Rows are split into contiguous blocks, one per thread.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

constexpr int64_t kMinRowsPerThread = 4096;

struct Ensemble {
  int64_t trees, nodes, features, outputs;
  const int32_t* feature;
  const float* threshold;
  const bool* default_left;
  const int32_t* left;
  const int32_t* right;
  const bool* is_leaf;
  const float* value;
};

// Walks rows [begin, end); returns false when a node index is out of range.
bool PredictRows(const Ensemble& e, const float* x, int64_t begin, int64_t end, float* margin) {
  for (int64_t r = begin; r < end; ++r) {
    const float* row = x + r * e.features;
    float* out = margin + r * e.outputs;
    std::fill(out, out + e.outputs, 0.0f);
    for (int64_t t = 0; t < e.trees; ++t) {
      const int64_t base = t * e.nodes;
      int64_t node = 0;
      for (int64_t step = 0; step < e.nodes && !e.is_leaf[base + node]; ++step) {
        const int32_t f = e.feature[base + node];
        if (f < 0 || f >= e.features) return false;
        const float v = row[f];
        const bool go_left = std::isnan(v) ? e.default_left[base + node] : v <= e.threshold[base + node];
        node = go_left ? e.left[base + node] : e.right[base + node];
        if (node < 0 || node >= e.nodes) return false;
      }
      out[t % e.outputs] += e.value[base + node];
    }
  }
  return true;
}

ffi::Error PredictImpl(ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::S32> feature,
                       ffi::Buffer<ffi::F32> threshold, ffi::Buffer<ffi::PRED> default_left,
                       ffi::Buffer<ffi::S32> left, ffi::Buffer<ffi::S32> right,
                       ffi::Buffer<ffi::PRED> is_leaf, ffi::Buffer<ffi::F32> value,
                       ffi::ResultBuffer<ffi::F32> margin, int64_t num_threads) {
  const auto x_dims = x.dimensions();
  const auto tree_dims = feature.dimensions();
  const auto out_dims = margin->dimensions();
  if (x_dims.size() != 2 || tree_dims.size() != 2 || out_dims.size() != 2 || out_dims[0] != x_dims[0]) {
    return ffi::Error::InvalidArgument(
        "gbdt_predict expects x [rows, features], node arrays [trees, nodes], output [rows, outputs]");
  }
  Ensemble e{tree_dims[0], tree_dims[1], x_dims[1], out_dims[1],
             feature.typed_data(), threshold.typed_data(), default_left.typed_data(),
             left.typed_data(), right.typed_data(), is_leaf.typed_data(), value.typed_data()};
  const int64_t node_count = e.trees * e.nodes;
  for (int64_t count : {static_cast<int64_t>(threshold.element_count()),
                        static_cast<int64_t>(default_left.element_count()),
                        static_cast<int64_t>(left.element_count()),
                        static_cast<int64_t>(right.element_count()),
                        static_cast<int64_t>(is_leaf.element_count()),
                        static_cast<int64_t>(value.element_count())}) {
    if (count != node_count) {
      return ffi::Error::InvalidArgument("gbdt_predict: every node array needs " +
                                         std::to_string(node_count) + " elements");
    }
  }
  if (e.outputs < 1 || e.nodes < 1) {
    return ffi::Error::InvalidArgument("gbdt_predict needs at least one output and one node per tree");
  }

  const int64_t rows = x_dims[0];
  const int64_t hardware = std::max<unsigned>(1, std::thread::hardware_concurrency());
  const int64_t threads = num_threads > 0 ? num_threads
                                          : std::max<int64_t>(1, std::min(hardware, rows / kMinRowsPerThread));
  const int64_t block = (rows + threads - 1) / threads;
  std::vector<char> ok(threads, 1);
  auto work = [&](int64_t t) {
    const int64_t begin = std::min(rows, t * block);
    ok[t] = PredictRows(e, x.typed_data(), begin, std::min(rows, begin + block), margin->typed_data());
  };
  std::vector<std::thread> pool;
  try {
    for (int64_t t = 1; t < threads; ++t) pool.emplace_back(work, t);
  } catch (const std::system_error& error) {
    for (auto& thread : pool) thread.join();
    return ffi::Error::Internal(std::string("gbdt_predict could not start a thread: ") + error.what());
  }
  work(0);
  for (auto& thread : pool) thread.join();
  if (std::find(ok.begin(), ok.end(), 0) != ok.end()) {
    return ffi::Error::InvalidArgument(
        "gbdt_predict: a tree has a split feature or child index out of range; the model is malformed");
  }
  return ffi::Error::Success();
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(AtlasGbdtPredict, PredictImpl,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()   // x
                                  .Arg<ffi::Buffer<ffi::S32>>()   // feature
                                  .Arg<ffi::Buffer<ffi::F32>>()   // threshold
                                  .Arg<ffi::Buffer<ffi::PRED>>()  // default_left
                                  .Arg<ffi::Buffer<ffi::S32>>()   // left
                                  .Arg<ffi::Buffer<ffi::S32>>()   // right
                                  .Arg<ffi::Buffer<ffi::PRED>>()  // is_leaf
                                  .Arg<ffi::Buffer<ffi::F32>>()   // value
                                  .Ret<ffi::Buffer<ffi::F32>>()   // margin
                                  .Attr<int64_t>("num_threads"));
