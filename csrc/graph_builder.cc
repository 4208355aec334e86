#include "graph_builder.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <numeric>
#include <queue>
#include <stdexcept>

#include "checksum.h"
#include "file_writer.h"
#include "graph_errors.h"
#include "graph_format.h"
#include "id_table.h"
#include "mapped_file.h"

namespace atlas {
namespace {

// Bucket buffers for one range of nodes.
template <typename IdT>
struct Bucket {
  std::vector<IdT> neighbors;
  std::vector<float> weights;
  std::vector<uint16_t> types;
};

// Sort, deduplicate and move the edges of one node from [begin, end) to `write`;
// returns the number kept. `write` <= `begin`, so moving in place is safe.
template <typename IdT>
size_t finish_node(Bucket<IdT>& bk, size_t begin, size_t end, size_t write, bool sort, bool dedup,
                   std::vector<uint32_t>& perm, Bucket<IdT>& scratch) {
  const size_t d = end - begin;
  const bool attrs = !bk.weights.empty() || !bk.types.empty();
  IdT* nbr = bk.neighbors.data();
  if (!attrs) {
    if (sort) std::sort(nbr + begin, nbr + end);
    size_t kept = d;
    if (dedup) kept = static_cast<size_t>(std::unique(nbr + begin, nbr + end) - (nbr + begin));
    if (write != begin) std::memmove(nbr + write, nbr + begin, kept * sizeof(IdT));
    return kept;
  }
  perm.resize(d);
  std::iota(perm.begin(), perm.end(), 0u);
  const uint16_t* ty = bk.types.empty() ? nullptr : bk.types.data() + begin;
  if (sort) {
    // Stable, so that among equal (neighbour, type) keys the first input edge comes first and survives dedup.
    std::stable_sort(perm.begin(), perm.end(), [&](uint32_t a, uint32_t b) {
      if (nbr[begin + a] != nbr[begin + b]) return nbr[begin + a] < nbr[begin + b];
      return ty != nullptr && ty[a] < ty[b];
    });
  }
  scratch.neighbors.resize(d);
  if (!bk.weights.empty()) scratch.weights.resize(d);
  if (ty) scratch.types.resize(d);
  size_t kept = 0;
  for (size_t j = 0; j < d; ++j) {
    const uint32_t p = perm[j];
    if (dedup && kept > 0 && scratch.neighbors[kept - 1] == nbr[begin + p] &&
        (ty == nullptr || scratch.types[kept - 1] == ty[p])) {
      continue;
    }
    scratch.neighbors[kept] = nbr[begin + p];
    if (!bk.weights.empty()) scratch.weights[kept] = bk.weights[begin + p];
    if (ty) scratch.types[kept] = ty[p];
    ++kept;
  }
  std::copy_n(scratch.neighbors.data(), kept, nbr + write);
  if (!bk.weights.empty()) std::copy_n(scratch.weights.data(), kept, bk.weights.data() + write);
  if (ty) std::copy_n(scratch.types.data(), kept, bk.types.data() + write);
  return kept;
}

struct Plan {
  int64_t num_nodes = 0;
  bool remap = false;
  bool weights = false;
  bool types = false;
  bool narrow_types = true;  // every type < 256, stored as uint8
};

template <typename IdT>
void fill_and_write(EdgeSource& source, const BuildOptions& opt, const Plan& plan, const IdTable& table,
                    std::vector<uint32_t>& counts, const std::vector<int64_t>& bounds, int first_pass,
                    int num_passes, int64_t input_edges, FileWriter& out, FileWriter* weights_tmp,
                    FileWriter* types_tmp, uint32_t& indptr_crc, uint32_t& indices_crc, Reporter& reporter,
                    BuildStats& stats) {
  const uint64_t indptr_off = kAlignment;
  const uint64_t indices_off = align_up(indptr_off + (static_cast<uint64_t>(plan.num_nodes) + 1) * 8, kAlignment);
  const bool sort = opt.sort || opt.dedup;
  int64_t written = 0;  // edges written to the output so far
  const int64_t zero = 0;
  out.write_at(&zero, sizeof(zero), indptr_off);
  indptr_crc = crc32(&zero, sizeof(zero));
  indices_crc = 0;

  // Reserve the largest bucket once: growing a vector later would copy it and
  // briefly hold two buckets, past the memory budget.
  uint64_t max_bucket_edges = 0;
  for (size_t b = 0; b + 1 < bounds.size(); ++b) {
    uint64_t edges = 0;
    for (int64_t v = bounds[b]; v < bounds[b + 1]; ++v) edges += counts[v];
    max_bucket_edges = std::max(max_bucket_edges, edges);
  }
  Bucket<IdT> bucket, scratch;
  bucket.neighbors.reserve(max_bucket_edges);
  if (plan.weights) bucket.weights.reserve(max_bucket_edges);
  if (plan.types) bucket.types.reserve(max_bucket_edges);
  std::vector<uint8_t> degree_low_bits;  // degree mod 256 per node of the bucket, to check the fill
  std::vector<int64_t> indptr_chunk;
  std::vector<uint32_t> perm;
  std::vector<uint8_t> narrow;
  EdgeBatch batch;
  for (size_t b = 0; b + 1 < bounds.size(); ++b) {
    const int64_t lo = bounds[b], hi = bounds[b + 1];
    const size_t k = static_cast<size_t>(hi - lo);
    // Turn this bucket's degrees into fill cursors in place: cursor[i] starts at
    // node i's local offset and ends at node i + 1's, so node i's edges are
    // [cursor[i - 1], cursor[i]) after the pass. This costs one byte per node
    // beyond the degree table. The planner keeps a bucket under 2^32 edges.
    uint32_t* cursor = counts.data() + lo;
    degree_low_bits.resize(k);
    uint64_t total = 0;
    for (size_t i = 0; i < k; ++i) {
      const uint32_t degree = cursor[i];
      degree_low_bits[i] = static_cast<uint8_t>(degree);
      cursor[i] = static_cast<uint32_t>(total);
      total += degree;
    }
    const size_t bucket_edges = static_cast<size_t>(total);
    bucket.neighbors.resize(bucket_edges);
    if (plan.weights) bucket.weights.resize(bucket_edges);
    if (plan.types) bucket.types.resize(bucket_edges);
    auto changed_input = [&](int64_t u) {
      return InputError("node " + std::to_string(u) + " has a different number of edges than in the counting " +
                        "pass; the input changed during the build");
    };

    // One pass over the input places the edges of nodes lo..hi-1.
    const int pass = first_pass + static_cast<int>(b);
    auto place = [&](int64_t u, int64_t v, float w, int64_t t) {
      if (u < lo || u >= hi) return;
      const uint64_t pos = cursor[u - lo]++;
      if (pos >= bucket_edges) throw changed_input(u);
      bucket.neighbors[pos] = static_cast<IdT>(v);
      if (plan.weights) bucket.weights[pos] = w;
      if (plan.types) bucket.types[pos] = static_cast<uint16_t>(t);
    };
    int64_t done = 0;
    // Without symmetrisation only edges leaving this bucket matter, so the source may skip the rest.
    if (!opt.symmetrize && !plan.remap) source.restrict_sources(lo, hi);
    source.rewind();
    while (source.next(batch)) {
      for (size_t i = 0; i < batch.size(); ++i) {
        const int64_t u = plan.remap ? table.lookup(batch.src[i]) : batch.src[i];
        const int64_t v = plan.remap ? table.lookup(batch.dst[i]) : batch.dst[i];
        if (u == v && opt.drop_self_loops) continue;
        const float w = plan.weights ? batch.weights[i] : 1.0f;
        const int64_t t = plan.types ? batch.types[i] : 0;
        place(u, v, w, t);
        if (opt.symmetrize && u != v) place(v, u, w, t);
      }
      done += batch.covered();
      reporter.report("fill", pass, num_passes, done, input_edges, false);
    }
    source.restrict_sources(-1, -1);
    // With unchanged input every cursor ends where the next node starts. A change
    // that keeps the total and shifts degrees by multiples of 256 would go unseen.
    auto begin_of = [&](size_t i) -> uint64_t { return i == 0 ? 0 : cursor[i - 1]; };
    auto end_of = [&](size_t i) -> uint64_t { return cursor[i]; };
    if (k > 0 && end_of(k - 1) != bucket_edges) throw changed_input(hi - 1);
    for (size_t i = 0; i < k; ++i) {
      if (end_of(i) < begin_of(i) || static_cast<uint8_t>(end_of(i) - begin_of(i)) != degree_low_bits[i]) {
        throw changed_input(lo + static_cast<int64_t>(i));
      }
    }

    // Sort and deduplicate node by node, compacting the bucket in place, and
    // append indptr entries in order through a small buffer.
    size_t write = 0;
    uint64_t indptr_pos = indptr_off + (static_cast<uint64_t>(lo) + 1) * 8;
    indptr_chunk.clear();
    auto flush_indptr = [&] {
      out.write_at(indptr_chunk.data(), indptr_chunk.size() * sizeof(int64_t), indptr_pos);
      indptr_crc = crc32(indptr_chunk.data(), indptr_chunk.size() * sizeof(int64_t), indptr_crc);
      indptr_pos += indptr_chunk.size() * sizeof(int64_t);
      indptr_chunk.clear();
    };
    for (size_t i = 0; i < k; ++i) {
      const size_t node_begin = begin_of(i);
      const size_t node_end = end_of(i);
      const size_t kept = finish_node(bucket, node_begin, node_end, write, sort, opt.dedup, perm, scratch);
      stats.duplicates_dropped += static_cast<int64_t>(node_end - node_begin - kept);
      write += kept;
      indptr_chunk.push_back(written + static_cast<int64_t>(write));
      if (indptr_chunk.size() == (size_t{1} << 16)) flush_indptr();
    }
    flush_indptr();

    // Append the bucket's edges; indices are written strictly in order.
    out.write_at(bucket.neighbors.data(), write * sizeof(IdT), indices_off + static_cast<uint64_t>(written) * sizeof(IdT));
    indices_crc = crc32(bucket.neighbors.data(), write * sizeof(IdT), indices_crc);
    if (plan.weights) weights_tmp->append(bucket.weights.data(), write * sizeof(float));
    if (plan.types) {
      if (plan.narrow_types) {
        narrow.assign(bucket.types.begin(), bucket.types.begin() + static_cast<std::ptrdiff_t>(write));
        types_tmp->append(narrow.data(), write);
      } else {
        types_tmp->append(bucket.types.data(), write * sizeof(uint16_t));
      }
    }
    written += static_cast<int64_t>(write);
    reporter.report("fill", pass, num_passes, input_edges, input_edges, true);
  }
  stats.num_edges = written;
}

}  // namespace

BuildStats build_graph(EdgeSource& source, const std::string& out_path, const BuildOptions& opt) {
  Reporter reporter(opt);
  BuildStats stats;
  const std::string dir = opt.temp_dir.empty() ? directory_of(out_path) : opt.temp_dir;
  const std::string prefix = dir + "/." + base_name(out_path) + "." + std::to_string(::getpid());
  if (opt.remap == RemapMode::kAlways && opt.num_nodes >= 0) {
    throw std::invalid_argument("num_nodes cannot be set together with remap='always', because remapping "
                                "numbers the distinct input ids 0..k-1");
  }

  Plan plan;
  plan.weights = source.has_weights();
  plan.types = source.has_types();
  plan.remap = opt.remap == RemapMode::kAlways;
  int64_t n = opt.num_nodes >= 0 ? opt.num_nodes : (plan.remap ? -1 : source.num_nodes_hint());
  int64_t input_edges = source.num_edges_hint();
  int pass = 0;
  // Passes before the fill passes: the scan when the node count is unknown, the id table, the count.
  int num_passes = (n < 0 && !plan.remap ? 1 : 0) + (plan.remap ? 1 : 0) + 1;
  EdgeBatch batch;

  // Scan: the largest id decides the node count, or whether sparse ids need a remap.
  if (n < 0 && !plan.remap) {
    ++pass;
    int64_t max_id = -1, seen = 0;
    source.rewind();
    while (source.next(batch)) {
      for (size_t i = 0; i < batch.size(); ++i) {
        const int64_t lo = std::min(batch.src[i], batch.dst[i]);
        if (lo < 0) {
          throw InputError(source.describe() + ": edge " + std::to_string(seen + static_cast<int64_t>(i)) + " (" +
                           std::to_string(batch.src[i]) + ", " + std::to_string(batch.dst[i]) +
                           ") has a negative node id; node ids must be >= 0");
        }
        max_id = std::max({max_id, batch.src[i], batch.dst[i]});
      }
      seen += static_cast<int64_t>(batch.size());
      reporter.report("scan", pass, num_passes, seen, input_edges, false);
    }
    input_edges = seen;
    reporter.report("scan", pass, num_passes, seen, input_edges, true);
    // At most 2 * edges ids occur; when the id range is over twice that, most ids would be isolated nodes.
    if (opt.remap == RemapMode::kAuto && seen > 0 && max_id / 4 >= seen) {
      plan.remap = true;
      ++num_passes;
    } else {
      n = max_id + 1;
    }
  }
  IdTable table;
  if (plan.remap) {
    ++pass;
    table.build(source, prefix, opt.memory_bytes, reporter, pass, num_passes, input_edges);
    n = table.size();
    stats.remapped = true;
  }
  if (n > (int64_t{1} << 40)) {
    throw InputError(source.describe() + ": " + std::to_string(n) + " nodes exceed the builder's limit of 2^40; "
                     "pass remap='always' if the ids are sparse");
  }
  plan.num_nodes = n;

  // Count: out-degree of every node after self-loop removal and symmetrisation.
  ++pass;
  std::vector<uint32_t> counts(static_cast<size_t>(n), 0);
  const uint64_t table_bytes = static_cast<uint64_t>(n) * sizeof(uint32_t);
  int64_t seen = 0;
  int64_t max_type = 0;
  auto bump = [&](int64_t v) {
    if (counts[v] == std::numeric_limits<uint32_t>::max()) {
      throw InputError("node " + std::to_string(v) + " has more than 4294967294 edges, the builder's limit per node");
    }
    ++counts[v];
  };
  // Directed counting of a source with fixed node ids (R-MAT) needs no destinations.
  const bool sources_only = !opt.symmetrize && !opt.drop_self_loops && !plan.remap && source.num_nodes_hint() >= 0;
  source.skip_destinations(sources_only);
  source.rewind();
  while (source.next(batch)) {
    for (size_t i = 0; i < batch.size(); ++i) {
      int64_t u = batch.src[i], v = batch.dst[i];
      if (plan.remap) {
        u = table.lookup(u);
        v = table.lookup(v);
      } else if (u < 0 || v < 0 || u >= n || v >= n) {
        throw InputError(source.describe() + ": edge " + std::to_string(seen + static_cast<int64_t>(i)) + " (" +
                         std::to_string(u) + ", " + std::to_string(v) + ") has a node id outside 0.." +
                         std::to_string(n - 1) + "; pass a larger num_nodes or leave it unset");
      }
      if (plan.weights && !std::isfinite(batch.weights[i])) {
        throw InputError(source.describe() + ": edge " + std::to_string(seen + static_cast<int64_t>(i)) +
                         " has a non-finite weight");
      }
      if (plan.types) {
        const int64_t t = batch.types[i];
        if (t < 0 || t > 65535) {
          throw InputError(source.describe() + ": edge " + std::to_string(seen + static_cast<int64_t>(i)) +
                           " has edge type " + std::to_string(t) + " outside 0..65535");
        }
        max_type = std::max(max_type, t);
      }
      if (u == v && opt.drop_self_loops) {
        ++stats.self_loops_dropped;
        continue;
      }
      bump(u);
      if (opt.symmetrize && u != v) bump(v);
    }
    seen += batch.covered();
    reporter.report("count", pass, num_passes, seen, input_edges, false);
  }
  source.skip_destinations(false);
  input_edges = seen;
  stats.input_edges = seen;
  plan.narrow_types = max_type < 256;

  // Buckets: consecutive node ranges whose edges and offsets fit the budget left after the degree table.
  const uint64_t per_edge = (n <= (int64_t{1} << 31) ? 4 : 8) + (plan.weights ? 4 : 0) + (plan.types ? 2 : 0);
  const uint64_t per_node = 1;  // the degree check byte; the degree table is counted apart
  const uint64_t min_bucket = uint64_t{64} << 10;
  uint64_t bucket_budget = opt.memory_bytes > table_bytes + min_bucket ? opt.memory_bytes - table_bytes : min_bucket;
  if (opt.memory_bytes < table_bytes + min_bucket) {
    stats.warnings.push_back("memory budget " + std::to_string(opt.memory_bytes) + " bytes is below the " +
                             std::to_string(table_bytes) + "-byte degree table plus a 64 KiB bucket; using " +
                             std::to_string(table_bytes + min_bucket) + " bytes");
  }
  std::vector<int64_t> bounds{0};
  uint64_t acc = 0;
  uint64_t acc_edges = 0;  // kept below 2^32 so local offsets fit the uint32 degree table
  for (int64_t v = 0; v < n; ++v) {
    const uint64_t cost = counts[v] * per_edge + per_node;
    if (acc > 0 && (acc + cost > bucket_budget || acc_edges + counts[v] > std::numeric_limits<uint32_t>::max())) {
      bounds.push_back(v);
      acc = 0;
      acc_edges = 0;
    }
    acc_edges += counts[v];
    if (cost > bucket_budget) {
      stats.warnings.push_back("node " + std::to_string(v) + " alone needs " + std::to_string(cost) +
                               " bytes, more than the bucket budget; it gets a bucket of its own");
    }
    acc += cost;
  }
  if (n > 0) bounds.push_back(n);
  stats.num_buckets = static_cast<int>(bounds.size()) - 1;
  num_passes = pass + stats.num_buckets;
  reporter.report("count", pass, num_passes, seen, input_edges, true);

  // Fill: one pass per bucket, written straight into the temporary output.
  const std::string tmp_path = directory_of(out_path) + "/." + base_name(out_path) + ".tmp" + std::to_string(::getpid());
  FileWriter out(tmp_path);
  std::unique_ptr<FileWriter> weights_tmp, types_tmp;
  if (plan.weights) weights_tmp = std::make_unique<FileWriter>(prefix + ".weights");
  if (plan.types) types_tmp = std::make_unique<FileWriter>(prefix + ".types");
  uint32_t crcs[kNumSections] = {};
  const bool wide = n > (int64_t{1} << 31);
  if (wide) {
    fill_and_write<int64_t>(source, opt, plan, table, counts, bounds, pass + 1, num_passes, input_edges, out,
                            weights_tmp.get(), types_tmp.get(), crcs[kIndptr], crcs[kIndices], reporter, stats);
  } else {
    fill_and_write<int32_t>(source, opt, plan, table, counts, bounds, pass + 1, num_passes, input_edges, out,
                            weights_tmp.get(), types_tmp.get(), crcs[kIndptr], crcs[kIndices], reporter, stats);
  }
  stats.num_passes = num_passes;
  counts.clear();
  counts.shrink_to_fit();

  // Finish: lay out the optional sections after the indices, then write the header last.
  const uint64_t m = static_cast<uint64_t>(stats.num_edges);
  FileHeader h{};
  std::memcpy(h.magic, kMagic, sizeof(kMagic));
  h.version = kFormatVersion;
  h.byte_order = kByteOrderMark;
  h.header_size = sizeof(FileHeader);
  h.alignment = kAlignment;
  h.num_nodes = static_cast<uint64_t>(n);
  h.num_edges = m;
  auto flag = [](bool on, Flags bit) -> uint64_t { return on ? uint64_t{bit} : uint64_t{0}; };
  h.flags = flag(plan.weights, kHasWeights) | flag(plan.types, kHasTypes) | flag(plan.remap, kHasIdMap) |
            flag(opt.symmetrize, kSymmetrized) | flag(opt.sort || opt.dedup, kSorted) |
            flag(opt.dedup, kDeduplicated) | flag(opt.drop_self_loops, kNoSelfLoops);
  uint64_t offset = kAlignment;
  auto place_section = [&](int id, DType dtype, uint64_t count) {
    Section& s = h.sections[id];
    s.offset = offset;
    s.dtype = static_cast<uint32_t>(dtype);
    s.nbytes = count * dtype_size(dtype);
    offset = align_up(offset + s.nbytes, kAlignment);
  };
  place_section(kIndptr, DType::kInt64, static_cast<uint64_t>(n) + 1);
  place_section(kIndices, wide ? DType::kInt64 : DType::kInt32, m);
  h.sections[kIndptr].crc32 = crcs[kIndptr];
  h.sections[kIndices].crc32 = crcs[kIndices];
  reporter.report("finish", 1, 1, 0, -1, true);
  if (plan.weights) {
    place_section(kWeights, DType::kFloat32, m);
    h.sections[kWeights].crc32 = copy_section(*weights_tmp, out, h.sections[kWeights].offset, h.sections[kWeights].nbytes);
  }
  if (plan.types) {
    place_section(kTypes, plan.narrow_types ? DType::kUInt8 : DType::kUInt16, m);
    h.sections[kTypes].crc32 = copy_section(*types_tmp, out, h.sections[kTypes].offset, h.sections[kTypes].nbytes);
  }
  if (plan.remap) {
    place_section(kIdMap, DType::kInt64, static_cast<uint64_t>(n));
    h.sections[kIdMap].crc32 = copy_section(table.file(), out, h.sections[kIdMap].offset, h.sections[kIdMap].nbytes);
  }
  h.file_size = offset;
  out.truncate(offset);
  h.header_crc = header_checksum(h);
  out.write_at(&h, sizeof(h), 0);
  out.sync();
  if (::rename(tmp_path.c_str(), out_path.c_str()) != 0) throw_io_error("cannot rename the finished store to", out_path);
  out.keep();
  stats.num_nodes = n;
  stats.seconds = reporter.seconds();
  reporter.report("finish", 1, 1, 0, -1, true);
  return stats;
}

}  // namespace atlas
