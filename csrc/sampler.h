// Multi-hop neighbour sampling and random walks over a GraphStore.
//
// Every random draw is keyed by (seed, hop, node id), so a node's sample does
// not depend on the thread that drew it or on the batch it came in with.
#pragma once

#include <cstdint>
#include <vector>

#include "graph_store.h"

namespace atlas {

struct SampledSubgraph {
  std::vector<int64_t> nodes;             // global ids: seeds, then nodes first reached at hop 1, 2, ...
  std::vector<int32_t> senders;           // local id of the sampled neighbour
  std::vector<int32_t> receivers;         // local id of the node that sampled it
  std::vector<int64_t> node_hop_offsets;  // size hops + 2: nodes[o[h]:o[h+1]] entered at hop h (0 = seeds)
  std::vector<int64_t> edge_hop_offsets;  // size hops + 1: edges[o[h]:o[h+1]] were sampled at hop h + 1
};

// Sample up to fanouts[h] neighbours without replacement for each node that
// entered at hop h; a fanout of -1 keeps every neighbour. Nodes with degree
// <= fanout keep all their neighbours.
// `weighted` draws proportionally to the edge weights (Efraimidis-Spirakis
// keys), never picking a neighbour of weight <= 0. `seeds` must be distinct.
SampledSubgraph sample_neighbors(const GraphStore& store, const int64_t* seeds, int64_t num_seeds,
                                 const std::vector<int64_t>& fanouts, uint64_t seed, bool weighted, int num_threads);

// Uniform random walks: walks[i * (length + 1) + j] is the j-th node of the
// walk from starts[i]; a walk that reaches a node without neighbours stays there.
std::vector<int64_t> random_walks(const GraphStore& store, const int64_t* starts, int64_t num_starts, int64_t length,
                                  uint64_t seed, int num_threads);

// Time the O(1) lookup of each id's neighbour list: the two indptr reads and a
// read of the first and last neighbour, as neighbors() does before it wraps the
// range. Returns nanoseconds per id. With `back_to_back`, each id is timed
// `repeats` times in a row after one untimed lookup and the median is kept, so
// its data is in the CPU caches. Otherwise all ids are visited once untimed and
// then `repeats` times in order, keeping the mean: pages are resident, but
// lookups in a graph larger than the caches also pay cache and TLB misses.
std::vector<double> time_lookups(const GraphStore& store, const int64_t* ids, int64_t count, int repeats,
                                 bool back_to_back);

}  // namespace atlas
