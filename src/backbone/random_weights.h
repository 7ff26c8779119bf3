#pragma once
// Seeded random backbone weights, for smoke tests and benchmarks (`--weights random:SEED`).
#include <ATen/CPUGeneratorImpl.h>
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "backbone/backbone.h"

namespace patchcore {

// Seeded random weights with torchvision's initialisation and non-trivial
// BatchNorm statistics; the same seed gives the same weights on every machine.
WeightMap random_weights(const std::string& name, uint64_t seed);

namespace backbone_detail {

// Deterministic random numbers from a torch CPU generator (mt19937) seeded with `seed`.
// Draws raw 64-bit integers and transforms them in scalar double arithmetic, so the same
// seed gives the same values on every machine (torch's vectorised normal_ may not).
class SeededRandom {
 public:
  explicit SeededRandom(uint64_t seed);
  double uniform();  // [0, 1)
  double normal();   // N(0, 1), Box-Muller
  torch::Tensor uniform(const std::vector<int64_t>& shape, double low, double high);
  torch::Tensor normal(const std::vector<int64_t>& shape, double mean, double stddev);

 private:
  at::Generator generator_;
  at::CPUGeneratorImpl* impl_;
  bool has_spare_ = false;
  double spare_ = 0.0;
};

}  // namespace backbone_detail

}  // namespace patchcore
