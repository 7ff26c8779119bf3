#pragma once
// Keras MobileNet v1 (alpha 0.75, depth multiplier 1): conv1 (3x3 s2) then 13 depthwise 3x3 +
// pointwise 1x1 blocks, each conv without bias + BatchNorm (eps 1e-3) + ReLU6, TensorFlow
// "same" padding. Weights use the Keras names and layouts of the TF.js manifest.
#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

#include "backbone/backbone.h"

namespace patchcore {

std::unique_ptr<Backbone> create_mobilenet(const BackboneInfo& info,
                                           const std::vector<std::string>& layers,
                                           const WeightMap& weights);

// conv1 .. conv_pw_13 (no classifier) in Keras layout, torchvision-style kaiming-normal
// (fan_out; per group for the depthwise kernels) and random BatchNorm statistics.
WeightMap random_mobilenet_weights(uint64_t seed);

// The whole ImageNet classifier: backbone + global average pool + conv_preds (1x1 conv with
// bias, `conv_preds/kernel` [1,1,768,1000], `conv_preds/bias`) + softmax. Used by tests.
class MobileNetClassifier {
 public:
  explicit MobileNetClassifier(const WeightMap& weights);
  ~MobileNetClassifier();
  // input [B,3,224,224] scaled to [-1,1] -> class probabilities [B,1000] (Keras class order).
  torch::Tensor classify(const torch::Tensor& input) const;

 private:
  std::unique_ptr<Backbone> features_;
  torch::Tensor weight_;  // [1000, 768, 1, 1]
  torch::Tensor bias_;    // [1000]
};

}  // namespace patchcore
