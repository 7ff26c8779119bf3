// The assembled prediction path (PatchModel: backbone -> embedding -> scores -> maps)
// against the independent reference computations in ../shared/reference.
#include <c10/core/InferenceMode.h>

#include "backbone/weight_source.h"
#include "io/safetensors.h"
#include "pipeline/patch_model.h"
#include "test_support.h"

namespace patchcore {
namespace {

struct Case {
  const char* file;
  const char* backbone;
  const char* weights;  // relative to ../shared
  std::vector<std::string> layers;
};

// What gtest (and ctest's test list) prints for a parameter, instead of its bytes.
void PrintTo(const Case& c, std::ostream* os) { *os << c.file; }

class ReferenceParity : public ::testing::TestWithParam<Case> {};

TEST_P(ReferenceParity, ImageScoresAndMapsMatchTheReference) {
  const Case& c = GetParam();
  PATCHCORE_REQUIRE_SHARED(std::string("reference/") + c.file);
  PATCHCORE_REQUIRE_SHARED(c.weights);
  auto ref = read_safetensors(testing::shared_dir() / "reference" / c.file);
  auto weights = load_weight_file(c.backbone, testing::shared_dir() / c.weights);
  ModelConfig config;
  config.backbone = c.backbone;
  config.layers = c.layers;
  config.num_neighbors = 9;
  PatchModel model(config, create_backbone(c.backbone, c.layers, weights), ref.tensors.at("memory_bank"));

  c10::InferenceMode guard;
  const auto embedding = model.embed(ref.tensors.at("test_input"));
  EXPECT_LT(testing::relative_error(embedding, ref.tensors.at("test_embedding")), 1e-4);
  const auto scores = model.score_embedding(embedding);
  EXPECT_LT(testing::relative_error(scores.image_scores, ref.tensors.at("image_scores")), 1e-4);
  // Maps are blurred patch scores: the same bar as head_reference_test's patch scores (5e-4), since
  // anomalib's float32 |x|^2 - 2x.y + |y|^2 cancels on resnet18 (|x|^2 ~ 1800, d^2 ~ 1) and the
  // reference itself is ~1e-4 from the exact double distance; another GEMM's summation order moves it.
  EXPECT_LT(testing::relative_error(scores.maps, ref.tensors.at("anomaly_maps")), 5e-4);
  // The defective test images (last two) outscore the good ones (first two).
  const auto s = scores.image_scores;
  EXPECT_GT(std::min(s[2].item<float>(), s[3].item<float>()), std::max(s[0].item<float>(), s[1].item<float>()));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ReferenceParity,
    ::testing::Values(Case{"resnet18_magnetic.safetensors", "resnet18", "reference/resnet18_magnetic.weights.safetensors",
                           {"layer2", "layer3"}},
                      Case{"mobilenet_magnetic.safetensors", "mobilenet_v1_0.75", "weights/mobilenet_v1_0.75_224_tfjs",
                           {"conv_pw_5_relu", "conv_pw_11_relu"}}),
    [](const auto& info) { return std::string(info.param.backbone).substr(0, 8); });

}  // namespace
}  // namespace patchcore
