#pragma once
// Builds the search::Index a model's SearchOptions ask for.
#include <memory>

#include "search/index.h"
#include "search/search_options.h"
#include "search/shortlist_index.h"

namespace patchcore::search {

// Backend::kAuto resolves to the native exact kernel at every bank size: measured
// faster than FAISS Flat (the other exact choice) from 1k to 100k rows
// (docs/benchmarks.md, bench/search_bench). Approximate indexes change results, so
// they are used only when asked for.
Backend resolve(Backend backend);

// The native backend searches banks of at least this many rows by PrunedIndex (same
// results, most of the bank skipped), smaller ones by ExactIndex. Measured by
// `predict_bench --benchmark_filter=BM_Search` (docs/benchmarks.md): level at 250-500 rows,
// 2.2-2.7x faster at 1000.
constexpr int64_t kPrunedMinRows = 1000;

// SearchMode::kShortlist needs the model's projection (the checkpoint stores it).
std::unique_ptr<Index> make_index(const torch::Tensor& bank, const SearchOptions& options,
                                  const ShortlistProjection& projection = {});

// Whether the index make_index builds for these options finds the exact nearest row (Index::exact()).
bool searches_exactly(const SearchOptions& options);

// Bytes the index make_index builds for a [rows, dims] float32 bank holds beyond that bank
// tensor (its own copies of the bank, norms, graph, lists), for training's memory plan. An
// estimate from the index's layout; tests/search/index_memory_test.cpp checks it against the
// allocator.
int64_t index_memory_bytes(int64_t rows, int64_t dims, const SearchOptions& options);

}  // namespace patchcore::search
