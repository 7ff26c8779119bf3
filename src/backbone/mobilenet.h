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

// The network up to the deepest of `layer_indices` (indices into info.layers), reading
// and checking the tensors it needs from `weights`.
BackboneNetwork build_mobilenet(const BackboneInfo& info, const std::vector<size_t>& layer_indices,
                                const WeightMap& weights);

// conv1 .. conv_pw_13 (no classifier) in Keras layout, torchvision-style kaiming-normal
// (fan_out; per group for the depthwise kernels) and random BatchNorm statistics.
WeightMap random_mobilenet_weights(uint64_t seed);

}  // namespace patchcore
