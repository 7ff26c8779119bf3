#pragma once
// The official pretrained weights in the local cache ($PATCHCORE_HOME, default
// ~/.cache/patchcore): downloaded on first use, verified against the published SHA-256 on
// every use. Downloads go into a temporary file (or, for the multi-file TF.js model, a
// temporary folder) inside the cache folder, and the SHA-256 is checked before anything is
// renamed into place, so a failed or mismatched download leaves nothing behind.
#include <filesystem>
#include <string>

namespace patchcore {

struct CachedWeights {
  std::filesystem::path path;  // the weight file (TF.js: its model.json)
  std::string sha256;          // of the file (TF.js: of model.json + shards in manifest order)
};

// The official weights of `backbone`, downloaded first when the cache lacks them. Offline or
// a refused download: UserError with the URL and where to put the files by hand; a corrupt
// cached file: UserError naming it.
CachedWeights cached_official_weights(const std::string& backbone);

}  // namespace patchcore
