#pragma once
// Internal helpers shared by the backbone implementations (not part of the public API).
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

}  // namespace patchcore::backbone_detail
