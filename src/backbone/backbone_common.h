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

// A convolution with its BatchNorm folded in (torch OIHW weight + bias).
// 2-D convolution on channels-last float tensors through oneDNN directly
// (at::mkldnn_convolution). at::conv2d's heuristics route 1x1 convolutions and small
// single-threaded batches to a BLAS/native path that is 10-100x slower here (Debian links the
// reference BLAS) and depthwise NCHW convolutions to a slow reorder path; falls back to
// at::conv2d when ATen has no oneDNN.
torch::Tensor conv2d(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                     int64_t stride, c10::IntArrayRef padding, int64_t groups);

// Input layout the forward passes work in (weights are stored the same way).
constexpr auto kMemoryFormat = at::MemoryFormat::ChannelsLast;

struct FoldedConv {
  torch::Tensor weight;
  torch::Tensor bias;
  int64_t stride = 1;
  int64_t padding = 0;
  int64_t groups = 1;
  torch::Tensor operator()(const torch::Tensor& x) const {
    return backbone_detail::conv2d(x, weight, bias, stride, {padding, padding}, groups);
  }
};

// Stored channels-last. weight_oihw * gamma / sqrt(var + eps), beta - mean * gamma / sqrt(var + eps), computed
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

// Converts the outputs of an InferenceMode forward into ordinary contiguous NCHW tensors
// (call outside the InferenceMode guard).
std::vector<torch::Tensor> finish_outputs(std::vector<torch::Tensor> outputs);

}  // namespace patchcore::backbone_detail
