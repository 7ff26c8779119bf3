#pragma once
// torchvision ResNets (resnet18: BasicBlock; resnet50 / wide_resnet50_2: Bottleneck v1.5,
// stride on the 3x3 conv). Tensor names as torchvision/timm.
#include <memory>
#include <string>
#include <vector>

#include "backbone/backbone.h"

namespace patchcore {

// The network up to the deepest of `layer_indices` (indices into info.layers), reading and
// checking the tensors it needs from `weights`. info.name: resnet18, resnet50 or wide_resnet50_2.
BackboneNetwork build_resnet(const BackboneInfo& info, const std::vector<size_t>& layer_indices,
                             const WeightMap& weights);

// conv1..layer4 (no fc) with torchvision's initialisation and random BatchNorm statistics.
WeightMap random_resnet_weights(const std::string& name, uint64_t seed);

}  // namespace patchcore
