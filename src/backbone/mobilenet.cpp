#include "backbone/mobilenet.h"

#include <ATen/ATen.h>

#include <cmath>

#include "backbone/backbone_common.h"
#include "backbone/conv_net.h"
#include "backbone/random_weights.h"
#include "io/error.h"

namespace patchcore {
namespace {

constexpr double kBatchNormEps = 1e-3;
constexpr int64_t kChannels[13] = {48, 96, 96, 192, 192, 384, 384, 384, 384, 384, 384, 768, 768};
constexpr int64_t kDwStrides[13] = {1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1};

struct OpSpec {
  std::string kernel;  // Keras weight name
  std::string bn;      // "<layer>_bn"
  bool depthwise;
  int64_t in, out, k, stride;
  std::vector<int64_t> keras_shape() const {
    return depthwise ? std::vector<int64_t>{k, k, in, 1} : std::vector<int64_t>{k, k, in, out};
  }
};

// One op per extractable layer, in the order of BackboneInfo::layers.
std::vector<OpSpec> op_specs() {
  std::vector<OpSpec> ops;
  ops.push_back({"conv1/kernel", "conv1_bn", false, 3, 24, 3, 2});
  int64_t in = 24;
  for (int n = 1; n <= 13; ++n) {
    const std::string s = std::to_string(n);
    ops.push_back({"conv_dw_" + s + "/depthwise_kernel", "conv_dw_" + s + "_bn", true, in, in, 3,
                   kDwStrides[n - 1]});
    ops.push_back({"conv_pw_" + s + "/kernel", "conv_pw_" + s + "_bn", false, in,
                   kChannels[n - 1], 1, 1});
    in = kChannels[n - 1];
  }
  return ops;
}

}  // namespace

BackboneNetwork build_mobilenet(const BackboneInfo& info, const std::vector<size_t>& layer_indices,
                                const WeightMap& weights) {
  size_t deepest = 0;
  for (size_t i : layer_indices) deepest = std::max(deepest, i);
  const auto specs = op_specs();
  BackboneNetwork network;
  std::vector<int> op_values;  // the ConvNet value of each op
  for (size_t i = 0; i <= deepest; ++i) {
    const OpSpec& s = specs[i];
    auto get = [&](const std::string& n, std::vector<int64_t> shape) {
      auto t = backbone_detail::require_tensor(weights, info.name, n, shape);
      network.weights[n] = t;
      return t;
    };
    auto kernel = get(s.kernel, s.keras_shape());
    auto gamma = get(s.bn + "/gamma", {s.out});
    auto beta = get(s.bn + "/beta", {s.out});
    auto mean = get(s.bn + "/moving_mean", {s.out});
    auto var = get(s.bn + "/moving_variance", {s.out});
    // Keras [kh,kw,in,out] -> OIHW; depthwise [kh,kw,in,1] -> [in,1,kh,kw].
    auto oihw = s.depthwise ? kernel.permute({2, 3, 0, 1}) : kernel.permute({3, 2, 0, 1});
    const auto folded = backbone_detail::fold_batchnorm(oihw.contiguous(), gamma, beta, mean, var, kBatchNormEps);
    ConvNet::Conv op;
    op.name = s.kernel.substr(0, s.kernel.find('/'));  // the Keras layer, e.g. conv_dw_3
    op.input = op_values.empty() ? ConvNet::kInput : op_values.back();
    op.weight = folded.weight;
    op.bias = folded.bias;
    op.stride = s.stride;
    op.tf_same_padding = true;
    op.groups = s.depthwise ? s.in : 1;
    op.activation = ConvNet::Activation::relu6;
    op_values.push_back(network.net.add_conv(std::move(op)));
  }
  for (size_t i : layer_indices) network.outputs.push_back(op_values[i]);
  return network;
}

WeightMap random_mobilenet_weights(uint64_t seed) {
  backbone_detail::SeededRandom rng(seed);
  WeightMap w;
  for (const OpSpec& s : op_specs()) {
    const int64_t fan_out = (s.depthwise ? 1 : s.out) * s.k * s.k;
    w[s.kernel] = rng.normal(s.keras_shape(), 0.0, std::sqrt(2.0 / static_cast<double>(fan_out)));
    w[s.bn + "/gamma"] = rng.uniform({s.out}, 0.5, 1.5);
    w[s.bn + "/beta"] = rng.normal({s.out}, 0.0, 0.1);
    w[s.bn + "/moving_mean"] = rng.normal({s.out}, 0.0, 0.1);
    w[s.bn + "/moving_variance"] = rng.uniform({s.out}, 0.5, 1.5);
  }
  return w;
}

}  // namespace patchcore
