// Test hooks (environment variables, meant for the test-suite and for mirrors; the CLI
// does not document them):
//   PATCHCORE_WEIGHTS_URL_OVERRIDE     replaces the official URL of whatever backbone is
//                                      resolved (MobileNet: the model.json URL; its shards
//                                      are fetched from beside it). file:// URLs work.
//   PATCHCORE_WEIGHTS_SHA256_OVERRIDE  replaces the expected SHA-256 of that file (MobileNet:
//                                      of model.json); set but empty = no known hash (the
//                                      download then only warns with the computed hash).
// MobileNet shards are always checked against the table of the official shards
// (weight_locations.cpp).
#include "backbone/weight_cache.h"

#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <random>
#include <sstream>
#include <system_error>
#include <vector>

#include "backbone/backbone.h"
#include "backbone/download.h"
#include "backbone/tfjs_loader.h"
#include "backbone/weight_locations.h"
#include "io/error.h"
#include "io/progress.h"
#include "io/sha256.h"

namespace patchcore {

namespace fs = std::filesystem;

namespace {

bool is_tfjs(const std::string& backbone) { return backbone_info(backbone).weight_format == WeightFormat::kTfjs; }

std::string random_suffix() {
  std::random_device rd;
  std::ostringstream s;
  s << ::getpid() << "-" << std::hex << rd();
  return s.str();
}

// Removes a path (file or folder) on scope exit unless released.
class RemoveGuard {
 public:
  explicit RemoveGuard(fs::path path) : path_(std::move(path)) {}
  ~RemoveGuard() {
    if (path_.empty()) return;
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  void release() { path_.clear(); }
  RemoveGuard(const RemoveGuard&) = delete;
  RemoveGuard& operator=(const RemoveGuard&) = delete;

 private:
  fs::path path_;
};

void rename_into_place(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::rename(from, to, ec);
  if (ec)
    throw UserError("cannot move the downloaded " + from.string() + " to " + to.string() + ": " +
                    ec.message());
}


struct EffectiveLocation {
  std::string url;
  std::string sha256;  // empty = unknown
  fs::path cache_path;
};

EffectiveLocation effective_location(const std::string& backbone) {
  const WeightLocation& official = official_weight_location(backbone);
  EffectiveLocation loc{official.url, official.sha256, weights_cache_dir() / official.cache_relative};
  if (const char* url = std::getenv("PATCHCORE_WEIGHTS_URL_OVERRIDE"); url && *url) loc.url = url;
  if (const char* sha = std::getenv("PATCHCORE_WEIGHTS_SHA256_OVERRIDE")) loc.sha256 = sha;
  return loc;
}

std::string manual_advice(const std::string& backbone, const EffectiveLocation& loc) {
  std::ostringstream s;
  if (is_tfjs(backbone)) {
    s << "To install the weights by hand, download model.json from " << loc.url
      << " and every weight shard it lists (group1-shard1of1 ... , from "
      << url_directory(loc.url) << ") on a machine with internet access, and put them all in "
      << loc.cache_path.parent_path().string() << "/ (so that " << loc.cache_path.string()
      << " exists)";
  } else {
    s << "To install the weights by hand, download " << loc.url
      << " on a machine with internet access and save it as " << loc.cache_path.string();
  }
  s << " (the cache folder is $PATCHCORE_HOME, default ~/.cache/patchcore).\n"
    << "Or pass --weights FILE to use a weight file you already have"
    << (is_tfjs(backbone) ? " (the TF.js folder or its model.json)" : " (.safetensors, torchvision names)")
    << ".\nFor a smoke test without pretrained weights pass --weights random:SEED "
       "(e.g. --weights random:0); anomaly scores are then meaningless.";
  return s.str();
}

[[noreturn]] void throw_download_failure(const std::string& backbone, const EffectiveLocation& loc,
                                         const DownloadFailure& failure) {
  std::ostringstream s;
  s << "cannot download the " << backbone << " weights from " << failure.url << ": "
    << failure.what << ".\n";
  if (failure.offline_like)
    s << "This machine seems to be offline (it cannot reach the download server).\n";
  else
    s << "The download server could not be reached or refused the download; if this machine "
         "is offline or behind a firewall, install the weights by hand.\n";
  s << manual_advice(backbone, loc);
  throw UserError(s.str());
}

// Checks a downloaded file's SHA-256. Mismatch -> UserError; unknown -> warning.
void check_download_sha256(const fs::path& file, const std::string& url, const std::string& expected,
                           const fs::path& final_path) {
  const std::string actual = sha256_file(file);
  if (expected.empty()) {
    std::cerr << "warning: no published SHA-256 known for " << url << "; computed " << actual
              << "; verify it\n";
    return;
  }
  if (actual != expected)
    throw UserError("the file downloaded from " + url + " has SHA-256 " + actual + " but " +
                    expected + " was expected; it was discarded and nothing was written to " +
                    final_path.string() +
                    ". The download was corrupted or the published file changed: retry, or "
                    "download it by hand, check it, and pass --weights FILE.");
}

void download_safetensors(const std::string& backbone, const EffectiveLocation& loc) {
  std::error_code ec;
  fs::create_directories(loc.cache_path.parent_path(), ec);
  if (ec)
    throw UserError("cannot create the weights cache folder " +
                    loc.cache_path.parent_path().string() + ": " + ec.message() +
                    " (set PATCHCORE_HOME to use another folder)");
  const fs::path temp = loc.cache_path.string() + ".part-" + random_suffix();
  RemoveGuard guard(temp);
  std::cerr << "Downloading " << backbone << " weights from " << loc.url << "\n";
  try {
    download_to(loc.url, temp, "download " + url_file_name(loc.url));
  } catch (const DownloadFailure& failure) {
    throw_download_failure(backbone, loc, failure);
  }
  check_download_sha256(temp, loc.url, loc.sha256, loc.cache_path);
  rename_into_place(temp, loc.cache_path);
  guard.release();
  std::cerr << "Saved " << loc.cache_path.string() << "\n";
}

bool tfjs_complete(const fs::path& model_json) {
  std::error_code ec;
  if (!fs::is_regular_file(model_json, ec)) return false;
  try {
    for (const auto& shard : tfjs_shard_names(model_json))
      if (!fs::is_regular_file(model_json.parent_path() / shard, ec)) return false;
  } catch (const UserError&) {
    return false;  // an unreadable model.json counts as absent; it is downloaded again
  }
  return true;
}

// Downloads model.json and its shards into a temporary folder beside the final one, checks
// every SHA-256, then moves the shards and finally model.json into place.
void download_tfjs(const std::string& backbone, const EffectiveLocation& loc) {
  const fs::path final_dir = loc.cache_path.parent_path();
  std::error_code ec;
  fs::create_directories(final_dir.parent_path(), ec);
  if (ec)
    throw UserError("cannot create the weights cache folder " + final_dir.parent_path().string() +
                    ": " + ec.message() + " (set PATCHCORE_HOME to use another folder)");
  const fs::path temp_dir =
      final_dir.parent_path() / ("." + final_dir.filename().string() + ".part-" + random_suffix());
  fs::create_directories(temp_dir, ec);
  if (ec) throw UserError("cannot create " + temp_dir.string() + ": " + ec.message());
  RemoveGuard guard(temp_dir);

  std::cerr << "Downloading " << backbone << " weights from " << loc.url << "\n";
  const fs::path temp_json = temp_dir / loc.cache_path.filename();
  std::vector<std::string> shards;
  try {
    download_to(loc.url, temp_json, "");  // small: no bar of its own
    check_download_sha256(temp_json, loc.url, loc.sha256, loc.cache_path);
    shards = tfjs_shard_names(temp_json);
    const auto& known = official_tfjs_shard_sha256();
    const std::string base = url_directory(loc.url);
    ProgressBar overall("download shards", static_cast<int64_t>(shards.size()));
    for (size_t i = 0; i < shards.size(); ++i) {
      const std::string shard_url = base + shards[i];
      const fs::path temp_shard = temp_dir / shards[i];
      download_to(shard_url, temp_shard, "");  // the overall bar counts shards
      const auto it = known.find(shards[i]);
      check_download_sha256(temp_shard, shard_url, it == known.end() ? "" : it->second,
                            final_dir / shards[i]);
      overall.update(static_cast<int64_t>(i + 1));
    }
    overall.finish();
  } catch (const DownloadFailure& failure) {
    throw_download_failure(backbone, loc, failure);
  }
  fs::create_directories(final_dir, ec);
  if (ec) throw UserError("cannot create " + final_dir.string() + ": " + ec.message());
  // model.json last: the cache counts as complete only when it and all shards are present.
  for (const auto& shard : shards) rename_into_place(temp_dir / shard, final_dir / shard);
  rename_into_place(temp_json, loc.cache_path);
  std::cerr << "Saved " << final_dir.string() << "/\n";
}

// Verifies a cached copy against the known hashes; returns the ResolvedWeights sha256.
std::string verify_cached(const std::string& backbone, const EffectiveLocation& loc) {
  const auto corrupt = [&](const fs::path& file, const std::string& actual,
                           const std::string& expected) {
    return UserError("the cached weight file " + file.string() + " has SHA-256 " + actual +
                     " but " + expected + " was expected (it is corrupt or a different file). "
                     "Delete it to download it again, or pass --weights " + file.string() +
                     " to use it anyway.");
  };
  if (!is_tfjs(backbone)) {
    const std::string actual = sha256_file(loc.cache_path);
    if (!loc.sha256.empty() && actual != loc.sha256) throw corrupt(loc.cache_path, actual, loc.sha256);
    return actual;
  }
  const std::string json_sha = sha256_file(loc.cache_path);
  if (!loc.sha256.empty() && json_sha != loc.sha256)
    throw corrupt(loc.cache_path, json_sha, loc.sha256);
  const auto& known = official_tfjs_shard_sha256();
  for (const auto& shard : tfjs_shard_names(loc.cache_path)) {
    const auto it = known.find(shard);
    if (it == known.end()) continue;
    const fs::path p = loc.cache_path.parent_path() / shard;
    const std::string actual = sha256_file(p);
    if (actual != it->second) throw corrupt(p, actual, it->second);
  }
  return tfjs_sha256(loc.cache_path);
}

}  // namespace

CachedWeights cached_official_weights(const std::string& backbone) {
  std::error_code ec;
  const EffectiveLocation loc = effective_location(backbone);
  const bool cached = is_tfjs(backbone) ? tfjs_complete(loc.cache_path) : fs::is_regular_file(loc.cache_path, ec);
  if (!cached) {
    if (is_tfjs(backbone))
      download_tfjs(backbone, loc);
    else
      download_safetensors(backbone, loc);
  }
  return {loc.cache_path, verify_cached(backbone, loc)};
}

}  // namespace patchcore
