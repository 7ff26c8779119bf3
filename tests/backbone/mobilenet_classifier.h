#pragma once
// The whole MobileNet v1 ImageNet classifier, for tests only (the product extracts features):
// backbone + global average pool + conv_preds (1x1 conv with bias, `conv_preds/kernel`
// [1,1,768,1000], `conv_preds/bias`) + softmax, so the shared test photos can be classified.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <memory>
#include <string>

#include "backbone/backbone.h"
#include "backbone/backbone_common.h"

namespace patchcore::testing {

class MobileNetClassifier {
 public:
  explicit MobileNetClassifier(const WeightMap& weights)
      : features_(create_backbone("mobilenet_v1_0.75", {"conv_pw_13_relu"}, weights)),
        weight_(backbone_detail::require_tensor(weights, kName, "conv_preds/kernel", {1, 1, 768, 1000})
                    .permute({3, 2, 0, 1})
                    .contiguous()),
        bias_(backbone_detail::require_tensor(weights, kName, "conv_preds/bias", {1000})) {}

  // input [B,3,224,224] scaled to [-1,1] -> class probabilities [B,1000] (Keras class order).
  torch::Tensor classify(const torch::Tensor& input) const {
    auto features = features_->extract(input)[0];
    c10::InferenceMode guard;
    auto pooled = features.mean({2, 3}, /*keepdim=*/true);        // [B,768,1,1]
    auto logits = at::conv2d(pooled, weight_, bias_).flatten(1);  // tiny: any path is fine
    return at::softmax(logits, 1);
  }

 private:
  static constexpr const char* kName = "mobilenet_v1_0.75 classifier";
  std::unique_ptr<Backbone> features_;
  torch::Tensor weight_;  // [1000, 768, 1, 1]
  torch::Tensor bias_;    // [1000]
};

}  // namespace patchcore::testing
