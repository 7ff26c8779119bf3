#include "search/search_options.h"

#include <algorithm>
#include <cmath>

#include "io/error.h"

namespace patchcore::search {

std::string to_string(Backend backend) {
  switch (backend) {
    case Backend::kNative: return "native";
    case Backend::kFaiss: return "faiss";
    case Backend::kAuto: break;
  }
  return "auto";
}

std::string to_string(FaissIndexType type) {
  switch (type) {
    case FaissIndexType::kHnsw: return "hnsw";
    case FaissIndexType::kIvf: return "ivf";
    case FaissIndexType::kFlat: break;
  }
  return "flat";
}

std::string to_string(SearchMode mode) { return mode == SearchMode::kShortlist ? "shortlist" : "exact"; }

SearchMode search_mode_from_string(const std::string& name) {
  if (name == "exact") return SearchMode::kExact;
  if (name == "shortlist") return SearchMode::kShortlist;
  throw UserError("unknown --search '" + name + "': use exact or shortlist");
}

Backend backend_from_string(const std::string& name) {
  if (name == "auto") return Backend::kAuto;
  if (name == "native") return Backend::kNative;
  if (name == "faiss") return Backend::kFaiss;
  throw UserError("unknown search backend '" + name + "': use auto, native or faiss");
}

FaissIndexType faiss_index_from_string(const std::string& name) {
  if (name == "flat") return FaissIndexType::kFlat;
  if (name == "hnsw") return FaissIndexType::kHnsw;
  if (name == "ivf") return FaissIndexType::kIvf;
  throw UserError("unknown --faiss-index '" + name + "': use flat, hnsw or ivf");
}

void validate(const SearchOptions& o) {
  auto require = [](bool ok, const std::string& message) {
    if (!ok) throw UserError(message);
  };
  require(o.hnsw_m >= 2 && o.hnsw_m <= 256, "--faiss-hnsw-m must be in [2, 256], got " + std::to_string(o.hnsw_m));
  require(o.hnsw_ef_construction >= 1, "--faiss-ef-construction must be at least 1");
  require(o.hnsw_ef_search >= 1, "--faiss-ef-search must be at least 1");
  require(o.ivf_nlist >= 0, "--faiss-nlist must be 0 (automatic) or positive");
  require(o.ivf_nprobe >= 1, "--faiss-nprobe must be at least 1");
  require(o.shortlist_dims >= 0, "--shortlist-dims must be 0 (automatic) or positive, got " +
                                     std::to_string(o.shortlist_dims));
  require(o.shortlist_size >= 1, "--shortlist-size must be at least 1, got " + std::to_string(o.shortlist_size));
  // The exported graphs run the shortlist with the exact re-rank; FAISS is a native-only backend.
  require(o.mode == SearchMode::kExact || o.backend != Backend::kFaiss,
          "--search shortlist runs the native kernels and the exported graphs; drop --use-faiss");
}

int64_t shortlist_dims_for(const SearchOptions& o, int64_t channels) {
  if (o.shortlist_dims > 0) return std::min<int64_t>(o.shortlist_dims, channels);
  return std::min<int64_t>(channels, std::max<int64_t>(8, std::min<int64_t>(128, channels / 6) / 8 * 8));
}

int ivf_nlist_for(const SearchOptions& o, long bank_rows) {
  if (o.ivf_nlist > 0) return static_cast<int>(std::min<long>(o.ivf_nlist, bank_rows));
  const long automatic = std::lround(4.0 * std::sqrt(static_cast<double>(bank_rows)));
  return static_cast<int>(std::max<long>(1, std::min(automatic, bank_rows / 39)));
}

}  // namespace patchcore::search
