// The memory an index holds beyond its bank, as training's memory plan estimates it
// (search::index_memory_bytes), against the bytes the allocator hands out while make_index
// builds it (glibc's mallinfo2: in-use heap + mapped blocks, kept after the build); and
// searches_exactly against the built index's own answer.
#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <malloc.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "search/factory.h"

namespace patchcore::search {
namespace {

int64_t allocated_bytes() {
  const struct mallinfo2 m = mallinfo2();
  return static_cast<int64_t>(m.uordblks + m.hblkhd);
}

struct Case {
  std::string name;
  SearchOptions options;
  int64_t rows;
};

std::vector<Case> cases() {
  SearchOptions native, shortlist, flat, hnsw, hnsw16, ivf;
  shortlist.mode = SearchMode::kShortlist;
  flat.backend = hnsw.backend = ivf.backend = Backend::kFaiss;
  hnsw.faiss_index = hnsw16.faiss_index = FaissIndexType::kHnsw;
  hnsw16.backend = Backend::kFaiss;
  hnsw16.hnsw_m = 16;
  ivf.faiss_index = FaissIndexType::kIvf;
  return {{"exact (small bank)", native, kPrunedMinRows - 1}, {"pruned", native, 6000},
          {"shortlist", shortlist, 6000},                     {"faiss flat", flat, 6000},
          {"faiss hnsw", hnsw, 6000},                         {"faiss hnsw M=16", hnsw16, 6000},
          {"faiss ivf", ivf, 6000}};
}

TEST(IndexMemory, EstimateCoversWhatTheIndexAllocates) {
  // One thread: mallinfo2 counts the main arena's heap (and every mapped block); worker
  // threads would allocate from arenas of their own.
  at::set_num_threads(1);
  constexpr int64_t kDims = 192;
  for (const Case& c : cases()) {
    torch::manual_seed(0);
    const torch::Tensor bank = torch::randn({c.rows, kDims});
    const ShortlistProjection projection =
        c.options.mode == SearchMode::kShortlist ? fit_shortlist_projection(bank, shortlist_dims_for(c.options, kDims))
                                                 : ShortlistProjection{};
    make_index(bank, c.options, projection);  // once before: lazy one-time set-up is not the index's
    malloc_trim(0);
    const int64_t before = allocated_bytes();
    const auto index = make_index(bank, c.options, projection);
    const int64_t held = allocated_bytes() - before;
    const int64_t estimate = index_memory_bytes(c.rows, kDims, c.options);
    EXPECT_EQ(index->exact(), searches_exactly(c.options)) << c.name;
    // Never below what the index holds (the plan is a bound); at most half again above it
    // (plus the estimate's 16 KiB for object headers).
    EXPECT_GE(estimate, held) << c.name << ": " << index->describe();
    EXPECT_LE(estimate, held + held / 2 + 16384) << c.name << ": " << index->describe();
    std::printf("%-20s held %10lld B, estimate %10lld B (%.2fx)\n", c.name.c_str(), static_cast<long long>(held),
                static_cast<long long>(estimate), static_cast<double>(estimate) / static_cast<double>(held));
  }
}

}  // namespace
}  // namespace patchcore::search
