// Python bindings for the atlas_jax C++ core. Keep this layer thin: argument
// conversion, GIL release and error translation only.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "checksum.h"
#include "edge_source.h"
#include "graph_builder.h"
#include "graph_errors.h"
#include "graph_store.h"
#include "rmat.h"
#include "sampler.h"

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

// ---------------------------------------------------------------- arrays

// Hand a vector to numpy without copying; the capsule frees it with the array.
template <typename T>
py::array_t<T> to_numpy(std::vector<T>&& values) {
  auto owned = std::make_unique<std::vector<T>>(std::move(values));
  std::vector<T>* raw = owned.get();
  py::capsule owner(raw, [](void* p) { std::unique_ptr<std::vector<T>>(static_cast<std::vector<T>*>(p)); });
  owned.release();
  return py::array_t<T>(static_cast<py::ssize_t>(raw->size()), raw->data(), owner);
}

// A read-only numpy view of mapped memory whose base object keeps the store (and so the mapping) alive.
py::array mapped_view(const py::object& owner, const py::dtype& dtype, const void* data, int64_t count) {
  py::array view(dtype, {static_cast<py::ssize_t>(count)}, {}, data, owner);
  py::detail::array_proxy(view.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
  return view;
}

py::dtype numpy_dtype(atlas::DType dtype) {
  switch (dtype) {
    case atlas::DType::kInt32: return py::dtype::of<int32_t>();
    case atlas::DType::kInt64: return py::dtype::of<int64_t>();
    case atlas::DType::kFloat32: return py::dtype::of<float>();
    case atlas::DType::kUInt8: return py::dtype::of<uint8_t>();
    case atlas::DType::kUInt16: return py::dtype::of<uint16_t>();
    default: throw std::logic_error("no numpy dtype for this section");
  }
}

using IdArray = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;

// ---------------------------------------------------------------- store

using Store = atlas::GraphStore;
using StorePtr = std::shared_ptr<Store>;

py::object section_view(const py::object& self, int id) {
  const Store& s = self.cast<const Store&>();
  const atlas::Section& sec = s.header().sections[id];
  if (sec.dtype == 0) return py::none();
  const auto dtype = static_cast<atlas::DType>(sec.dtype);
  return mapped_view(self, numpy_dtype(dtype), s.section(id),
                     static_cast<int64_t>(sec.nbytes / atlas::dtype_size(dtype)));
}

py::object edge_slice(const py::object& self, int64_t v, int id) {
  const Store& s = self.cast<const Store&>();
  const atlas::Section& sec = s.header().sections[id];
  if (sec.dtype == 0) return py::none();
  const auto [b, e] = s.edge_range(v);
  const auto dtype = static_cast<atlas::DType>(sec.dtype);
  return mapped_view(self, numpy_dtype(dtype), s.section(id) + b * static_cast<int64_t>(atlas::dtype_size(dtype)), e - b);
}

py::dict header_dict(const Store& s) {
  const atlas::FileHeader& h = s.header();
  py::dict d;
  d["path"] = s.path();
  d["format_version"] = h.version;
  d["num_nodes"] = h.num_nodes;
  d["num_edges"] = h.num_edges;
  d["file_size"] = h.file_size;
  d["alignment"] = h.alignment;
  d["flags"] = h.flags;
  d["symmetrized"] = (h.flags & atlas::kSymmetrized) != 0;
  d["sorted"] = (h.flags & atlas::kSorted) != 0;
  d["deduplicated"] = (h.flags & atlas::kDeduplicated) != 0;
  d["self_loops_dropped"] = (h.flags & atlas::kNoSelfLoops) != 0;
  d["has_weights"] = s.has_weights();
  d["has_edge_types"] = s.has_types();
  d["has_id_map"] = s.has_id_map();
  py::dict sections;
  for (int id = 0; id < atlas::kNumSections; ++id) {
    const atlas::Section& sec = h.sections[id];
    if (sec.dtype == 0) continue;
    py::dict one;
    one["offset"] = sec.offset;
    one["nbytes"] = sec.nbytes;
    one["dtype"] = atlas::dtype_name(static_cast<atlas::DType>(sec.dtype));
    one["crc32"] = sec.crc32;
    sections[atlas::section_name(id)] = one;
  }
  d["sections"] = sections;
  return d;
}

// ---------------------------------------------------------------- build

atlas::BuildOptions build_options(int64_t num_nodes, bool symmetrize, bool drop_self_loops, bool dedup, bool sort,
                                  const std::string& remap, uint64_t memory_bytes, const std::string& temp_dir,
                                  py::object progress) {
  atlas::BuildOptions o;
  o.num_nodes = num_nodes;
  o.symmetrize = symmetrize;
  o.drop_self_loops = drop_self_loops;
  o.dedup = dedup;
  o.sort = sort;
  if (remap == "auto") o.remap = atlas::RemapMode::kAuto;
  else if (remap == "always") o.remap = atlas::RemapMode::kAlways;
  else if (remap == "never") o.remap = atlas::RemapMode::kNever;
  else throw py::value_error("remap must be 'auto', 'always' or 'never', got '" + remap + "'");
  o.memory_bytes = memory_bytes;
  o.temp_dir = temp_dir;
  if (!progress.is_none()) {
    // Called on the building thread with the GIL released; a Python exception
    // (such as KeyboardInterrupt from the signal check) unwinds the build.
    o.progress = [progress](const atlas::BuildProgress& p) {
      py::gil_scoped_acquire gil;
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();
      progress(p.phase, p.pass, p.num_passes, p.edges_done, p.edges_total, p.seconds);
    };
  }
  return o;
}

py::dict stats_dict(const atlas::BuildStats& s) {
  py::dict d;
  d["num_nodes"] = s.num_nodes;
  d["num_edges"] = s.num_edges;
  d["input_edges"] = s.input_edges;
  d["self_loops_dropped"] = s.self_loops_dropped;
  d["duplicates_dropped"] = s.duplicates_dropped;
  d["num_buckets"] = s.num_buckets;
  d["num_passes"] = s.num_passes;
  d["remapped"] = s.remapped;
  d["seconds"] = s.seconds;
  d["warnings"] = s.warnings;
  return d;
}

py::dict run_build(atlas::EdgeSource& source, const std::string& out_path, const atlas::BuildOptions& options) {
  atlas::BuildStats stats;
  {
    py::gil_scoped_release release;
    stats = atlas::build_graph(source, out_path, options);
  }
  return stats_dict(stats);
}

void translate_exceptions(std::exception_ptr p) {
  auto raise_from = [](const char* class_name, const char* what) {
    py::object cls = py::module_::import("atlas_jax.graph.errors").attr(class_name);
    PyErr_SetString(cls.ptr(), what);
  };
  try {
    if (p) std::rethrow_exception(p);
  } catch (const atlas::FormatError& e) {
    raise_from("GraphFormatError", e.what());
  } catch (const atlas::InputError& e) {
    raise_from("GraphInputError", e.what());
  } catch (const atlas::OutOfRange& e) {
    PyErr_SetString(PyExc_IndexError, e.what());
  } catch (const atlas::IoError& e) {
    // OSError(errno, message) picks the matching subclass, such as FileNotFoundError for ENOENT.
    py::object err = py::reinterpret_steal<py::object>(Py_BuildValue("(is)", e.code(), e.what()));
    PyErr_SetObject(PyExc_OSError, err.ptr());
  }
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "atlas_jax C++ core: build information, checksums and the memory-mapped graph store.";
  m.def("build_info", &build_info,
        R"doc(Return a dict describing how this extension was compiled
(version, build type, compiler, C++ standard, byte order, pointer width).)doc");
  m.def("crc32", &py_crc32, py::arg("data"), py::arg("value") = 0,
        R"doc(CRC-32 of a bytes-like object, identical to ``zlib.crc32(data, value)``.

Releases the GIL while hashing, so large buffers can be checked from threads.)doc");
  py::register_exception_translator(&translate_exceptions);

  py::class_<Store, StorePtr>(m, "GraphStore", "A read-only, memory-mapped CSR graph store.")
      .def(py::init([](const std::string& path, bool verify) {
             py::gil_scoped_release release;
             return std::make_shared<Store>(path, verify);
           }),
           py::arg("path"), py::arg("verify") = false,
           "Map `path` and validate its header; with `verify`, also checksum and check every section.")
      .def_property_readonly("path", &Store::path)
      .def_property_readonly("num_nodes", &Store::num_nodes)
      .def_property_readonly("num_edges", &Store::num_edges)
      .def_property_readonly("has_weights", &Store::has_weights)
      .def_property_readonly("has_edge_types", &Store::has_types)
      .def_property_readonly("has_id_map", &Store::has_id_map)
      .def("header", &header_dict, "Header fields and the section table as a dict.")
      .def("indptr", [](py::object self) { return section_view(self, atlas::kIndptr); })
      .def("indices", [](py::object self) { return section_view(self, atlas::kIndices); })
      .def("weights", [](py::object self) { return section_view(self, atlas::kWeights); })
      .def("edge_types", [](py::object self) { return section_view(self, atlas::kTypes); })
      .def("id_map", [](py::object self) { return section_view(self, atlas::kIdMap); })
      .def("neighbors", [](py::object self, int64_t v) { return edge_slice(self, v, atlas::kIndices); }, py::arg("v"))
      .def("edge_weights", [](py::object self, int64_t v) { return edge_slice(self, v, atlas::kWeights); }, py::arg("v"))
      .def("node_edge_types", [](py::object self, int64_t v) { return edge_slice(self, v, atlas::kTypes); },
           py::arg("v"))
      .def("degree", &Store::degree, py::arg("v"))
      .def(
          "degrees",
          [](const Store& s, IdArray ids) {
            std::vector<int64_t> out(static_cast<size_t>(ids.size()));
            const int64_t* p = ids.data();
            {
              py::gil_scoped_release release;
              for (size_t i = 0; i < out.size(); ++i) out[i] = s.degree(p[i]);
            }
            return to_numpy(std::move(out));
          },
          py::arg("ids"))
      .def(
          "degree_summary",
          [](const Store& s) {
            int64_t max_degree = 0, isolated = 0;
            {
              py::gil_scoped_release release;
              const int64_t* ip = s.indptr();
              for (int64_t v = 0; v < s.num_nodes(); ++v) {
                const int64_t d = ip[v + 1] - ip[v];
                max_degree = std::max(max_degree, d);
                isolated += d == 0;
              }
            }
            py::dict d;
            d["max_degree"] = max_degree;
            d["isolated_nodes"] = isolated;
            return d;
          },
          "Maximum degree and isolated-node count, from one sequential read of indptr.")
      .def(
          "neighbors_batch",
          [](const Store& s, IdArray ids) {
            const int64_t* p = ids.data();
            const size_t n = static_cast<size_t>(ids.size());
            std::vector<int64_t> offsets(n + 1, 0), flat;
            {
              py::gil_scoped_release release;
              for (size_t i = 0; i < n; ++i) offsets[i + 1] = offsets[i] + s.degree(p[i]);
              flat.resize(static_cast<size_t>(offsets[n]));
              for (size_t i = 0; i < n; ++i) {
                const auto [b, e] = s.edge_range(p[i]);
                for (int64_t j = b; j < e; ++j) flat[offsets[i] + (j - b)] = s.neighbor_at(j);
              }
            }
            return py::make_tuple(to_numpy(std::move(offsets)), to_numpy(std::move(flat)));
          },
          py::arg("ids"))
      .def(
          "store_ids",
          [](const Store& s, IdArray input_ids) {
            std::vector<int64_t> out(static_cast<size_t>(input_ids.size()));
            const int64_t* p = input_ids.data();
            py::gil_scoped_release release;
            for (size_t i = 0; i < out.size(); ++i) out[i] = s.find_input_id(p[i]);
            return to_numpy(std::move(out));
          },
          py::arg("input_ids"))
      .def("verify", [](const Store& s) {
        py::gil_scoped_release release;
        s.verify();
      })
      .def("advise", &Store::advise, py::arg("section"), py::arg("advice"));

  m.def(
      "build_from_arrays",
      [](const std::string& out_path, py::array src, py::array dst, py::object weights, py::object types,
         int64_t num_nodes, bool symmetrize, bool drop_self_loops, bool dedup, bool sort, const std::string& remap,
         uint64_t memory_bytes, const std::string& temp_dir, py::object progress) {
        atlas::DType id_dtype;
        if (src.dtype().is(py::dtype::of<int32_t>())) id_dtype = atlas::DType::kInt32;
        else if (src.dtype().is(py::dtype::of<int64_t>())) id_dtype = atlas::DType::kInt64;
        else throw py::type_error("src and dst must be int32 or int64 arrays");
        if (!dst.dtype().is(src.dtype())) throw py::type_error("src and dst must have the same dtype");
        if (src.ndim() != 1 || dst.ndim() != 1 || src.size() != dst.size()) {
          throw py::value_error("src and dst must be 1-D arrays of the same length");
        }
        if (!(src.flags() & py::array::c_style) || !(dst.flags() & py::array::c_style)) {
          throw py::value_error("src and dst must be C-contiguous");
        }
        const float* w = nullptr;
        const int64_t* t = nullptr;
        py::array_t<float, py::array::c_style> w_arr;
        py::array_t<int64_t, py::array::c_style> t_arr;
        if (!weights.is_none()) {
          w_arr = weights.cast<py::array_t<float, py::array::c_style>>();
          if (w_arr.size() != src.size()) throw py::value_error("weights must have one entry per edge");
          w = w_arr.data();
        }
        if (!types.is_none()) {
          t_arr = types.cast<py::array_t<int64_t, py::array::c_style>>();
          if (t_arr.size() != src.size()) throw py::value_error("edge_types must have one entry per edge");
          t = t_arr.data();
        }
        auto source = atlas::make_array_source(src.data(), dst.data(), id_dtype, src.size(), w, t);
        const auto options = build_options(num_nodes, symmetrize, drop_self_loops, dedup, sort, remap, memory_bytes,
                                           temp_dir, progress);
        return run_build(*source, out_path, options);
      },
      py::arg("out_path"), py::arg("src"), py::arg("dst"), py::arg("weights"), py::arg("edge_types"),
      py::arg("num_nodes"), py::arg("symmetrize"), py::arg("drop_self_loops"), py::arg("dedup"), py::arg("sort"),
      py::arg("remap"), py::arg("memory_bytes"), py::arg("temp_dir"), py::arg("progress"),
      "Build a store from in-memory edge arrays; returns build statistics.");

  m.def(
      "build_from_file",
      [](const std::string& out_path, const std::string& input_path, const std::string& input_format,
         bool with_weights, bool with_types, int64_t num_nodes, bool symmetrize, bool drop_self_loops, bool dedup,
         bool sort, const std::string& remap, uint64_t memory_bytes, const std::string& temp_dir, py::object progress) {
        std::unique_ptr<atlas::EdgeSource> source;
        if (input_format == "text") {
          source = atlas::make_text_source(input_path, with_weights, with_types);
        } else {
          if (with_weights || with_types) {
            throw py::value_error("weights and edge types from a file need input_format='text'");
          }
          if (input_format == "npy") source = atlas::make_npy_source(input_path);
          else if (input_format == "bin32") source = atlas::make_binary_source(input_path, 4);
          else if (input_format == "bin64") source = atlas::make_binary_source(input_path, 8);
          else throw py::value_error("input_format must be text, npy, bin32 or bin64, got '" + input_format + "'");
        }
        const auto options = build_options(num_nodes, symmetrize, drop_self_loops, dedup, sort, remap, memory_bytes,
                                           temp_dir, progress);
        return run_build(*source, out_path, options);
      },
      py::arg("out_path"), py::arg("input_path"), py::arg("input_format"), py::arg("with_weights"),
      py::arg("with_types"), py::arg("num_nodes"), py::arg("symmetrize"), py::arg("drop_self_loops"), py::arg("dedup"),
      py::arg("sort"), py::arg("remap"), py::arg("memory_bytes"), py::arg("temp_dir"), py::arg("progress"),
      "Build a store from an edge-list file; returns build statistics.");

  m.def(
      "build_rmat",
      [](const std::string& out_path, int scale, int64_t edge_factor, uint64_t seed, double a, double b, double c,
         bool permute, int num_threads, bool symmetrize, bool drop_self_loops, bool dedup, bool sort,
         uint64_t memory_bytes, const std::string& temp_dir, py::object progress) {
        atlas::RmatParams params{scale, edge_factor, a, b, c, seed, permute};
        auto source = atlas::make_rmat_source(params, num_threads);
        const auto options = build_options(-1, symmetrize, drop_self_loops, dedup, sort, "never", memory_bytes,
                                           temp_dir, progress);
        return run_build(*source, out_path, options);
      },
      py::arg("out_path"), py::arg("scale"), py::arg("edge_factor"), py::arg("seed"), py::arg("a"), py::arg("b"),
      py::arg("c"), py::arg("permute"), py::arg("num_threads"), py::arg("symmetrize"), py::arg("drop_self_loops"),
      py::arg("dedup"), py::arg("sort"), py::arg("memory_bytes"), py::arg("temp_dir"), py::arg("progress"),
      "Build a store from the streamed R-MAT generator; returns build statistics.");

  m.def(
      "rmat_edges",
      [](int scale, int64_t edge_factor, uint64_t seed, int64_t first, int64_t count, bool permute) {
        atlas::RmatGenerator gen(atlas::RmatParams{scale, edge_factor, 0.57, 0.19, 0.19, seed, permute});
        if (first < 0 || count < 0 || first + count > gen.num_edges()) {
          throw py::value_error("edge range [" + std::to_string(first) + ", " + std::to_string(first + count) +
                                ") is outside the " + std::to_string(gen.num_edges()) + " R-MAT edges");
        }
        std::vector<int64_t> src(static_cast<size_t>(count)), dst(static_cast<size_t>(count));
        {
          py::gil_scoped_release release;
          gen.generate(first, count, src.data(), dst.data());
        }
        return py::make_tuple(to_numpy(std::move(src)), to_numpy(std::move(dst)));
      },
      py::arg("scale"), py::arg("edge_factor"), py::arg("seed"), py::arg("first"), py::arg("count"),
      py::arg("permute") = true, "Generate R-MAT edges [first, first + count) as (src, dst) int64 arrays.");

  m.def(
      "sample_neighbors",
      [](const Store& store, IdArray seeds, std::vector<int64_t> fanouts, uint64_t seed, bool weighted,
         int num_threads) {
        atlas::SampledSubgraph g;
        const int64_t* p = seeds.data();
        const int64_t n = seeds.size();
        {
          py::gil_scoped_release release;
          g = atlas::sample_neighbors(store, p, n, fanouts, seed, weighted, num_threads);
        }
        return py::make_tuple(to_numpy(std::move(g.nodes)), to_numpy(std::move(g.senders)),
                              to_numpy(std::move(g.receivers)), to_numpy(std::move(g.node_hop_offsets)),
                              to_numpy(std::move(g.edge_hop_offsets)));
      },
      py::arg("store"), py::arg("seeds"), py::arg("fanouts"), py::arg("seed"), py::arg("weighted"),
      py::arg("num_threads"),
      "Multi-hop neighbour sampling; returns (nodes, senders, receivers, node_hop_offsets, edge_hop_offsets).");

  m.def(
      "random_walks",
      [](const Store& store, IdArray starts, int64_t length, uint64_t seed, int num_threads) {
        std::vector<int64_t> walks;
        const int64_t* p = starts.data();
        const int64_t n = starts.size();
        {
          py::gil_scoped_release release;
          walks = atlas::random_walks(store, p, n, length, seed, num_threads);
        }
        py::array_t<int64_t> flat = to_numpy(std::move(walks));
        return flat.reshape({n, length + 1});
      },
      py::arg("store"), py::arg("starts"), py::arg("length"), py::arg("seed"), py::arg("num_threads"),
      "Uniform random walks, an int64[len(starts), length + 1] array.");

  m.def(
      "time_lookups",
      [](const Store& store, IdArray ids, int repeats, bool back_to_back) {
        std::vector<double> ns;
        const int64_t* p = ids.data();
        const int64_t n = ids.size();
        {
          py::gil_scoped_release release;
          ns = atlas::time_lookups(store, p, n, repeats, back_to_back);
        }
        return to_numpy(std::move(ns));
      },
      py::arg("store"), py::arg("ids"), py::arg("repeats") = 3, py::arg("back_to_back") = true,
      R"doc(Neighbour-lookup latency per id in nanoseconds, timed inside C++.

With ``back_to_back`` each id is timed ``repeats`` times in a row after one untimed
lookup (median kept, data in the CPU caches); otherwise ids are visited in order,
one untimed round then ``repeats`` timed rounds (mean kept, pages resident).)doc");

  m.def(
      "parse_edge_line",
      [](const std::string& line, bool with_weights, bool with_types) -> py::object {
        const atlas::ParsedLine p =
            atlas::parse_edge_line(line.data(), line.data() + line.size(), with_weights, with_types, "<line>");
        if (!p.is_edge) return py::none();
        return py::make_tuple(p.src, p.dst, p.weight, p.type);
      },
      py::arg("line"), py::arg("with_weights") = false, py::arg("with_types") = false,
      "Parse one text edge-list line: (src, dst, weight, type), or None for blank and comment lines.");
}
