#pragma once
// Internal helpers shared by the backbone implementations (not part of the public API).
#include <ATen/CPUGeneratorImpl.h>
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "backbone/backbone.h"

namespace patchcore::backbone_detail {

std::string shape_string(c10::IntArrayRef shape);

// Looks `name` up in `weights`, checks it is floating point with exactly `shape`, and
// returns it as a contiguous float32 CPU tensor. Throws UserError naming the tensor,
// the expected and the found shape.
torch::Tensor require_tensor(const WeightMap& weights, const std::string& backbone,
                             const std::string& name, const std::vector<int64_t>& shape);

// A convolution's weight with its BatchNorm folded in (torch OIHW weight + bias).
struct FoldedConv {
  torch::Tensor weight;
  torch::Tensor bias;
};

// weight_oihw * gamma / sqrt(var + eps), beta - mean * gamma / sqrt(var + eps), computed
// in float64 and stored as float32.
FoldedConv fold_batchnorm(const torch::Tensor& weight_oihw, const torch::Tensor& gamma,
                          const torch::Tensor& beta, const torch::Tensor& mean,
                          const torch::Tensor& var, double eps);

// Index (into info.layers) of each requested layer; throws UserError listing the valid
// layers for an unknown one. An empty request means info.default_layers.
std::vector<size_t> resolve_layers(const BackboneInfo& info, std::vector<std::string>& layers);

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

}  // namespace patchcore::backbone_detail
