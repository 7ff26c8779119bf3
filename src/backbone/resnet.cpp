#include "backbone/resnet.h"

#include <ATen/ATen.h>

#include <cmath>

#include "backbone/backbone_common.h"
#include "backbone/conv_net.h"
#include "backbone/random_weights.h"
#include "io/error.h"

namespace patchcore {
namespace {

constexpr double kBatchNormEps = 1e-5;

struct Arch {
  bool bottleneck;
  int blocks[4];
  int64_t width_factor;  // bottleneck width = planes * width_factor (wide_resnet50_2: 2)
};

Arch arch_of(const std::string& name) {
  if (name == "resnet18") return {false, {2, 2, 2, 2}, 1};
  if (name == "resnet50") return {true, {3, 4, 6, 3}, 1};
  if (name == "wide_resnet50_2") return {true, {3, 4, 6, 3}, 2};
  throw UserError("unknown ResNet '" + name + "'");
}

// One convolution followed by its BatchNorm, with torchvision tensor prefixes.
struct ConvSpec {
  std::string conv;  // "layer2.0.conv1" -> "layer2.0.conv1.weight"
  std::string bn;    // "layer2.0.bn1"   -> ".weight", ".bias", ".running_mean", ".running_var"
  int64_t out, in, k, stride, padding;
};

struct BlockSpec {
  std::vector<ConvSpec> convs;  // 2 (basic) or 3 (bottleneck)
  bool has_downsample = false;
  ConvSpec downsample;
};

struct ArchSpec {
  ConvSpec stem;
  std::vector<std::vector<BlockSpec>> stages;  // stages[0] = layer1
};

ArchSpec arch_spec(const std::string& name, size_t num_stages) {
  const Arch a = arch_of(name);
  ArchSpec spec;
  spec.stem = {"conv1", "bn1", 64, 3, 7, 2, 3};
  int64_t inplanes = 64;
  const int64_t expansion = a.bottleneck ? 4 : 1;
  for (size_t s = 0; s < num_stages; ++s) {
    const int64_t planes = int64_t{64} << s;
    const int64_t stage_stride = s == 0 ? 1 : 2;
    std::vector<BlockSpec> blocks;
    for (int b = 0; b < a.blocks[s]; ++b) {
      const std::string p = "layer" + std::to_string(s + 1) + "." + std::to_string(b) + ".";
      const int64_t stride = b == 0 ? stage_stride : 1;
      BlockSpec block;
      if (a.bottleneck) {
        const int64_t width = planes * a.width_factor;
        block.convs = {{p + "conv1", p + "bn1", width, inplanes, 1, 1, 0},
                       {p + "conv2", p + "bn2", width, width, 3, stride, 1},
                       {p + "conv3", p + "bn3", planes * expansion, width, 1, 1, 0}};
      } else {
        block.convs = {{p + "conv1", p + "bn1", planes, inplanes, 3, stride, 1},
                       {p + "conv2", p + "bn2", planes, planes, 3, 1, 1}};
      }
      if (stride != 1 || inplanes != planes * expansion) {
        block.has_downsample = true;
        block.downsample = {p + "downsample.0", p + "downsample.1", planes * expansion, inplanes,
                            1, stride, 0};
      }
      inplanes = planes * expansion;
      blocks.push_back(std::move(block));
    }
    spec.stages.push_back(std::move(blocks));
  }
  return spec;
}

template <typename F>
void for_each_conv(const ArchSpec& spec, F&& f) {
  f(spec.stem);
  for (const auto& stage : spec.stages)
    for (const auto& block : stage) {
      for (const auto& c : block.convs) f(c);
      if (block.has_downsample) f(block.downsample);
    }
}

}  // namespace

BackboneNetwork build_resnet(const BackboneInfo& info, const std::vector<size_t>& layer_indices,
                             const WeightMap& weights) {
  size_t deepest = 0;
  for (size_t i : layer_indices) deepest = std::max(deepest, i);
  const ArchSpec spec = arch_spec(info.name, deepest + 1);
  BackboneNetwork network;
  ConvNet& net = network.net;

  // One convolution + its BatchNorm, folded, reading `input`.
  auto conv = [&](const ConvSpec& c, int input, ConvNet::Activation activation, int residual = -1) {
    auto get = [&](const std::string& n, std::vector<int64_t> shape) {
      auto t = backbone_detail::require_tensor(weights, info.name, n, shape);
      network.weights[n] = t;
      return t;
    };
    auto w = get(c.conv + ".weight", {c.out, c.in, c.k, c.k});
    auto gamma = get(c.bn + ".weight", {c.out});
    auto beta = get(c.bn + ".bias", {c.out});
    auto mean = get(c.bn + ".running_mean", {c.out});
    auto var = get(c.bn + ".running_var", {c.out});
    const auto folded = backbone_detail::fold_batchnorm(w, gamma, beta, mean, var, kBatchNormEps);
    ConvNet::Conv op;
    op.name = c.conv;
    op.input = input;
    op.weight = folded.weight;
    op.bias = folded.bias;
    op.stride = c.stride;
    op.padding = c.padding;
    op.residual = residual;
    op.activation = activation;
    return net.add_conv(std::move(op));
  };
  using Act = ConvNet::Activation;
  int x = net.add_max_pool({"maxpool", conv(spec.stem, ConvNet::kInput, Act::relu), 3, 2, 1});
  std::vector<int> stage_outputs;
  for (const auto& stage : spec.stages) {
    for (const auto& block : stage) {
      // out = relu(convs(x) + shortcut), every convolution but the last followed by relu.
      int y = x;
      for (size_t i = 0; i + 1 < block.convs.size(); ++i) y = conv(block.convs[i], y, Act::relu);
      const int shortcut = block.has_downsample ? conv(block.downsample, x, Act::none) : x;
      x = conv(block.convs.back(), y, Act::relu, shortcut);
    }
    stage_outputs.push_back(x);
  }
  for (size_t i : layer_indices) network.outputs.push_back(stage_outputs[i]);
  return network;
}

WeightMap random_resnet_weights(const std::string& name, uint64_t seed) {
  backbone_detail::SeededRandom rng(seed);
  WeightMap w;
  for_each_conv(arch_spec(name, 4), [&](const ConvSpec& c) {
    // kaiming_normal_(mode="fan_out", nonlinearity="relu")
    const double std = std::sqrt(2.0 / static_cast<double>(c.out * c.k * c.k));
    w[c.conv + ".weight"] = rng.normal({c.out, c.in, c.k, c.k}, 0.0, std);
    w[c.bn + ".weight"] = rng.uniform({c.out}, 0.5, 1.5);
    w[c.bn + ".bias"] = rng.normal({c.out}, 0.0, 0.1);
    w[c.bn + ".running_mean"] = rng.normal({c.out}, 0.0, 0.1);
    w[c.bn + ".running_var"] = rng.uniform({c.out}, 0.5, 1.5);
  });
  return w;
}

}  // namespace patchcore
