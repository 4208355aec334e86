// Gradient/hessian histogram of binned rows, the hot loop of histogram GBDT,
// as an XLA FFI handler for the CPU. The Python face (and the pure-JAX
// reference it is tested against) is kernels/gbdt_histogram.py.
//
// Inputs:  bins uint8[rows, features], grad float32[rows], hess float32[rows],
//          slot int32[rows]; a row with slot outside [0, slots) is skipped.
// Output:  hist float32[slots, features, num_bins, 2] where
//          hist[s, f, b] = sum over rows r with slot[r] == s and bins[r, f] == b
//          of (grad[r], hess[r]).
// Each thread accumulates a private float64 histogram over a contiguous block of
// rows, and the blocks are summed in block order, so the result does not depend
// on thread timing.
#include <algorithm>
#include <cstdint>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

// Below this many rows per thread, starting a thread costs more than it saves.
constexpr int64_t kMinRowsPerThread = 16384;

int64_t ChooseThreads(int64_t rows, int64_t requested) {
  if (requested > 0) return requested;
  const int64_t hardware = std::max<unsigned>(1, std::thread::hardware_concurrency());
  return std::max<int64_t>(1, std::min(hardware, rows / kMinRowsPerThread));
}

// Adds rows [begin, end) into `hist`; returns the first out-of-range bin code seen, or -1.
int64_t AccumulateRows(const uint8_t* bins, const float* grad, const float* hess,
                       const int32_t* slot, int64_t begin, int64_t end, int64_t features,
                       int64_t num_bins, int64_t slots, double* hist) {
  const int64_t slot_stride = features * num_bins * 2;
  for (int64_t r = begin; r < end; ++r) {
    const int32_t s = slot[r];
    if (s < 0 || s >= slots) continue;
    const double g = grad[r];
    const double h = hess[r];
    const uint8_t* row = bins + r * features;
    double* base = hist + s * slot_stride;
    for (int64_t f = 0; f < features; ++f) {
      const int64_t b = row[f];
      if (b >= num_bins) return b;
      double* cell = base + (f * num_bins + b) * 2;
      cell[0] += g;
      cell[1] += h;
    }
  }
  return -1;
}

ffi::Error HistogramImpl(ffi::Buffer<ffi::U8> bins, ffi::Buffer<ffi::F32> grad,
                         ffi::Buffer<ffi::F32> hess, ffi::Buffer<ffi::S32> slot,
                         ffi::ResultBuffer<ffi::F32> out, int64_t num_threads) {
  const auto bins_dims = bins.dimensions();
  const auto out_dims = out->dimensions();
  if (bins_dims.size() != 2 || out_dims.size() != 4 || out_dims[3] != 2) {
    return ffi::Error::InvalidArgument(
        "gbdt_histogram expects bins of rank 2 and an output of shape [slots, features, bins, 2]");
  }
  const int64_t rows = bins_dims[0];
  const int64_t features = bins_dims[1];
  const int64_t slots = out_dims[0];
  const int64_t num_bins = out_dims[2];
  if (out_dims[1] != features) {
    return ffi::Error::InvalidArgument("gbdt_histogram: output has " + std::to_string(out_dims[1]) +
                                       " features but bins has " + std::to_string(features));
  }
  if (static_cast<int64_t>(grad.element_count()) != rows ||
      static_cast<int64_t>(hess.element_count()) != rows ||
      static_cast<int64_t>(slot.element_count()) != rows) {
    return ffi::Error::InvalidArgument("gbdt_histogram: grad, hess and slot need " +
                                       std::to_string(rows) + " elements, one per row of bins");
  }

  const int64_t cells = slots * features * num_bins * 2;
  const int64_t threads = ChooseThreads(rows, num_threads);
  const int64_t block = (rows + threads - 1) / threads;
  std::vector<std::vector<double>> partial(threads, std::vector<double>(cells, 0.0));
  std::vector<int64_t> bad_bin(threads, -1);

  auto work = [&](int64_t t) {
    const int64_t begin = std::min(rows, t * block);
    const int64_t end = std::min(rows, begin + block);
    bad_bin[t] = AccumulateRows(bins.typed_data(), grad.typed_data(), hess.typed_data(),
                                slot.typed_data(), begin, end, features, num_bins, slots,
                                partial[t].data());
  };
  std::vector<std::thread> pool;
  try {
    for (int64_t t = 1; t < threads; ++t) pool.emplace_back(work, t);
  } catch (const std::system_error& error) {
    for (auto& thread : pool) thread.join();
    return ffi::Error::Internal(std::string("gbdt_histogram could not start a thread: ") +
                                error.what());
  }
  work(0);
  for (auto& thread : pool) thread.join();

  for (int64_t t = 0; t < threads; ++t) {
    if (bad_bin[t] >= 0) {
      return ffi::Error::InvalidArgument("gbdt_histogram: bin code " + std::to_string(bad_bin[t]) +
                                         " is out of range for " + std::to_string(num_bins) +
                                         " bins; pass num_bins above the largest code");
    }
  }
  float* result = out->typed_data();
  for (int64_t c = 0; c < cells; ++c) {
    double total = 0.0;
    for (int64_t t = 0; t < threads; ++t) total += partial[t][c];
    result[c] = static_cast<float>(total);
  }
  return ffi::Error::Success();
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(AtlasGbdtHistogram, HistogramImpl,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::U8>>()   // bins
                                  .Arg<ffi::Buffer<ffi::F32>>()  // grad
                                  .Arg<ffi::Buffer<ffi::F32>>()  // hess
                                  .Arg<ffi::Buffer<ffi::S32>>()  // slot
                                  .Ret<ffi::Buffer<ffi::F32>>()  // hist
                                  .Attr<int64_t>("num_threads"));
