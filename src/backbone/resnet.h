#pragma once
// torchvision ResNets (resnet18: BasicBlock; resnet50 / wide_resnet50_2: Bottleneck v1.5,
// stride on the 3x3 conv). Tensor names as torchvision/timm.
#include <memory>
#include <string>
#include <vector>

#include "backbone/backbone.h"

namespace patchcore {

// info.name is "resnet18", "resnet50" or "wide_resnet50_2".
std::unique_ptr<Backbone> create_resnet(const BackboneInfo& info,
                                        const std::vector<std::string>& layers,
                                        const WeightMap& weights);

// conv1..layer4 (no fc) with torchvision's initialisation and random BatchNorm statistics.
WeightMap random_resnet_weights(const std::string& name, uint64_t seed);

}  // namespace patchcore
