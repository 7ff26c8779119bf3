#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "backbone/backbone.h"
#include "backbone/mobilenet.h"
#include "backbone/random_weights.h"
#include "backbone/weight_source.h"
#include "io/error.h"
#include "io/safetensors.h"
#include "mobilenet_classifier.h"
#include "test_support.h"

namespace patchcore {
namespace {

using testing::relative_error;
using testing::shared_dir;

const char* kWeights = "weights/mobilenet_v1_0.75_224_tfjs";

TEST(MobileNet, MatchesReferenceLayers) {
  PATCHCORE_REQUIRE_SHARED("reference/mobilenet_magnetic.safetensors");
  PATCHCORE_REQUIRE_SHARED(kWeights);
  const auto ref = read_safetensors(shared_dir() / "reference/mobilenet_magnetic.safetensors");
  const auto weights = load_weight_file("mobilenet_v1_0.75", shared_dir() / kWeights);
  auto backbone = create_backbone("mobilenet_v1_0.75", {"conv_pw_5_relu", "conv_pw_11_relu"}, weights);
  const auto out = backbone->extract(ref.tensors.at("test_input"));
  ASSERT_EQ(out.size(), 2u);
  const auto& r5 = ref.tensors.at("test_layer.conv_pw_5_relu");
  const auto& r11 = ref.tensors.at("test_layer.conv_pw_11_relu");
  ASSERT_EQ(out[0].sizes(), r5.sizes());
  ASSERT_EQ(out[1].sizes(), r11.sizes());
  const double e5 = relative_error(out[0], r5);
  const double e11 = relative_error(out[1], r11);
  std::printf("mobilenet reference: relative error conv_pw_5_relu %.3g, conv_pw_11_relu %.3g\n",
              e5, e11);
  EXPECT_LT(e5, 1e-4);
  EXPECT_LT(e11, 1e-4);
  // Truncated: nothing deeper than conv_pw_11 is kept.
  EXPECT_EQ(backbone->weights().count("conv_dw_12/depthwise_kernel"), 0u);
  EXPECT_EQ(backbone->weights().count("conv_pw_11_bn/moving_variance"), 1u);
}

TEST(MobileNet, ClassifiesImageNetPhotos) {
  PATCHCORE_REQUIRE_SHARED(kWeights);
  PATCHCORE_REQUIRE_SHARED("weights/imagenet_test_images");
  const auto dir = shared_dir() / "weights/imagenet_test_images";
  std::vector<std::string> labels;
  {
    std::ifstream in(dir / "imagenet_labels.txt");
    for (std::string line; std::getline(in, line);) labels.push_back(line);
  }
  ASSERT_EQ(labels.size(), 1001u);
  testing::MobileNetClassifier classifier(load_weight_file("mobilenet_v1_0.75", shared_dir() / kWeights /
                                                                           "model.json"));
  // `readme`: the probability shared/weights/README.md quotes. With exactly this
  // pre-processing (full-image cv::resize INTER_LINEAR, no crop) cat and grace_hopper land
  // 0.17 / 0.27 away from it (no tried resize/crop variant reproduces all four README values),
  // while the layer outputs match the independent reference to ~2e-5 (MatchesReferenceLayers).
  // So the README is checked loosely and `measured` (this pipeline) tightly.
  struct Case {
    const char* image;
    const char* label;
    double readme, measured;
  };
  for (const Case& c : {Case{"cat", "Egyptian cat", 0.66, 0.489},
                        Case{"grace_hopper", "military uniform", 0.50, 0.767},
                        Case{"bird", "chickadee", 1.00, 1.000}, Case{"sunflower", "daisy", 0.95, 0.940},
                        Case{"dragonfly", nullptr, 0.0, 0.0}}) {
    cv::Mat bgr = cv::imread((dir / (std::string(c.image) + ".bmp")).string(), cv::IMREAD_COLOR);
    ASSERT_FALSE(bgr.empty()) << c.image;
    cv::Mat resized, rgb, scaled;
    cv::resize(bgr, resized, cv::Size(224, 224), 0, 0, cv::INTER_LINEAR);
    cv::cvtColor(resized, rgb, cv::COLOR_BGR2RGB);
    rgb.convertTo(scaled, CV_32FC3, 1.0 / 127.5, -1.0);
    auto input = torch::from_blob(scaled.data, {1, 224, 224, 3}, torch::kFloat)
                     .permute({0, 3, 1, 2})
                     .contiguous();
    const auto probs = classifier.classify(input);
    ASSERT_EQ(probs.sizes(), (std::vector<int64_t>{1, 1000}));
    EXPECT_NEAR(probs.sum().item<double>(), 1.0, 1e-4);
    const int64_t top = probs.argmax(1).item<int64_t>();
    const double p = probs[0][top].item<double>();
    std::printf("%s -> %s (p=%.4f)\n", c.image, labels[top + 1].c_str(), p);
    if (c.label == nullptr) continue;
    EXPECT_EQ(labels[top + 1], c.label) << c.image;
    EXPECT_NEAR(p, c.readme, 0.3) << c.image;
    EXPECT_NEAR(p, c.measured, 0.02) << c.image;
  }
}

TEST(MobileNet, RandomWeightsSamePaddingAndRebuild) {
  const WeightMap w = random_weights("mobilenet_v1_0.75", 11);
  EXPECT_EQ(w.at("conv_dw_3/depthwise_kernel").sizes(), (std::vector<int64_t>{3, 3, 96, 1}));
  EXPECT_EQ(w.at("conv_pw_13/kernel").sizes(), (std::vector<int64_t>{1, 1, 768, 768}));
  const WeightMap w2 = random_weights("mobilenet_v1_0.75", 11);
  for (const auto& [name, t] : w) EXPECT_TRUE(torch::equal(t, w2.at(name))) << name;
  EXPECT_FALSE(torch::equal(w.at("conv1/kernel"), random_weights("mobilenet_v1_0.75", 12).at("conv1/kernel")));

  const auto& info = backbone_info("mobilenet_v1_0.75");
  EXPECT_EQ(info.layers.size(), 27u);
  EXPECT_EQ(info.default_layers, (std::vector<std::string>{"conv_pw_5_relu", "conv_pw_11_relu"}));
  auto b = create_backbone("mobilenet_v1_0.75", {"conv_pw_11_relu", "conv1_relu", "conv_pw_13_relu"}, w);
  auto gen = at::detail::createCPUGenerator(1);
  const auto x = at::normal(0.0, 1.0, {2, 3, 65, 67}, gen);  // odd sizes: ceil(in / stride)
  const auto out = b->extract(x);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].sizes(), (std::vector<int64_t>{2, 384, 5, 5}));
  EXPECT_EQ(out[1].sizes(), (std::vector<int64_t>{2, 24, 33, 34}));
  EXPECT_EQ(out[2].sizes(), (std::vector<int64_t>{2, 768, 3, 3}));
  EXPECT_LE(out[2].max().item<double>(), 6.0);
  EXPECT_GE(out[2].min().item<double>(), 0.0);
  EXPECT_GT(out[2].max().item<double>(), 0.0);

  auto rebuilt = create_backbone("mobilenet_v1_0.75", b->layers(), b->weights());
  const auto again = rebuilt->extract(x);
  for (size_t i = 0; i < out.size(); ++i) EXPECT_TRUE(torch::equal(out[i], again[i]));

  auto shallow = create_backbone("mobilenet_v1_0.75", {"conv_dw_2_relu"}, w);
  EXPECT_EQ(shallow->weights().count("conv_pw_2/kernel"), 0u);
  EXPECT_EQ(shallow->weights().count("conv_dw_2_bn/gamma"), 1u);
}

TEST(MobileNet, ErrorsNameTheProblem) {
  WeightMap w = random_weights("mobilenet_v1_0.75", 13);
  auto error_of = [](const std::function<void()>& f) -> std::string {
    try {
      f();
    } catch (const UserError& e) {
      return e.what();
    }
    return "<no UserError thrown>";
  };
  auto msg = error_of([&] { create_backbone("mobilenet_v1_0.75", {"conv_pw_14_relu"}, w); });
  EXPECT_NE(msg.find("conv_pw_14_relu"), std::string::npos) << msg;
  EXPECT_NE(msg.find("conv_pw_13_relu"), std::string::npos) << msg;

  WeightMap wrong = w;
  wrong["conv_dw_4/depthwise_kernel"] = torch::zeros({96, 1, 3, 3});  // torch layout, not Keras
  msg = error_of([&] { create_backbone("mobilenet_v1_0.75", {}, wrong); });
  EXPECT_NE(msg.find("conv_dw_4/depthwise_kernel"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[3, 3, 96, 1]"), std::string::npos) << msg;

  // ResNet weights for MobileNet.
  msg = error_of([&] { create_backbone("mobilenet_v1_0.75", {}, random_weights("resnet18", 0)); });
  EXPECT_NE(msg.find("conv1/kernel"), std::string::npos) << msg;

  // Empty layer list = the defaults.
  auto b = create_backbone("mobilenet_v1_0.75", {}, w);
  EXPECT_EQ(b->layers(), backbone_info("mobilenet_v1_0.75").default_layers);
}

}  // namespace
}  // namespace patchcore
