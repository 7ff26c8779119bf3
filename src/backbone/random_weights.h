#pragma once
// Seeded random backbone weights, for smoke tests and benchmarks (`--weights random:SEED`).
#include <cstdint>
#include <string>

#include "backbone/backbone.h"

namespace patchcore {

// Seeded random weights with torchvision's initialisation and non-trivial
// BatchNorm statistics; the same seed gives the same weights on every machine.
WeightMap random_weights(const std::string& name, uint64_t seed);

}  // namespace patchcore
