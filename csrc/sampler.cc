#include "sampler.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <limits>
#include <mutex>
#include <queue>
#include <stdexcept>
#include <string>
#include <thread>

#include "graph_errors.h"
#include "rng.h"

namespace atlas {

namespace {

// Run fn(begin, end) over [0, n) split into contiguous chunks, one per thread.
template <typename Fn>
void parallel_for(int64_t n, int num_threads, Fn&& fn) {
  const int threads = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(num_threads, n / 256 + 1)));
  if (threads <= 1) {
    fn(int64_t{0}, n);
    return;
  }
  const int64_t per = (n + threads - 1) / threads;
  std::vector<std::thread> workers;
  std::exception_ptr error;
  std::mutex error_mutex;
  for (int t = 0; t < threads; ++t) {
    const int64_t b = std::min(n, t * per), e = std::min(n, (t + 1) * per);
    workers.emplace_back([&, b, e] {
      try {
        fn(b, e);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
      }
    });
  }
  for (auto& w : workers) w.join();
  if (error) std::rethrow_exception(error);
}

// Open-addressing map from global node id to local id; ids are >= 0, so -1 marks empty slots.
class LocalIds {
 public:
  explicit LocalIds(size_t expected) {
    size_t cap = 64;
    while (cap < expected * 2) cap <<= 1;
    keys_.assign(cap, -1);
    values_.resize(cap);
    mask_ = cap - 1;
  }
  // Local id of `key`, inserting it as `next` when absent; sets `inserted`.
  int64_t find_or_insert(int64_t key, int64_t next, bool& inserted) {
    if ((size_ + 1) * 2 > keys_.size()) grow();
    size_t slot = static_cast<size_t>(mix64(static_cast<uint64_t>(key))) & mask_;
    while (true) {
      if (keys_[slot] == key) {
        inserted = false;
        return values_[slot];
      }
      if (keys_[slot] < 0) {
        keys_[slot] = key;
        values_[slot] = next;
        ++size_;
        inserted = true;
        return next;
      }
      slot = (slot + 1) & mask_;
    }
  }

 private:
  void grow() {
    std::vector<int64_t> old_keys = std::move(keys_), old_values = std::move(values_);
    keys_.assign(old_keys.size() * 2, -1);
    values_.resize(old_keys.size() * 2);
    mask_ = keys_.size() - 1;
    size_ = 0;
    bool ignored;
    for (size_t i = 0; i < old_keys.size(); ++i) {
      if (old_keys[i] >= 0) find_or_insert(old_keys[i], old_values[i], ignored);
    }
  }
  std::vector<int64_t> keys_, values_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

int64_t checked_neighbor(const GraphStore& store, int64_t e, int64_t v) {
  const int64_t u = store.neighbor_at(e);
  if (u < 0 || u >= store.num_nodes()) {
    throw FormatError(store.path() + ": corrupt indices, neighbour " + std::to_string(u) + " of node " +
                      std::to_string(v) + " is out of range; run verify() or rebuild the store");
  }
  return u;
}

// Uniform choice of k distinct positions out of d (Floyd's algorithm), written to out[0..k).
void choose_uniform(uint64_t key, int64_t d, int64_t k, int64_t* out) {
  int64_t chosen = 0;
  for (int64_t j = d - k; j < d; ++j) {
    const int64_t t = static_cast<int64_t>(bounded(draw64(key, static_cast<uint64_t>(j)), static_cast<uint64_t>(j + 1)));
    bool seen = false;
    for (int64_t i = 0; i < chosen; ++i) {
      if (out[i] == t) {
        seen = true;
        break;
      }
    }
    out[chosen++] = seen ? j : t;
  }
}

// Weighted choice without replacement: the k smallest keys -log(U) / w (Efraimidis and Spirakis 2006).
int64_t choose_weighted(uint64_t key, const float* w, int64_t d, int64_t k, int64_t* out,
                        std::vector<std::pair<double, int64_t>>& heap) {
  heap.clear();
  for (int64_t j = 0; j < d; ++j) {
    if (!(w[j] > 0.0f)) continue;
    const double score = -std::log(unit_open_zero(draw64(key, static_cast<uint64_t>(j)))) / w[j];
    if (static_cast<int64_t>(heap.size()) < k) {
      heap.emplace_back(score, j);
      std::push_heap(heap.begin(), heap.end());
    } else if (score < heap.front().first) {
      std::pop_heap(heap.begin(), heap.end());
      heap.back() = {score, j};
      std::push_heap(heap.begin(), heap.end());
    }
  }
  // Report picks in neighbour order so the output does not depend on heap internals.
  std::sort(heap.begin(), heap.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
  for (size_t i = 0; i < heap.size(); ++i) out[i] = heap[i].second;
  return static_cast<int64_t>(heap.size());
}

}  // namespace

SampledSubgraph sample_neighbors(const GraphStore& store, const int64_t* seeds, int64_t num_seeds,
                                 const std::vector<int64_t>& fanouts, uint64_t seed, bool weighted, int num_threads) {
  if (weighted && !store.has_weights()) {
    throw std::invalid_argument("weighted sampling needs edge weights, but " + store.path() + " has none");
  }
  for (int64_t f : fanouts) {
    if (f < -1) throw std::invalid_argument("fanouts must be >= 0, or -1 for all neighbours; got " + std::to_string(f));
  }
  SampledSubgraph out;
  LocalIds local(static_cast<size_t>(num_seeds) * 4);
  for (int64_t i = 0; i < num_seeds; ++i) {
    store.check_node(seeds[i]);
    bool inserted;
    local.find_or_insert(seeds[i], i, inserted);
    if (!inserted) {
      throw std::invalid_argument("seed node " + std::to_string(seeds[i]) + " appears more than once; pass distinct seeds");
    }
  }
  out.nodes.assign(seeds, seeds + num_seeds);
  // Reserve for the usual case of a fanout well below the degrees; vectors still grow past it.
  int64_t expected_edges = 0, layer = num_seeds;
  for (int64_t f : fanouts) {
    layer = f < 0 ? layer : layer * f;
    expected_edges += std::min<int64_t>(layer, int64_t{1} << 26);
  }
  out.senders.reserve(static_cast<size_t>(expected_edges));
  out.receivers.reserve(static_cast<size_t>(expected_edges));
  out.nodes.reserve(static_cast<size_t>(num_seeds + expected_edges));
  out.node_hop_offsets = {0, num_seeds};
  out.edge_hop_offsets = {0};

  std::vector<int64_t> sample_offsets;  // per frontier node, into picks
  std::vector<int64_t> picks;           // global ids of sampled neighbours
  for (size_t hop = 0; hop < fanouts.size(); ++hop) {
    const int64_t begin = out.node_hop_offsets[hop];
    const int64_t end = out.node_hop_offsets[hop + 1];
    const int64_t frontier = end - begin;
    const int64_t fanout = fanouts[hop] < 0 ? std::numeric_limits<int64_t>::max() : fanouts[hop];

    // Sizes first (uniform sampling keeps min(degree, fanout)), so threads can write disjoint slices.
    sample_offsets.assign(static_cast<size_t>(frontier) + 1, 0);
    for (int64_t i = 0; i < frontier; ++i) {
      const int64_t d = store.degree(out.nodes[begin + i]);
      sample_offsets[i + 1] = sample_offsets[i] + std::min(d, fanout);
    }
    picks.resize(static_cast<size_t>(sample_offsets[frontier]));
    std::vector<int64_t> counts(static_cast<size_t>(frontier), 0);
    parallel_for(frontier, num_threads, [&](int64_t lo, int64_t hi) {
      std::vector<int64_t> positions;
      std::vector<std::pair<double, int64_t>> heap;
      for (int64_t i = lo; i < hi; ++i) {
        const int64_t v = out.nodes[begin + i];
        const auto [eb, ee] = store.edge_range(v);
        const int64_t d = ee - eb;
        if (static_cast<int64_t>(positions.size()) < std::min(d, fanout)) positions.resize(std::min(d, fanout));
        int64_t* dst = picks.data() + sample_offsets[i];
        int64_t taken;
        const uint64_t key = stream_key(seed, hop, static_cast<uint64_t>(v));
        if (weighted) {
          taken = choose_weighted(key, store.weights() + eb, d, fanout, positions.data(), heap);
        } else if (d <= fanout) {
          for (int64_t j = 0; j < d; ++j) positions[j] = j;
          taken = d;
        } else {
          choose_uniform(key, d, fanout, positions.data());
          taken = fanout;
        }
        for (int64_t j = 0; j < taken; ++j) dst[j] = checked_neighbor(store, eb + positions[j], v);
        counts[i] = taken;
      }
    });

    // Relabel in frontier order, so local ids are the same for any thread count.
    for (int64_t i = 0; i < frontier; ++i) {
      const int32_t receiver = static_cast<int32_t>(begin + i);
      const int64_t* p = picks.data() + sample_offsets[i];
      for (int64_t j = 0; j < counts[i]; ++j) {
        bool inserted;
        const int64_t next = static_cast<int64_t>(out.nodes.size());
        const int64_t id = local.find_or_insert(p[j], next, inserted);
        if (inserted) out.nodes.push_back(p[j]);
        out.senders.push_back(static_cast<int32_t>(id));
        out.receivers.push_back(receiver);
      }
    }
    if (out.nodes.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
      throw std::length_error("sampled subgraph has more than 2^31 - 1 nodes; use smaller fanouts or batches");
    }
    out.node_hop_offsets.push_back(static_cast<int64_t>(out.nodes.size()));
    out.edge_hop_offsets.push_back(static_cast<int64_t>(out.senders.size()));
  }
  return out;
}

std::vector<int64_t> random_walks(const GraphStore& store, const int64_t* starts, int64_t num_starts, int64_t length,
                                  uint64_t seed, int num_threads) {
  if (length < 0) throw std::invalid_argument("walk length must be >= 0, got " + std::to_string(length));
  for (int64_t i = 0; i < num_starts; ++i) store.check_node(starts[i]);
  const int64_t width = length + 1;
  std::vector<int64_t> walks(static_cast<size_t>(num_starts * width));
  parallel_for(num_starts, num_threads, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const uint64_t key = stream_key(seed, 0x57414C4B /* "WALK" */, static_cast<uint64_t>(i));
      int64_t v = starts[i];
      walks[i * width] = v;
      for (int64_t step = 1; step <= length; ++step) {
        const auto [eb, ee] = store.edge_range(v);
        if (ee > eb) {
          const int64_t pick = static_cast<int64_t>(bounded(draw64(key, static_cast<uint64_t>(step)),
                                                            static_cast<uint64_t>(ee - eb)));
          v = checked_neighbor(store, eb + pick, v);
        }
        walks[i * width + step] = v;
      }
    }
  });
  return walks;
}

std::vector<double> time_lookups(const GraphStore& store, const int64_t* ids, int64_t count, int repeats,
                                 bool back_to_back) {
  using clock = std::chrono::steady_clock;
  std::vector<double> ns(static_cast<size_t>(count), 0.0);
  for (int64_t i = 0; i < count; ++i) store.check_node(ids[i]);
  volatile int64_t sink = 0;
  const int rounds = std::max(1, repeats);
  auto timed_lookup = [&](int64_t v) {
    const auto t0 = clock::now();
    const auto [eb, ee] = store.edge_range(v);
    const int64_t acc = ee > eb ? store.neighbor_at(eb) + store.neighbor_at(ee - 1) : 0;
    const auto t1 = clock::now();
    sink = sink + acc;
    return std::chrono::duration<double, std::nano>(t1 - t0).count();
  };
  if (back_to_back) {
    // Each id is looked up once untimed, then `rounds` times in a row; the median is kept.
    std::vector<double> samples(static_cast<size_t>(rounds));
    for (int64_t i = 0; i < count; ++i) {
      timed_lookup(ids[i]);
      for (int r = 0; r < rounds; ++r) samples[r] = timed_lookup(ids[i]);
      std::nth_element(samples.begin(), samples.begin() + rounds / 2, samples.end());
      ns[i] = samples[rounds / 2];
    }
    return ns;
  }
  // One untimed round over all ids, then `rounds` timed rounds; the mean is kept.
  for (int r = -1; r < rounds; ++r) {
    for (int64_t i = 0; i < count; ++i) {
      const double t = timed_lookup(ids[i]);
      if (r >= 0) ns[i] += t;
    }
  }
  for (double& x : ns) x /= rounds;
  return ns;
}

}  // namespace atlas
