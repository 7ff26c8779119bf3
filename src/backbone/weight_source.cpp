// Where backbone weights come from: weights_cache_dir, official_weight_location and
// resolve_weights (load_weight_file lives in weight_files.cpp).
//
// Downloads use libcurl into a temporary file (or, for the multi-file TF.js model, a
// temporary folder) inside the cache folder; the SHA-256 is checked before anything is
// renamed into place, so a failed or mismatched download leaves nothing behind.
//
// Test hooks (environment variables, meant for the test-suite and for mirrors; the CLI
// does not document them):
//   PATCHCORE_WEIGHTS_URL_OVERRIDE     replaces the official URL of whatever backbone is
//                                      resolved (MobileNet: the model.json URL; its shards
//                                      are fetched from beside it). file:// URLs work.
//   PATCHCORE_WEIGHTS_SHA256_OVERRIDE  replaces the expected SHA-256 of that file (MobileNet:
//                                      of model.json); set but empty = no known hash (the
//                                      download then only warns with the computed hash).
// MobileNet shards are always checked against the table of the official shards below.
#include "backbone/weight_source.h"

#include <curl/curl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <system_error>
#include <vector>

#include "io/error.h"
#include "io/progress.h"
#include "io/sha256.h"
#include "io/text.h"

namespace patchcore {

namespace fs = std::filesystem;

namespace {

// SHA-256 of the official TF.js shards of mobilenet_v1_0.75_224 (tfjs-models bucket),
// computed from byte-identical copies of the published files.
const std::map<std::string, std::string>& mobilenet_shard_sha256() {
  static const std::map<std::string, std::string> table = {
    {"group1-shard1of1", "410b3cc24d17aeabb2b0da4ba3b70383bbd40d7876c7c3d0e5184e1624f97370"},
    {"group2-shard1of1", "d81c61c33c32ddae0ff0a460efc326ebfdf5b44e7e4891feb12e9fadd09a56a3"},
    {"group3-shard1of1", "112908d83ad17ecaf849958cce3ca7bfed80157a51360ba879528b2435e2f082"},
    {"group4-shard1of1", "5e94d298bb9dbc3112e992466a03caac0b24f0438d3a9f1f6cd6bda9a54ae149"},
    {"group5-shard1of1", "9df642d8547369f3729945e24851a2e6b53151322d811a6ff056aa6cfade05ae"},
    {"group6-shard1of1", "1d4757b388337362ec777dfede8342c8a204d2fdcbdd05fedc2e8c043bc770d2"},
    {"group7-shard1of1", "2af6b4d2bd0445481274ee0c2c62f1c97c9b07358c1f242502d9399a33633462"},
    {"group8-shard1of1", "fedb2a393c7e5a9cd877a09a03cb173a6b5265c3f1c64996fa6eeb73caf281a2"},
    {"group9-shard1of1", "8c0dd6230a3dfd282624bd3ca3e288cb18bd8094a02a93cadd06107d7b0fdc76"},
    {"group10-shard1of1", "ffe87f44c0b246b0e3a2e8f7b4c8755df7e90083eab280046e1949f6d3094548"},
    {"group11-shard1of1", "d5422fd33b5b3a761b4872e350236445d006f5b024a8b50f1e19aec5df998e75"},
    {"group12-shard1of1", "21bcbe424326f5d44476b4116695842dfec1dc1c83257db7c300bdbd14cbcbe0"},
    {"group13-shard1of1", "cee9d1834e80e98e0f55cb40a654540f9e9b1fd18ab2f16afa1e8bd916addc75"},
    {"group14-shard1of1", "4851f5e477559b41db0e267878b86ccf2ea1cc7ed9f5d7599d661ba980718c65"},
    {"group15-shard1of1", "262efea5db1248f77ea109c628647afe8f1d2750812dd764de514bcb72fb5fbf"},
    {"group16-shard1of1", "2f4d993fb69caaabb060efcc347b54b0949e17a3d43cff315072e550775e993b"},
    {"group17-shard1of1", "d1518210ac84e0a713d01bebfbff1aa93c4ec16b4f43f98f2f4a2134f605324e"},
    {"group18-shard1of1", "c730ccf93ab504096fe2294c7bbbb66855a07f2480c0f72849cad9a90092729b"},
    {"group19-shard1of1", "d39c30fc0cb24c28dcf0a869ca8d6528e596599e70f7899f453dc5de775e5de2"},
    {"group20-shard1of1", "d94cd173f5b95be0a192333b6c5203123a35f8d5429b122eba46da5fd7d01e70"},
    {"group21-shard1of1", "982cbbfb5bc00408b67182a65140b8ca6793cb495ab94c6b83c71384435684e3"},
    {"group22-shard1of1", "64f8593a7e07081e8f0981393e5515a23153459f19685ebd69e8f4e64b6de258"},
    {"group23-shard1of1", "38be667fa3398643de8bae70b8693e2d895cfe099fd34e9c241bc572bb764ec8"},
    {"group24-shard1of1", "62c62d667246e8af09ed15b557add88ed9b0a9c7f058d8c9b8e20dc4183a3616"},
    {"group25-shard1of1", "b4e3ea0b6fb1c3e160cc673ce9c81d592ff233e608b2fc1dc0792125b867bd68"},
    {"group26-shard1of1", "0059826ac853f592c50ca5d07edb8feb1bd84a855eba47333cb834095acb6b2b"},
    {"group27-shard1of1", "3de17d3971bf39138917a87a4efa335c9cc82a33170f552361345f583a18b0cf"},
    {"group28-shard1of1", "3aaa10b8e1932a9eebf04d9f85a65050e2ecc5efb295bdcd262c2e4c560ff70c"},
    {"group29-shard1of1", "29e5c43deddd5033397f359611b840d130493c2eebb841b627de231a9a3a3133"},
    {"group30-shard1of1", "f95062a80935d493826eceb4e7d77655d10fe3be398653d7391beb282b16e105"},
    {"group31-shard1of1", "e4dbda049f2f49709fd4198b673fb5806e1e03d852645acdf4f1b0857f3cb561"},
    {"group32-shard1of1", "2af21d7664ffcbba5af49116fe97e643ac1761a0dff53af05ee0755fac487af7"},
    {"group33-shard1of1", "b082a0a4d7d18fcecbc0bd4d9bddfe52bd3b9d8bd375d0603201dfc8ce6d6c14"},
    {"group34-shard1of1", "f2053a6599e047de9e91fdf83a34097494e03f1467522797aab6ccf843ed6cb9"},
    {"group35-shard1of1", "fd2e5a79e02d66d381b115b5c4bb84495e4d6a9be613e33717edc8ed4c391a71"},
    {"group36-shard1of1", "24c244d8b8125eb206eacce88bf9b42748787b5a1f58899cd2e96e9094ba1a8d"},
    {"group37-shard1of1", "fa347a3052379e031c4aa71a7cde35e2c87f1907a2715fd2d01f05a901b35855"},
    {"group38-shard1of1", "f008795067a5c6d654c113c3c17c96db04b2a73f9246182c902eaccdd633b4e2"},
    {"group39-shard1of1", "d45475bd4af1c142501fd3df402f4d14fab9129d549a6b2ac07dd5c6f0751d91"},
    {"group40-shard1of1", "06e63442b82f9a9ee53c6623b9f075aaa92a286c35d8f37ec6b6e58ff6e4eec1"},
    {"group41-shard1of1", "1a31e532f7918b7c2abbf86bd4ba83357af06e13f9eecb431fcbfd43739be3e9"},
    {"group42-shard1of1", "6aee67f861139d308f8c3edbd83ae1efa398ee83108b5004bab57984e7128e66"},
    {"group43-shard1of1", "a9e74c49739a0a7b8668aa82ead0da33dc5ae5adab8fd30edbb64b9bfca341a5"},
    {"group44-shard1of1", "1a06e526debe9ece45ab3d5171ba0a82270187982cf74bb3f3e13bfb07e815d8"},
    {"group45-shard1of1", "9bf6693d9abd3272add6936b9582bdef043c5be9ffa3c34d0f55dd45d9c3eaa1"},
    {"group46-shard1of1", "cf5d3fa48f73a4e96fabf52369c4fd3944c66c174f9a0f0c32a74f85a652496d"},
    {"group47-shard1of1", "e74b658997342f16d95bb370052f62116150f5954c71f5f0bfc39b487016177f"},
    {"group48-shard1of1", "76df2c6b07777e7ac2fd2ccd50b72e5b7537a068198f896c458ef131c785f4c6"},
    {"group49-shard1of1", "9ffa2bc5a5dd357e2c224f390524508ed6eb7579e440ae70785167357da84c2a"},
    {"group50-shard1of1", "88858e48f4a3c8d953e281462f32971340d671f2e08e09be26ba140647264b0b"},
    {"group51-shard1of1", "3279efe417072ed8a64ee5bfd6122bf7bb952a846acec74d51af5c2938946f6f"},
    {"group52-shard1of1", "99bcebafa9bcb17c3045f9fb66bb956684a117a229c2b7ebb6b69800e1d0e158"},
    {"group53-shard1of1", "fb009466c7f22322df570d32f3d69d025c1450ed3226970939f69766ebeb05a5"},
    {"group54-shard1of1", "ec11ebd99a65e90d0f8a9e93d6edaa6473351553802c56d9869e433966e9b88b"},
    {"group55-shard1of1", "510435e7b0a4d458a47f9cfd024ef44bf9a4c5b64add54d35f4523bcda7a8efa"},
  };
  return table;
}

const std::map<std::string, WeightLocation>& locations() {
  // SHA-256 of the ResNet files: the Git LFS object ids Hugging Face publishes for
  // timm/<arch>.tv_in1k model.safetensors (torchvision IMAGENET1K_V1 weights).
  static const std::map<std::string, WeightLocation> table = {
      {"resnet18",
       {"https://huggingface.co/timm/resnet18.tv_in1k/resolve/main/model.safetensors",
        "694f673df6520a3158624e8a89af086f59923ee4cd7436fe5bc3bc71d295ad81",
        "weights/resnet18.tv_in1k.safetensors"}},
      {"resnet50",
       {"https://huggingface.co/timm/resnet50.tv_in1k/resolve/main/model.safetensors",
        "5d061a3c593d795bfe682d9b152bafbcf550579873492def3515b46db1189888",
        "weights/resnet50.tv_in1k.safetensors"}},
      {"wide_resnet50_2",
       {"https://huggingface.co/timm/wide_resnet50_2.tv_in1k/resolve/main/model.safetensors",
        "df6fb6c4824769769de18e14088475fd6ee94236849aa4e5d8022ba9d9a9a16c",
        "weights/wide_resnet50_2.tv_in1k.safetensors"}},
      {"mobilenet_v1_0.75",
       {"https://storage.googleapis.com/tfjs-models/tfjs/mobilenet_v1_0.75_224/model.json",
        "a74c25424bd9939b1c245a58da417e35d1ca16f0b009490a1c44b43d982600d9",
        "weights/mobilenet_v1_0.75_224_tfjs/model.json"}},
  };
  return table;
}

bool is_tfjs(const std::string& backbone) { return backbone_info(backbone).weight_format == WeightFormat::kTfjs; }

// ---------------------------------------------------------------- hashing

// Shard file names of a TF.js model.json, in manifest order.
std::vector<std::string> tfjs_shards(const fs::path& model_json) {
  std::ifstream in(model_json, std::ios::binary);
  if (!in) throw UserError("cannot read " + model_json.string());
  nlohmann::json json;
  try {
    in >> json;
  } catch (const std::exception& e) {
    throw UserError(model_json.string() + " is not valid JSON: " + e.what());
  }
  std::vector<std::string> shards;
  if (!json.is_object() || !json.contains("weightsManifest") || !json["weightsManifest"].is_array())
    throw UserError(model_json.string() +
                    " has no weightsManifest; expected a TensorFlow.js layers model");
  for (const auto& group : json["weightsManifest"]) {
    if (!group.is_object() || !group.contains("paths") || !group["paths"].is_array())
      throw UserError(model_json.string() + ": a weightsManifest group lacks its 'paths'");
    for (const auto& p : group["paths"]) {
      if (!p.is_string()) throw UserError(model_json.string() + ": a shard path is not a string");
      const std::string name = p.get<std::string>();
      // Shards must sit beside model.json: no absolute paths, no way out of the folder.
      if (name.empty() || name.find('/') != std::string::npos ||
          name.find('\\') != std::string::npos || name == "." || name == "..")
        throw UserError(model_json.string() + ": unsupported shard path '" + name +
                        "' (shards must be plain file names beside model.json)");
      shards.push_back(name);
    }
  }
  return shards;
}

// SHA-256 over model.json followed by its shards in manifest order.
std::string tfjs_sha256(const fs::path& model_json) {
  Sha256 hash;
  hash.add_file(model_json);
  for (const auto& shard : tfjs_shards(model_json)) {
    const fs::path p = model_json.parent_path() / shard;
    if (!fs::exists(p))
      throw UserError("TF.js weight shard " + p.string() + " (listed in " + model_json.string() +
                      ") is missing");
    hash.add_file(p);
  }
  return hash.hex();
}

fs::path tfjs_model_json(const fs::path& path) {
  std::error_code ec;
  return fs::is_directory(path, ec) ? path / "model.json" : path;
}

// ---------------------------------------------------------------- helpers

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

std::string url_directory(const std::string& url) {
  const auto slash = url.rfind('/');
  return slash == std::string::npos ? url : url.substr(0, slash + 1);
}

std::string url_file_name(const std::string& url) {
  std::string name = url;
  const auto cut = name.find_first_of("?#");
  if (cut != std::string::npos) name = name.substr(0, cut);
  const auto slash = name.rfind('/');
  return slash == std::string::npos ? name : name.substr(slash + 1);
}

// Thrown by the downloader; turned into a UserError with the manual-placement advice.
struct DownloadFailure {
  std::string url;
  std::string what;   // curl's message or the HTTP status
  bool offline_like;  // no connection at all (vs. the server answering with an error)
};

// ---------------------------------------------------------------- libcurl download

struct TransferState {
  std::FILE* file = nullptr;
  std::string label;
  std::unique_ptr<ProgressBar> bar;
  bool write_failed = false;
};

size_t write_callback(char* data, size_t size, size_t count, void* user) {
  auto* state = static_cast<TransferState*>(user);
  const size_t bytes = size * count;
  if (std::fwrite(data, 1, bytes, state->file) != bytes) {
    state->write_failed = true;
    return 0;  // makes curl abort with CURLE_WRITE_ERROR
  }
  return bytes;
}

int progress_callback(void* user, curl_off_t total, curl_off_t done, curl_off_t, curl_off_t) {
  auto* state = static_cast<TransferState*>(user);
  if (total > 0 && !state->label.empty()) {
    if (!state->bar) state->bar = std::make_unique<ProgressBar>(state->label, total);
    state->bar->update(done);
  }
  return 0;
}

void ensure_curl_initialised() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

bool is_connectivity_error(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_PEER_FAILED_VERIFICATION:
      return true;
    default:
      return false;
  }
}

// Downloads `url` to `destination` (a new file), drawing a progress bar labelled `label`
// (none when empty). Throws DownloadFailure for transfer errors, UserError for local ones.
void download_to(const std::string& url, const fs::path& destination, const std::string& label) {
  ensure_curl_initialised();
  TransferState state;
  state.label = label;
  state.file = std::fopen(destination.c_str(), "wb");
  if (state.file == nullptr)
    throw UserError("cannot create " + destination.string() + ": " + std::strerror(errno) +
                    " (is the weights cache folder writable? set PATCHCORE_HOME to change it)");
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) {
    std::fclose(state.file);
    throw UserError("cannot initialise libcurl to download " + url);
  }
  char error_buffer[CURL_ERROR_SIZE] = {0};
  CURL* h = curl.get();
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https,file");
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);  // abort below 1 KiB/s ...
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);     // ... sustained for a minute
  curl_easy_setopt(h, CURLOPT_USERAGENT, "patchcore-cpp/0.1 (libcurl)");
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_callback);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &state);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress_callback);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, &state);
  const CURLcode code = curl_easy_perform(h);
  long http_status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &http_status);
  const bool closed_ok = std::fclose(state.file) == 0;
  if (code != CURLE_OK) {
    if (state.write_failed || code == CURLE_WRITE_ERROR)
      throw UserError("cannot write the download of " + url + " to " + destination.string() +
                      " (disk full or not writable?)");
    std::string what = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
    if (code == CURLE_HTTP_RETURNED_ERROR && http_status > 0)
      what = "the server answered HTTP " + std::to_string(http_status);
    throw DownloadFailure{url, what, is_connectivity_error(code)};
  }
  if (!closed_ok)
    throw UserError("cannot write the download of " + url + " to " + destination.string());
  if (state.bar) state.bar->finish();
}

// ---------------------------------------------------------------- resolution

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
    for (const auto& shard : tfjs_shards(model_json))
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
    shards = tfjs_shards(temp_json);
    const auto& known = mobilenet_shard_sha256();
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
  const auto& known = mobilenet_shard_sha256();
  for (const auto& shard : tfjs_shards(loc.cache_path)) {
    const auto it = known.find(shard);
    if (it == known.end()) continue;
    const fs::path p = loc.cache_path.parent_path() / shard;
    const std::string actual = sha256_file(p);
    if (actual != it->second) throw corrupt(p, actual, it->second);
  }
  return tfjs_sha256(loc.cache_path);
}

std::optional<uint64_t> parse_seed(const std::string& text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

}  // namespace

fs::path weights_cache_dir() {
  if (const char* home = std::getenv("PATCHCORE_HOME"); home && *home) return fs::path(home);
  if (const char* home = std::getenv("HOME"); home && *home)
    return fs::path(home) / ".cache" / "patchcore";
  throw UserError("cannot find a folder for the weights cache: neither PATCHCORE_HOME nor HOME "
                  "is set; set PATCHCORE_HOME to a writable folder");
}

const WeightLocation& official_weight_location(const std::string& backbone) {
  const auto& table = locations();
  const auto it = table.find(backbone);
  if (it == table.end()) {
    std::vector<std::string> names;
    for (const auto& [name, _] : table) names.push_back(name);
    throw UserError("unknown backbone '" + backbone + "'; backbones with official weights: " + join(names));
  }
  return it->second;
}

ResolvedWeights resolve_weights(const std::string& backbone, const std::string& option) {
  ResolvedWeights out;
  std::error_code ec;
  const std::string kRandom = "random:";

  // An explicit file or folder.
  if (!option.empty() && (option.rfind(kRandom, 0) != 0 || fs::exists(option, ec))) {
    const fs::path path(option);
    if (!fs::exists(path, ec)) {
      if (option == "random")
        throw UserError("--weights random needs a seed: use --weights random:SEED, e.g. random:0");
      throw UserError("weights file not found: " + path.string() +
                      " (pass an existing file or folder, or --weights random:SEED for a smoke "
                      "test, or leave --weights out to use the official pretrained weights)");
    }
    out.weights = load_weight_file(backbone, path);
    out.source = path.string();
    out.sha256 = is_tfjs(backbone) ? tfjs_sha256(tfjs_model_json(path)) : sha256_file(path);
    return out;
  }

  // Seeded random weights, explicit only.
  if (!option.empty()) {
    const std::string seed_text = option.substr(kRandom.size());
    const auto seed = parse_seed(seed_text);
    if (!seed)
      throw UserError("invalid --weights '" + option +
                      "': SEED must be a non-negative whole number below 2^64, e.g. random:0");
    out.weights = random_weights(backbone, *seed);
    out.source = kRandom + std::to_string(*seed);
    out.sha256 = out.source;
    return out;
  }

  // The cache, else a download from the official location.
  const EffectiveLocation loc = effective_location(backbone);
  const bool cached = is_tfjs(backbone) ? tfjs_complete(loc.cache_path)
                                        : fs::is_regular_file(loc.cache_path, ec);
  if (!cached) {
    if (is_tfjs(backbone))
      download_tfjs(backbone, loc);
    else
      download_safetensors(backbone, loc);
  }
  out.sha256 = verify_cached(backbone, loc);
  out.weights = load_weight_file(backbone, loc.cache_path);
  out.source = loc.cache_path.string();
  return out;
}

}  // namespace patchcore
