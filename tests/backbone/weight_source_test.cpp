// Tests of weight resolution: cache folder, random:SEED, explicit files, and the
// download path (cache, SHA-256 check, atomic rename, offline error). No network exists
// here, so file:// URLs and an unreachable local port stand in for the official location
// through the PATCHCORE_WEIGHTS_URL_OVERRIDE / PATCHCORE_WEIGHTS_SHA256_OVERRIDE hooks.
#include "backbone/random_weights.h"
#include "backbone/weight_locations.h"
#include "backbone/weight_source.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>

#include "io/error.h"
#include "io/safetensors.h"
#include "io/sha256.h"
#include "test_support.h"

namespace patchcore {
namespace {

namespace fs = std::filesystem;
using ::patchcore::testing::TempDir;

// Sets (or unsets, with nullopt) an environment variable for the scope, then restores it.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const std::optional<std::string>& value) : name_(std::move(name)) {
    if (const char* old = std::getenv(name_.c_str())) old_ = old;
    if (value)
      ::setenv(name_.c_str(), value->c_str(), 1);
    else
      ::unsetenv(name_.c_str());
  }
  ~ScopedEnv() {
    if (old_)
      ::setenv(name_.c_str(), old_->c_str(), 1);
    else
      ::unsetenv(name_.c_str());
  }

 private:
  std::string name_;
  std::optional<std::string> old_;
};

using ::patchcore::testing::user_error_message;

#define EXPECT_CONTAINS(haystack, needle) \
  EXPECT_NE((haystack).find(needle), std::string::npos) << "missing '" << (needle) << "' in:\n" << (haystack)

// A small stand-in for a ResNet weight file (resolve_weights does not check completeness;
// create_backbone does).
fs::path write_small_resnet_file(const fs::path& path, float fill = 0.5f) {
  fs::create_directories(path.parent_path());
  SafetensorsFile file;
  file.tensors["conv1.weight"] = torch::full({4, 3, 3, 3}, fill);
  file.tensors["bn1.running_var"] = torch::arange(4, torch::kFloat32);
  write_safetensors(path, file);
  return path;
}

std::string file_url(const fs::path& path) { return "file://" + fs::absolute(path).string(); }

size_t count_entries(const fs::path& dir) {
  if (!fs::exists(dir)) return 0;
  size_t n = 0;
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator(); ++it) ++n;
  return n;
}

bool is_hex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// ------------------------------------------------------------------ cache folder

TEST(WeightsCacheDir, PatchcoreHomeWins) {
  ScopedEnv home("PATCHCORE_HOME", "/some/where");
  EXPECT_EQ(weights_cache_dir(), fs::path("/some/where"));
}

TEST(WeightsCacheDir, DefaultsToHomeCache) {
  ScopedEnv unset("PATCHCORE_HOME", std::nullopt);
  ScopedEnv home("HOME", "/home/tester");
  EXPECT_EQ(weights_cache_dir(), fs::path("/home/tester/.cache/patchcore"));
}

// ------------------------------------------------------------------ official locations

TEST(OfficialWeightLocation, ResNetsAreTimmTorchvisionSafetensors) {
  for (const std::string arch : {"resnet18", "resnet50", "wide_resnet50_2"}) {
    const WeightLocation& loc = official_weight_location(arch);
    EXPECT_EQ(loc.url, "https://huggingface.co/timm/" + arch + ".tv_in1k/resolve/main/model.safetensors");
    EXPECT_TRUE(is_hex64(loc.sha256)) << arch << ": " << loc.sha256;
    EXPECT_EQ(fs::path(loc.cache_relative).extension(), ".safetensors");
    EXPECT_TRUE(fs::path(loc.cache_relative).is_relative());
  }
  EXPECT_EQ(official_weight_location("resnet18").sha256,
            "694f673df6520a3158624e8a89af086f59923ee4cd7436fe5bc3bc71d295ad81");
}

TEST(OfficialWeightLocation, MobileNetIsTfjsModelJson) {
  const WeightLocation& loc = official_weight_location("mobilenet_v1_0.75");
  EXPECT_EQ(loc.url, "https://storage.googleapis.com/tfjs-models/tfjs/mobilenet_v1_0.75_224/model.json");
  EXPECT_TRUE(is_hex64(loc.sha256));
  EXPECT_EQ(fs::path(loc.cache_relative).filename(), "model.json");
}

TEST(OfficialWeightLocation, MobileNetHashMatchesSharedCopy) {
  PATCHCORE_REQUIRE_SHARED("weights/mobilenet_v1_0.75_224_tfjs");
  const auto json = ::patchcore::testing::shared_dir() / "weights/mobilenet_v1_0.75_224_tfjs/model.json";
  EXPECT_EQ(sha256_file(json), official_weight_location("mobilenet_v1_0.75").sha256);
}

TEST(OfficialWeightLocation, UnknownBackbone) {
  const std::string msg = user_error_message([] { official_weight_location("vgg16"); });
  EXPECT_CONTAINS(msg, "vgg16");
  EXPECT_CONTAINS(msg, "resnet18");
}

// ------------------------------------------------------------------ random:SEED

TEST(ResolveWeights, RandomSeed) {
  const ResolvedWeights r = resolve_weights("resnet18", "random:42");
  EXPECT_EQ(r.source, "random:42");
  EXPECT_EQ(r.sha256, "random:42");
  const WeightMap expected = random_weights("resnet18", 42);
  ASSERT_EQ(r.weights.size(), expected.size());
  ASSERT_TRUE(r.weights.count("conv1.weight"));
  EXPECT_TRUE(torch::equal(r.weights.at("conv1.weight"), expected.at("conv1.weight")));
}

TEST(ResolveWeights, RandomSeedErrors) {
  for (const std::string bad : {"random:", "random:abc", "random:-1", "random:1.5", "random: 3",
                                "random:3x", "random:18446744073709551616"}) {
    const std::string msg = user_error_message([&] { resolve_weights("resnet18", bad); });
    EXPECT_CONTAINS(msg, bad);
    EXPECT_CONTAINS(msg, "random:");
  }
  const std::string msg = user_error_message([] { resolve_weights("resnet18", "random"); });
  EXPECT_CONTAINS(msg, "random:SEED");
}

// ------------------------------------------------------------------ explicit files

TEST(ResolveWeights, ExplicitSafetensorsFile) {
  TempDir dir;
  const auto path = write_small_resnet_file(dir.path() / "my weights.safetensors");
  const ResolvedWeights r = resolve_weights("resnet18", path.string());
  EXPECT_EQ(r.source, path.string());
  EXPECT_EQ(r.sha256, sha256_file(path));
  ASSERT_TRUE(r.weights.count("conv1.weight"));
  EXPECT_EQ(r.weights.at("conv1.weight").sizes(), (torch::IntArrayRef{4, 3, 3, 3}));
}

TEST(ResolveWeights, ExplicitFileMissing) {
  TempDir dir;
  const auto path = dir.path() / "nope.safetensors";
  const std::string msg = user_error_message([&] { resolve_weights("resnet18", path.string()); });
  EXPECT_CONTAINS(msg, path.string());
}

TEST(ResolveWeights, ExplicitTfjsFolderHashCoversModelJsonAndShards) {
  PATCHCORE_REQUIRE_SHARED("weights/mobilenet_v1_0.75_224_tfjs");
  const auto folder = ::patchcore::testing::shared_dir() / "weights/mobilenet_v1_0.75_224_tfjs";
  const ResolvedWeights r = resolve_weights("mobilenet_v1_0.75", folder.string());
  EXPECT_EQ(r.source, folder.string());
  EXPECT_TRUE(is_hex64(r.sha256));
  EXPECT_NE(r.sha256, sha256_file(folder / "model.json"));  // not model.json alone
  EXPECT_FALSE(r.weights.empty());
  // The same via model.json itself.
  const ResolvedWeights j = resolve_weights("mobilenet_v1_0.75", (folder / "model.json").string());
  EXPECT_EQ(j.sha256, r.sha256);
}

// ------------------------------------------------------------------ download / cache

class DownloadTest : public ::testing::Test {
 protected:
  DownloadTest()
      : home_env_("PATCHCORE_HOME", (dir_.path() / "home").string()),
        url_env_("PATCHCORE_WEIGHTS_URL_OVERRIDE", std::nullopt),
        sha_env_("PATCHCORE_WEIGHTS_SHA256_OVERRIDE", std::nullopt) {}

  fs::path home() const { return dir_.path() / "home"; }
  fs::path cached(const std::string& backbone) const {
    return home() / official_weight_location(backbone).cache_relative;
  }
  void set_url(const std::string& url) { ::setenv("PATCHCORE_WEIGHTS_URL_OVERRIDE", url.c_str(), 1); }
  void set_sha(const std::string& sha) { ::setenv("PATCHCORE_WEIGHTS_SHA256_OVERRIDE", sha.c_str(), 1); }

  TempDir dir_;
  ScopedEnv home_env_, url_env_, sha_env_;
};

TEST_F(DownloadTest, DownloadsVerifiesAndRenamesIntoCache) {
  const auto source = write_small_resnet_file(dir_.path() / "server" / "model.safetensors");
  const std::string sha = sha256_file(source);
  set_url(file_url(source));
  set_sha(sha);

  const ResolvedWeights r = resolve_weights("resnet18", "");
  const fs::path target = cached("resnet18");
  ASSERT_TRUE(fs::is_regular_file(target));
  EXPECT_EQ(sha256_file(target), sha);
  EXPECT_EQ(r.sha256, sha);
  EXPECT_EQ(r.source, target.string());
  ASSERT_TRUE(r.weights.count("conv1.weight"));
  EXPECT_EQ(count_entries(target.parent_path()), 1u) << "no temporary file may be left behind";
}

TEST_F(DownloadTest, CacheHitNeedsNoDownload) {
  const auto source = write_small_resnet_file(dir_.path() / "server" / "model.safetensors");
  set_url(file_url(source));
  set_sha(sha256_file(source));
  const ResolvedWeights first = resolve_weights("resnet18", "");
  fs::remove(source);  // a second download would now fail
  const ResolvedWeights second = resolve_weights("resnet18", "");
  EXPECT_EQ(second.sha256, first.sha256);
  EXPECT_EQ(second.source, first.source);
  EXPECT_TRUE(torch::equal(second.weights.at("conv1.weight"), first.weights.at("conv1.weight")));
}

TEST_F(DownloadTest, CachedFileWithWrongHashIsRejected) {
  const auto target = write_small_resnet_file(cached("resnet18"));
  set_sha(std::string(64, '0'));
  set_url("http://127.0.0.1:9/never-used");
  const std::string msg = user_error_message([] { resolve_weights("resnet18", ""); });
  EXPECT_CONTAINS(msg, target.string());
  EXPECT_CONTAINS(msg, "Delete it");
}

TEST_F(DownloadTest, ShaMismatchLeavesNothingBehind) {
  const auto source = write_small_resnet_file(dir_.path() / "server" / "model.safetensors");
  set_url(file_url(source));
  set_sha(std::string(64, 'a'));
  const std::string msg = user_error_message([] { resolve_weights("resnet18", ""); });
  EXPECT_CONTAINS(msg, "SHA-256");
  EXPECT_CONTAINS(msg, sha256_file(source));
  EXPECT_CONTAINS(msg, std::string(64, 'a'));
  EXPECT_FALSE(fs::exists(cached("resnet18")));
  EXPECT_EQ(count_entries(home() / "weights"), 0u) << "no temporary file may be left behind";
  EXPECT_LE(count_entries(home()), 1u) << "at most the empty weights folder";
}

TEST_F(DownloadTest, UnknownHashWarnsWithComputedHash) {
  const auto source = write_small_resnet_file(dir_.path() / "server" / "model.safetensors");
  set_url(file_url(source));
  set_sha("");  // no published hash known
  ::testing::internal::CaptureStderr();
  const ResolvedWeights r = resolve_weights("resnet50", "");
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_CONTAINS(err, "no published SHA-256 known");
  EXPECT_CONTAINS(err, sha256_file(source));
  EXPECT_CONTAINS(err, "verify it");
  EXPECT_TRUE(fs::is_regular_file(cached("resnet50")));
  EXPECT_EQ(r.sha256, sha256_file(source));
}

TEST_F(DownloadTest, OfflineErrorNamesUrlAndCachePath) {
  const std::string url = "http://127.0.0.1:9/timm/resnet18.tv_in1k/model.safetensors";
  set_url(url);
  const std::string msg = user_error_message([] { resolve_weights("resnet18", ""); });
  EXPECT_CONTAINS(msg, url);
  EXPECT_CONTAINS(msg, "offline");
  EXPECT_CONTAINS(msg, cached("resnet18").string());
  EXPECT_CONTAINS(msg, "--weights FILE");
  EXPECT_CONTAINS(msg, "--weights random:SEED");
  EXPECT_FALSE(fs::exists(cached("resnet18")));
  EXPECT_EQ(count_entries(home() / "weights"), 0u);
}

TEST_F(DownloadTest, MissingRemoteFileNamesUrlAndCachePath) {
  const auto url = file_url(dir_.path() / "server" / "absent.safetensors");
  set_url(url);
  const std::string msg = user_error_message([] { resolve_weights("wide_resnet50_2", ""); });
  EXPECT_CONTAINS(msg, url);
  EXPECT_CONTAINS(msg, cached("wide_resnet50_2").string());
  EXPECT_EQ(count_entries(home() / "weights"), 0u);
}

TEST_F(DownloadTest, MobileNetDownloadsModelJsonAndShardsWithRealHashes) {
  PATCHCORE_REQUIRE_SHARED("weights/mobilenet_v1_0.75_224_tfjs");
  const auto folder = ::patchcore::testing::shared_dir() / "weights/mobilenet_v1_0.75_224_tfjs";
  set_url(file_url(folder / "model.json"));  // official hashes stay in force
  const ResolvedWeights r = resolve_weights("mobilenet_v1_0.75", "");
  const fs::path json = cached("mobilenet_v1_0.75");
  ASSERT_TRUE(fs::is_regular_file(json));
  EXPECT_TRUE(fs::is_regular_file(json.parent_path() / "group1-shard1of1"));
  EXPECT_TRUE(fs::is_regular_file(json.parent_path() / "group55-shard1of1"));
  EXPECT_EQ(count_entries(json.parent_path()), 56u);              // model.json + 55 shards
  EXPECT_EQ(count_entries(home() / "weights"), 57u);              // + the folder, no temp
  const ResolvedWeights local = resolve_weights("mobilenet_v1_0.75", folder.string());
  EXPECT_EQ(r.sha256, local.sha256);
  EXPECT_EQ(r.source, json.string());
  EXPECT_EQ(r.weights.size(), local.weights.size());

  ::setenv("PATCHCORE_WEIGHTS_URL_OVERRIDE", "http://127.0.0.1:9/model.json", 1);
  const ResolvedWeights again = resolve_weights("mobilenet_v1_0.75", "");  // cache hit
  EXPECT_EQ(again.sha256, r.sha256);
}

TEST_F(DownloadTest, MobileNetCorruptShardLeavesNothingBehind) {
  PATCHCORE_REQUIRE_SHARED("weights/mobilenet_v1_0.75_224_tfjs");
  const auto folder = ::patchcore::testing::shared_dir() / "weights/mobilenet_v1_0.75_224_tfjs";
  const auto server = dir_.path() / "server";
  fs::create_directories(server);
  for (const auto& entry : fs::directory_iterator(folder))
    fs::copy_file(entry.path(), server / entry.path().filename());
  {
    fs::permissions(server / "group7-shard1of1", fs::perms::owner_write, fs::perm_options::add);
    std::fstream f(server / "group7-shard1of1", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(10);
    f.put('\x42');
  }
  set_url(file_url(server / "model.json"));
  const std::string msg = user_error_message([] { resolve_weights("mobilenet_v1_0.75", ""); });
  EXPECT_CONTAINS(msg, "group7-shard1of1");
  EXPECT_CONTAINS(msg, "SHA-256");
  EXPECT_EQ(count_entries(home() / "weights"), 0u) << "no partial model may be left behind";
}

TEST_F(DownloadTest, MobileNetOfflineErrorExplainsTheFolder) {
  const std::string url = "http://127.0.0.1:9/tfjs/mobilenet_v1_0.75_224/model.json";
  set_url(url);
  const std::string msg = user_error_message([] { resolve_weights("mobilenet_v1_0.75", ""); });
  EXPECT_CONTAINS(msg, url);
  EXPECT_CONTAINS(msg, "offline");
  EXPECT_CONTAINS(msg, cached("mobilenet_v1_0.75").parent_path().string());
  EXPECT_CONTAINS(msg, "shard");
  EXPECT_CONTAINS(msg, "--weights random:SEED");
}

}  // namespace
}  // namespace patchcore
