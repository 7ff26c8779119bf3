#include <cstring>
#include <fstream>

#include "backbone/tfjs_loader.h"
#include "backbone/weight_source.h"
#include "io/error.h"
#include "test_support.h"

namespace patchcore {
namespace {

using testing::TempDir;

void write(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}

std::string floats(std::initializer_list<float> v) {
  std::string s(v.size() * 4, '\0');
  std::memcpy(s.data(), v.begin(), s.size());
  return s;
}

const char* kModel = R"({
  "modelTopology": {"class_name": "Model"},
  "weightsManifest": [
    {"paths": ["g1-shard1of2", "g1-shard2of2"],
     "weights": [{"name": "a/kernel", "shape": [2, 3], "dtype": "float32"},
                 {"name": "a_bn/gamma", "shape": [2], "dtype": "float32"}]},
    {"paths": ["g2-shard1of1"], "weights": [{"name": "b", "shape": [], "dtype": "float32"}]}
  ]})";

void write_model(const std::filesystem::path& dir) {
  write(dir / "model.json", kModel);
  write(dir / "g1-shard1of2", floats({0, 1, 2, 3, 4}));  // a group spans several shards
  write(dir / "g1-shard2of2", floats({5, 6, 7}));
  write(dir / "g2-shard1of1", floats({42}));
}

std::string error_of(const std::filesystem::path& p) {
  try {
    load_tfjs_layers_model(p);
  } catch (const UserError& e) {
    return e.what();
  }
  return "<no UserError thrown>";
}

TEST(TfjsLoader, ReadsGroupsSpanningShards) {
  TempDir dir;
  write_model(dir.path());
  for (const auto& p : {dir.path(), dir.path() / "model.json"}) {
    const WeightMap w = load_tfjs_layers_model(p);
    ASSERT_EQ(w.size(), 3u);
    EXPECT_TRUE(torch::equal(w.at("a/kernel"), torch::arange(6, torch::kFloat).reshape({2, 3})));
    EXPECT_TRUE(torch::equal(w.at("a_bn/gamma"), torch::tensor({6.f, 7.f})));
    EXPECT_EQ(w.at("b").dim(), 0);
    EXPECT_EQ(w.at("b").item<float>(), 42.f);
  }
  EXPECT_EQ(load_weight_file("mobilenet_v1_0.75", dir.path()).size(), 3u);
}

TEST(TfjsLoader, ErrorsNameTheFile) {
  TempDir dir;
  write_model(dir.path());
  std::filesystem::remove(dir.path() / "g1-shard2of2");
  auto msg = error_of(dir.path());
  EXPECT_NE(msg.find("g1-shard2of2"), std::string::npos) << msg;

  write_model(dir.path());
  write(dir.path() / "g2-shard1of1", "ab");  // truncated
  msg = error_of(dir.path());
  EXPECT_NE(msg.find("g2-shard1of1"), std::string::npos) << msg;

  write_model(dir.path());
  write(dir.path() / "g2-shard1of1", floats({1, 2}));  // too long
  msg = error_of(dir.path());
  EXPECT_NE(msg.find("g2-shard1of1"), std::string::npos) << msg;

  write_model(dir.path());
  write(dir.path() / "model.json", "{\"weightsManifest\": [");
  msg = error_of(dir.path());
  EXPECT_NE(msg.find("model.json"), std::string::npos) << msg;

  write(dir.path() / "model.json", "{\"modelTopology\": {}}");
  msg = error_of(dir.path());
  EXPECT_NE(msg.find("weightsManifest"), std::string::npos) << msg;

  // A shard path leading out of the model folder is refused before anything is read.
  write(dir.path() / "model.json",
        R"({"weightsManifest": [{"paths": ["../outside"], "weights": [{"name": "w", "shape": [1]}]}]})");
  msg = error_of(dir.path());
  EXPECT_NE(msg.find("unsupported shard path '../outside'"), std::string::npos) << msg;

  msg = error_of(dir.path() / "nothing-here");
  EXPECT_NE(msg.find("nothing-here"), std::string::npos) << msg;

  try {
    load_weight_file("resnet18", dir.path());
    ADD_FAILURE() << "a folder is no safetensors file";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find(dir.path().string()), std::string::npos) << e.what();
  }
}

TEST(TfjsLoader, ReadsTheRealMobileNet) {
  PATCHCORE_REQUIRE_SHARED("weights/mobilenet_v1_0.75_224_tfjs");
  const WeightMap w = load_weight_file(
      "mobilenet_v1_0.75", testing::shared_dir() / "weights/mobilenet_v1_0.75_224_tfjs");
  EXPECT_EQ(w.at("conv1/kernel").sizes(), (std::vector<int64_t>{3, 3, 3, 24}));
  EXPECT_EQ(w.at("conv_dw_13/depthwise_kernel").sizes(), (std::vector<int64_t>{3, 3, 768, 1}));
  EXPECT_EQ(w.at("conv_preds/kernel").sizes(), (std::vector<int64_t>{1, 1, 768, 1000}));
  EXPECT_EQ(w.at("conv_preds/bias").sizes(), (std::vector<int64_t>{1000}));
  // conv1 + 13 dw + 13 pw kernels, 27 BatchNorm quadruples, conv_preds kernel + bias
  EXPECT_EQ(w.size(), 27u + 27u * 4u + 2u);
}

}  // namespace
}  // namespace patchcore
