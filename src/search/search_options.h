#pragma once
// Which nearest-neighbour backend a model uses, and its parameters. Chosen at training
// time (--use-faiss, --faiss-*), stored in the checkpoint and config.yaml, and used
// again when the model is loaded for prediction.
#include <string>

namespace patchcore::search {

// kAuto picks by measurement (see factory.h): today always the native exact kernel.
enum class Backend { kAuto, kNative, kFaiss };
// How the nearest bank row is found; part of the model: native prediction and both exported
// graphs run the same mode (search/shortlist_index.h, export/graph.cpp).
//   kExact: every bank row.
//   kShortlist: the shortlist_size nearest rows in a PCA-reduced space (shortlist_dims), then
//   the exact distance to those rows only.
enum class SearchMode { kExact, kShortlist };
enum class FaissIndexType { kFlat, kHnsw, kIvf };

struct SearchOptions {
  Backend backend = Backend::kAuto;
  FaissIndexType faiss_index = FaissIndexType::kFlat;  // with kFaiss: Flat is exact
  int hnsw_m = 32;             // graph degree
  int hnsw_ef_construction = 80;
  int hnsw_ef_search = 64;     // recall@1 >= 0.99 on the shared magnetic-tile features
  int ivf_nlist = 0;           // 0 = about 4 sqrt(M), at most M / 39 (FAISS's training minimum)
  int ivf_nprobe = 16;
  SearchMode mode = SearchMode::kExact;
  int shortlist_dims = 0;    // d of the reduced space; 0 = automatic (shortlist_dims_for)
  int shortlist_size = 8;    // rows re-ranked exactly per patch
};

std::string to_string(Backend backend);            // auto | native | faiss
std::string to_string(FaissIndexType type);        // flat | hnsw | ivf
std::string to_string(SearchMode mode);            // exact | shortlist
SearchMode search_mode_from_string(const std::string& name);     // UserError on unknown names
Backend backend_from_string(const std::string& name);            // UserError on unknown names
FaissIndexType faiss_index_from_string(const std::string& name);  // UserError on unknown names
// UserError naming the option when a parameter is out of range.
void validate(const SearchOptions& options);
// d used for a bank of `channels` channels: shortlist_dims (at most channels), or when 0
// min(128, channels / 6) rounded down to a multiple of 8 (at least 8): the reduced GEMM then
// costs at most a sixth of the exact one, which the ONNX Runtime measurements need for a 3x
// faster search part (docs/benchmarks.md), and 128 dims kept recall@1 at 1.0 on real features.
int64_t shortlist_dims_for(const SearchOptions& options, int64_t channels);
// nlist actually used for a bank of `bank_rows` rows.
int ivf_nlist_for(const SearchOptions& options, long bank_rows);

}  // namespace patchcore::search
