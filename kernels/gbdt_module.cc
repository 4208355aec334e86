// Python module of the GBDT kernels: hands each XLA FFI handler to JAX as a
// PyCapsule (jax.ffi.register_ffi_target). No computation happens here.
#include <pybind11/pybind11.h>

#include "xla/ffi/api/c_api.h"

extern "C" {
XLA_FFI_Error* AtlasGbdtHistogram(XLA_FFI_CallFrame* call_frame);
XLA_FFI_Error* AtlasGbdtSplit(XLA_FFI_CallFrame* call_frame);
XLA_FFI_Error* AtlasGbdtPredict(XLA_FFI_CallFrame* call_frame);
}

PYBIND11_MODULE(_gbdt_kernels, m) {
  m.doc() = "XLA FFI handlers of the GBDT CPU kernels.";
  m.def(
      "histogram_handler",
      []() { return pybind11::capsule(reinterpret_cast<void*>(AtlasGbdtHistogram)); },
      R"doc(PyCapsule of the histogram FFI handler (gbdt_histogram.cc).)doc");
  m.def(
      "split_handler",
      []() { return pybind11::capsule(reinterpret_cast<void*>(AtlasGbdtSplit)); },
      R"doc(PyCapsule of the best-split FFI handler (gbdt_split.cc).)doc");
  m.def(
      "predict_handler",
      []() { return pybind11::capsule(reinterpret_cast<void*>(AtlasGbdtPredict)); },
      R"doc(PyCapsule of the ensemble prediction FFI handler (gbdt_predict.cc).)doc");
}
