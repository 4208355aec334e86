#include "id_table.h"

#include <algorithm>
#include <queue>
#include <utility>
#include <vector>

#include "graph_errors.h"

namespace atlas {

void IdTable::build(EdgeSource& source, const std::string& prefix, uint64_t budget, Reporter& reporter, int pass,
                    int num_passes, int64_t total) {
  const size_t capacity = std::max<size_t>(size_t{1} << 20, budget / 16);
  std::vector<int64_t> buffer;
  buffer.reserve(std::min<size_t>(capacity, size_t{1} << 24));
  std::vector<std::unique_ptr<FileWriter>> runs;
  auto spill = [&] {
    std::sort(buffer.begin(), buffer.end());
    buffer.erase(std::unique(buffer.begin(), buffer.end()), buffer.end());
    runs.push_back(std::make_unique<FileWriter>(prefix + ".run" + std::to_string(runs.size())));
    runs.back()->append(buffer.data(), buffer.size() * sizeof(int64_t));
    buffer.clear();
  };
  EdgeBatch batch;
  int64_t done = 0;
  source.rewind();
  while (source.next(batch)) {
    for (size_t i = 0; i < batch.size(); ++i) {
      buffer.push_back(batch.src[i]);
      buffer.push_back(batch.dst[i]);
    }
    if (buffer.size() >= capacity) spill();
    done += static_cast<int64_t>(batch.size());
    reporter.report("remap", pass, num_passes, done, total, false);
  }
  spill();

  // k-way merge of the runs into one strictly increasing table.
  table_file_ = std::make_unique<FileWriter>(prefix + ".idmap");
  struct Cursor {
    FileWriter* file;
    uint64_t next = 0;  // next element index in the run
    uint64_t count;
    std::vector<int64_t> chunk;
    size_t pos = 0;
    bool refill() {
      if (next >= count) return false;
      const uint64_t n = std::min<uint64_t>(count - next, 1u << 16);
      chunk.resize(n);
      file->read_at(chunk.data(), n * sizeof(int64_t), next * sizeof(int64_t));
      next += n;
      pos = 0;
      return true;
    }
  };
  std::vector<Cursor> cursors;
  for (auto& run : runs) cursors.push_back(Cursor{run.get(), 0, run->size() / sizeof(int64_t), {}, 0});
  using Item = std::pair<int64_t, size_t>;
  std::priority_queue<Item, std::vector<Item>, std::greater<Item>> heap;
  for (size_t r = 0; r < cursors.size(); ++r) {
    if (cursors[r].refill()) heap.emplace(cursors[r].chunk[0], r);
  }
  std::vector<int64_t> out;
  out.reserve(1 << 16);
  bool have_last = false;
  int64_t last = 0;
  while (!heap.empty()) {
    auto [value, r] = heap.top();
    heap.pop();
    if (!have_last || value != last) {
      out.push_back(value);
      if (out.size() == out.capacity()) {
        table_file_->append(out.data(), out.size() * sizeof(int64_t));
        out.clear();
      }
      last = value;
      have_last = true;
    }
    Cursor& c = cursors[r];
    if (++c.pos < c.chunk.size() || c.refill()) heap.emplace(c.chunk[c.pos], r);
  }
  table_file_->append(out.data(), out.size() * sizeof(int64_t));
  size_ = static_cast<int64_t>(table_file_->size() / sizeof(int64_t));
  if (size_ > 0) {
    map_ = std::make_unique<MappedFile>(table_file_->path());
    ids_ = reinterpret_cast<const int64_t*>(map_->data());
  }
}

}  // namespace atlas
