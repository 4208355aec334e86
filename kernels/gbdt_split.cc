// Best split of each node from its histogram, as an XLA FFI handler for the CPU.
// The Python face and its pure-JAX reference are in kernels/gbdt_split.py.
//
// Inputs:  hist float32[nodes, features, bins, 2] (gradient, hessian sums; bin 0
//          contains missing values), feature_mask bool[features],
//          value_bins int32[features] (splits at t >= value_bins[f] are invalid).
// Attrs:   reg_lambda, min_child_weight.
// Outputs: sums float32[nodes, 5] = (gain, left_grad, left_hess, right_grad, right_hess),
//          choice int32[nodes, 3] = (feature, bin t, default_left).
// A split at t sends value bins 1..t left; missing values go left or right,
// whichever gains more. Gain = GL^2/(HL+lambda) + GR^2/(HR+lambda) - G^2/(H+lambda),
// computed in float64; gain is -inf where no split is valid. Ties go to the
// lowest feature, then the lowest t, then missing values going left.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

ffi::Error SplitImpl(ffi::Buffer<ffi::F32> hist, ffi::Buffer<ffi::PRED> feature_mask,
                     ffi::Buffer<ffi::S32> value_bins, ffi::ResultBuffer<ffi::F32> sums,
                     ffi::ResultBuffer<ffi::S32> choice, float reg_lambda, float min_child_weight) {
  const auto dims = hist.dimensions();
  if (dims.size() != 4 || dims[3] != 2) {
    return ffi::Error::InvalidArgument("gbdt_split expects a histogram of shape [nodes, features, bins, 2]");
  }
  const int64_t nodes = dims[0];
  const int64_t features = dims[1];
  const int64_t bins = dims[2];
  if (static_cast<int64_t>(feature_mask.element_count()) != features ||
      static_cast<int64_t>(value_bins.element_count()) != features) {
    return ffi::Error::InvalidArgument("gbdt_split: feature_mask and value_bins need " +
                                       std::to_string(features) + " elements, one per feature");
  }
  const float* h = hist.typed_data();
  const bool* mask = feature_mask.typed_data();
  const int32_t* limit = value_bins.typed_data();
  float* out_sums = sums->typed_data();
  int32_t* out_choice = choice->typed_data();
  const double lambda = reg_lambda;
  const double min_weight = min_child_weight;

  for (int64_t n = 0; n < nodes; ++n) {
    double best_gain = -std::numeric_limits<double>::infinity();
    double best[4] = {0, 0, 0, 0};
    int32_t best_feature = 0, best_bin = 1, best_left = 1;
    for (int64_t f = 0; f < features; ++f) {
      if (!mask[f]) continue;
      const float* cell = h + (n * features + f) * bins * 2;
      const double missing_grad = cell[0];
      const double missing_hess = cell[1];
      double total_grad = missing_grad, total_hess = missing_hess;
      for (int64_t b = 1; b < bins; ++b) {
        total_grad += cell[2 * b];
        total_hess += cell[2 * b + 1];
      }
      const double parent = total_grad * total_grad / (total_hess + lambda);
      double grad = 0.0, hess = 0.0;
      const int64_t last = std::min<int64_t>(bins - 1, limit[f] - 1);
      for (int64_t t = 1; t <= last; ++t) {
        grad += cell[2 * t];
        hess += cell[2 * t + 1];
        for (int side = 0; side < 2; ++side) {  // 0: missing values left, 1: right
          const double lg = side == 0 ? grad + missing_grad : grad;
          const double lh = side == 0 ? hess + missing_hess : hess;
          const double rg = total_grad - lg;
          const double rh = total_hess - lh;
          if (lh < min_weight || rh < min_weight || lh <= 0 || rh <= 0) continue;
          const double gain = lg * lg / (lh + lambda) + rg * rg / (rh + lambda) - parent;
          if (gain > best_gain) {
            best_gain = gain;
            best[0] = lg, best[1] = lh, best[2] = rg, best[3] = rh;
            best_feature = static_cast<int32_t>(f);
            best_bin = static_cast<int32_t>(t);
            best_left = side == 0;
          }
        }
      }
    }
    float* s = out_sums + n * 5;
    s[0] = static_cast<float>(best_gain);
    for (int k = 0; k < 4; ++k) s[k + 1] = static_cast<float>(best[k]);
    int32_t* c = out_choice + n * 3;
    c[0] = best_feature, c[1] = best_bin, c[2] = best_left;
  }
  return ffi::Error::Success();
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(AtlasGbdtSplit, SplitImpl,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()   // hist
                                  .Arg<ffi::Buffer<ffi::PRED>>()  // feature_mask
                                  .Arg<ffi::Buffer<ffi::S32>>()   // value_bins
                                  .Ret<ffi::Buffer<ffi::F32>>()   // sums
                                  .Ret<ffi::Buffer<ffi::S32>>()   // choice
                                  .Attr<float>("reg_lambda")
                                  .Attr<float>("min_child_weight"));
