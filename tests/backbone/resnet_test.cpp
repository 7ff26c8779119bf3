#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>

#include "backbone/backbone.h"
#include "backbone/random_weights.h"
#include "backbone/weight_source.h"
#include "io/error.h"
#include "io/safetensors.h"
#include "test_support.h"

namespace patchcore {
namespace {

using testing::relative_error;
using testing::shared_dir;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const UserError& e) {
    return e.what();
  }
  return "<no UserError thrown>";
}

torch::Tensor random_input(int64_t h, int64_t w, uint64_t seed = 3) {
  auto gen = at::detail::createCPUGenerator(seed);
  return at::normal(0.0, 1.0, {1, 3, h, w}, gen);
}

TEST(ResNet, Resnet18MatchesReferenceLayers) {
  PATCHCORE_REQUIRE_SHARED("reference/resnet18_magnetic.safetensors");
  const auto ref = read_safetensors(shared_dir() / "reference/resnet18_magnetic.safetensors");
  const auto weights = load_weight_file(
      "resnet18", shared_dir() / "reference/resnet18_magnetic.weights.safetensors");
  auto backbone = create_backbone("resnet18", {"layer2", "layer3"}, weights);
  const auto out = backbone->extract(ref.tensors.at("test_input"));
  ASSERT_EQ(out.size(), 2u);
  ASSERT_EQ(out[0].sizes(), ref.tensors.at("test_layer.layer2").sizes());
  ASSERT_EQ(out[1].sizes(), ref.tensors.at("test_layer.layer3").sizes());
  const double e2 = relative_error(out[0], ref.tensors.at("test_layer.layer2"));
  const double e3 = relative_error(out[1], ref.tensors.at("test_layer.layer3"));
  std::printf("resnet18 reference: relative error layer2 %.3g, layer3 %.3g\n", e2, e3);
  EXPECT_LT(e2, 1e-4);
  EXPECT_LT(e3, 1e-4);
}

TEST(ResNet, RegistryListsBackbonesAndLayers) {
  const auto& all = supported_backbones();
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].name, "resnet18");
  const auto& info = backbone_info("wide_resnet50_2");
  EXPECT_EQ(info.scaling, InputScaling::kImageNet);
  EXPECT_EQ(info.layers, (std::vector<std::string>{"layer1", "layer2", "layer3", "layer4"}));
  EXPECT_EQ(info.default_layers, (std::vector<std::string>{"layer2", "layer3"}));
  EXPECT_EQ(backbone_info("mobilenet_v1_0.75").scaling, InputScaling::kSymmetric);
}

TEST(ResNet, TruncatedBackboneNeedsNoDeeperWeights) {
  const WeightMap full = random_weights("resnet18", 1);
  WeightMap shallow;
  for (const auto& [name, t] : full)
    if (name.rfind("layer3", 0) != 0 && name.rfind("layer4", 0) != 0) shallow[name] = t;
  ASSERT_LT(shallow.size(), full.size());
  auto small = create_backbone("resnet18", {"layer2"}, shallow);
  auto big = create_backbone("resnet18", {"layer2", "layer3"}, full);
  const auto x = random_input(64, 64);
  const auto a = small->extract(x);
  const auto b = big->extract(x);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_TRUE(torch::equal(a[0], b[0]));
  for (const auto& [name, t] : small->weights()) {
    EXPECT_NE(name.rfind("layer3", 0), 0u) << name;
    EXPECT_EQ(name.find("num_batches_tracked"), std::string::npos);
  }
  // The stored (unfolded) weights rebuild the same network.
  auto rebuilt = create_backbone("resnet18", {"layer2"}, small->weights());
  EXPECT_TRUE(torch::equal(rebuilt->extract(x)[0], a[0]));
  EXPECT_TRUE(torch::equal(small->weights().at("bn1.running_var"), full.at("bn1.running_var")));
}

TEST(ResNet, ExtraTensorsAreIgnoredAndLayerOrderIsKept) {
  WeightMap w = random_weights("resnet18", 2);
  w["fc.weight"] = torch::zeros({1000, 512});
  w["fc.bias"] = torch::zeros({1000});
  w["bn1.num_batches_tracked"] = torch::tensor(5, torch::kLong);
  auto b = create_backbone("resnet18", {"layer3", "layer1", "layer4", "layer2"}, w);
  const auto out = b->extract(random_input(64, 64));
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].sizes(), (std::vector<int64_t>{1, 256, 4, 4}));
  EXPECT_EQ(out[1].sizes(), (std::vector<int64_t>{1, 64, 16, 16}));
  EXPECT_EQ(out[2].sizes(), (std::vector<int64_t>{1, 512, 2, 2}));
  EXPECT_EQ(out[3].sizes(), (std::vector<int64_t>{1, 128, 8, 8}));
  EXPECT_EQ(b->layers(), (std::vector<std::string>{"layer3", "layer1", "layer4", "layer2"}));
  EXPECT_EQ(b->weights().count("fc.weight"), 0u);
  // Outputs are ordinary channels-last tensors the caller may modify.
  EXPECT_TRUE(out[0].is_contiguous(at::MemoryFormat::ChannelsLast));
  EXPECT_FALSE(out[0].is_inference());
  out[0].mul_(2);
}

TEST(ResNet, RandomWeightsAreDeterministic) {
  const WeightMap a = random_weights("resnet18", 7);
  const WeightMap b = random_weights("resnet18", 7);
  const WeightMap c = random_weights("resnet18", 8);
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, t] : a) EXPECT_TRUE(torch::equal(t, b.at(name))) << name;
  EXPECT_FALSE(torch::equal(a.at("conv1.weight"), c.at("conv1.weight")));
  EXPECT_FALSE(torch::equal(a.at("layer1.0.bn1.running_var"), c.at("layer1.0.bn1.running_var")));
  // Statistics follow the documented initialisation.
  const auto& w = a.at("layer3.0.conv2.weight");  // fan_out = 256*9
  EXPECT_NEAR(w.std().item<double>(), std::sqrt(2.0 / (256 * 9)), 0.002);
  const auto& var = a.at("layer3.0.bn2.running_var");
  EXPECT_GE(var.min().item<double>(), 0.5);
  EXPECT_LE(var.max().item<double>(), 1.5);
  EXPECT_EQ(a.count("fc.weight"), 0u);
  EXPECT_EQ(a.count("layer4.1.bn2.running_mean"), 1u);
}

TEST(ResNet, ErrorsNameTheProblem) {
  const WeightMap w = random_weights("resnet18", 4);
  auto msg = error_of([&] { create_backbone("resnet34", {"layer2"}, w); });
  EXPECT_NE(msg.find("resnet34"), std::string::npos) << msg;
  EXPECT_NE(msg.find("wide_resnet50_2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("mobilenet_v1_0.75"), std::string::npos) << msg;

  msg = error_of([&] { random_weights("vgg16", 0); });
  EXPECT_NE(msg.find("vgg16"), std::string::npos) << msg;

  msg = error_of([&] { create_backbone("resnet18", {"layer2", "layer5"}, w); });
  EXPECT_NE(msg.find("layer5"), std::string::npos) << msg;
  EXPECT_NE(msg.find("layer4"), std::string::npos) << msg;

  WeightMap missing = w;
  missing.erase("layer2.1.bn2.running_mean");
  msg = error_of([&] { create_backbone("resnet18", {"layer2"}, missing); });
  EXPECT_NE(msg.find("layer2.1.bn2.running_mean"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[128]"), std::string::npos) << msg;

  WeightMap wrong = w;
  wrong["layer1.0.conv1.weight"] = torch::zeros({64, 64, 1, 1});
  msg = error_of([&] { create_backbone("resnet18", {"layer1"}, wrong); });
  EXPECT_NE(msg.find("layer1.0.conv1.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[64, 64, 1, 1]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[64, 64, 3, 3]"), std::string::npos) << msg;

  msg = error_of([&] { load_weight_file("resnet18", "/nonexistent/r18.safetensors"); });
  EXPECT_NE(msg.find("/nonexistent/r18.safetensors"), std::string::npos) << msg;
}

TEST(ResNet, Resnet50WeightsAreRejectedForWideResnet) {
  const WeightMap r50 = random_weights("resnet50", 5);
  const auto msg = error_of([&] { create_backbone("wide_resnet50_2", {"layer2", "layer3"}, r50); });
  EXPECT_NE(msg.find("layer1.0.conv1.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[64, 64, 1, 1]"), std::string::npos) << msg;   // found
  EXPECT_NE(msg.find("[128, 64, 1, 1]"), std::string::npos) << msg;  // expected
}

TEST(ResNet, BottleneckLayerShapes) {
  const auto x = random_input(64, 64);
  for (const char* name : {"resnet50", "wide_resnet50_2"}) {
    auto b = create_backbone(name, {"layer2", "layer3"}, random_weights(name, 6));
    const auto out = b->extract(x);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].sizes(), (std::vector<int64_t>{1, 512, 8, 8})) << name;
    EXPECT_EQ(out[1].sizes(), (std::vector<int64_t>{1, 1024, 4, 4})) << name;
    EXPECT_TRUE(torch::isfinite(out[1]).all().item<bool>()) << name;
    EXPECT_GT(out[1].abs().max().item<double>(), 0.0) << name;
    EXPECT_EQ(b->weights().count("layer4.0.conv1.weight"), 0u) << name;
  }
  // wide: bottleneck width doubled
  const auto wide = random_weights("wide_resnet50_2", 6);
  EXPECT_EQ(wide.at("layer3.0.conv2.weight").sizes(), (std::vector<int64_t>{512, 512, 3, 3}));
  EXPECT_EQ(wide.at("layer3.0.conv3.weight").sizes(), (std::vector<int64_t>{1024, 512, 1, 1}));
}

// Timing only (run with --gtest_also_run_disabled_tests).
TEST(ResNet, DISABLED_Speed) {
  auto gen = at::detail::createCPUGenerator(0);
  const auto x = at::normal(0.0, 1.0, {8, 3, 224, 224}, gen);
  for (const char* name : {"resnet18", "wide_resnet50_2", "mobilenet_v1_0.75"}) {
    const auto& info = backbone_info(name);
    auto b = create_backbone(name, info.default_layers, random_weights(name, 0));
    b->extract(x);
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 3; ++i) b->extract(x);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%s: %.1f ms per batch of 8 at 224x224\n", name, ms / 3);
  }
}

}  // namespace
}  // namespace patchcore
