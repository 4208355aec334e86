// Python bindings for the atlas_jax C++ core. Keep this layer thin: argument
// conversion, GIL release and error translation only.
#include <pybind11/pybind11.h>

#include <string>

#include "checksum.h"

namespace py = pybind11;

namespace {

py::dict build_info() {
  py::dict info;
  info["version"] = ATLAS_VERSION;
  info["build_type"] = ATLAS_BUILD_TYPE;
#if defined(__clang__)
  info["compiler"] = std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  info["compiler"] = std::string("gcc ") + __VERSION__;
#else
  info["compiler"] = "unknown";
#endif
  info["cplusplus"] = static_cast<long>(__cplusplus);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  info["byte_order"] = "little";
#else
  info["byte_order"] = "big";
#endif
  info["pointer_bits"] = static_cast<int>(sizeof(void*) * 8);
  return info;
}

uint32_t py_crc32(py::buffer data, uint32_t value) {
  py::buffer_info buf = data.request();
  // Hash the bytes as laid out in memory, which only means the array's data when it is C-contiguous.
  py::ssize_t expected_stride = buf.itemsize;
  for (py::ssize_t axis = buf.ndim - 1; axis >= 0; --axis) {
    if (buf.shape[axis] > 1 && buf.strides[axis] != expected_stride) {
      throw py::value_error("crc32 needs a C-contiguous buffer; pass numpy.ascontiguousarray(data)");
    }
    expected_stride *= buf.shape[axis];
  }
  const size_t size = static_cast<size_t>(buf.size) * static_cast<size_t>(buf.itemsize);
  py::gil_scoped_release release;
  return atlas::crc32(buf.ptr, size, value);
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "atlas_jax C++ core: build information and checksums.";
  m.def("build_info", &build_info,
        R"doc(Return a dict describing how this extension was compiled
(version, build type, compiler, C++ standard, byte order, pointer width).)doc");
  m.def("crc32", &py_crc32, py::arg("data"), py::arg("value") = 0,
        R"doc(CRC-32 of a bytes-like object, identical to ``zlib.crc32(data, value)``.

Releases the GIL while hashing, so large buffers can be checked from threads.)doc");
}
