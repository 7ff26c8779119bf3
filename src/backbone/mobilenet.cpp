#include "backbone/mobilenet.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <cmath>

#include "backbone/backbone_common.h"
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

struct Op {
  torch::Tensor weight;  // OIHW, BatchNorm folded
  torch::Tensor bias;
  int64_t k, stride, groups;
};

// TensorFlow "same" padding along one axis: {before, after}.
std::pair<int64_t, int64_t> same_padding(int64_t in, int64_t k, int64_t s) {
  const int64_t out = (in + s - 1) / s;
  const int64_t total = std::max<int64_t>((out - 1) * s + k - in, 0);
  return {total / 2, total - total / 2};
}

torch::Tensor run_op(const Op& op, torch::Tensor x) {
  const auto [top, bottom] = same_padding(x.size(2), op.k, op.stride);
  const auto [left, right] = same_padding(x.size(3), op.k, op.stride);
  std::vector<int64_t> padding = {top, left};
  if (top != bottom || left != right) {
    x = at::constant_pad_nd(x, {left, right, top, bottom}, 0).contiguous(backbone_detail::kMemoryFormat);
    padding = {0, 0};
  }
  x = backbone_detail::conv2d(x, op.weight, op.bias, op.stride, padding, op.groups);
  return x.clamp_(0, 6);  // ReLU6
}

class MobileNet final : public Backbone {
 public:
  MobileNet(const BackboneInfo& info, std::vector<std::string> layers, const WeightMap& weights)
      : info_(info), layers_(std::move(layers)) {
    layer_indices_ = backbone_detail::resolve_layers(info_, layers_);
    size_t deepest = 0;
    for (size_t i : layer_indices_) deepest = std::max(deepest, i);
    const auto specs = op_specs();
    for (size_t i = 0; i <= deepest; ++i) {
      const OpSpec& s = specs[i];
      auto get = [&](const std::string& n, std::vector<int64_t> shape) {
        auto t = backbone_detail::require_tensor(weights, info_.name, n, shape);
        weights_[n] = t;
        return t;
      };
      auto kernel = get(s.kernel, s.keras_shape());
      auto gamma = get(s.bn + "/gamma", {s.out});
      auto beta = get(s.bn + "/beta", {s.out});
      auto mean = get(s.bn + "/moving_mean", {s.out});
      auto var = get(s.bn + "/moving_variance", {s.out});
      // Keras [kh,kw,in,out] -> OIHW; depthwise [kh,kw,in,1] -> [in,1,kh,kw].
      auto oihw = s.depthwise ? kernel.permute({2, 3, 0, 1}) : kernel.permute({3, 2, 0, 1});
      auto folded = backbone_detail::fold_batchnorm(oihw.contiguous(), gamma, beta, mean, var,
                                                    kBatchNormEps);
      ops_.push_back({folded.weight, folded.bias, s.k, s.stride, s.depthwise ? s.in : 1});
    }
  }

  std::vector<torch::Tensor> extract(const torch::Tensor& input) const override {
    if (input.dim() != 4 || input.size(1) != 3)
      throw UserError(info_.name + ": expected input [B,3,H,W], got " +
                      backbone_detail::shape_string(input.sizes()));
    std::vector<torch::Tensor> outputs(layers_.size());
    {
      c10::InferenceMode guard;
      torch::Tensor x = input.to(torch::kFloat);
      x = x.contiguous(backbone_detail::kMemoryFormat);
      std::vector<torch::Tensor> out(ops_.size());
      for (size_t i = 0; i < ops_.size(); ++i) out[i] = x = run_op(ops_[i], x);
      for (size_t i = 0; i < layers_.size(); ++i) outputs[i] = out[layer_indices_[i]];
    }
    return backbone_detail::finish_outputs(std::move(outputs));
  }

  const BackboneInfo& info() const override { return info_; }
  const std::vector<std::string>& layers() const override { return layers_; }
  const WeightMap& weights() const override { return weights_; }

 private:
  BackboneInfo info_;
  std::vector<std::string> layers_;
  std::vector<size_t> layer_indices_;
  WeightMap weights_;
  std::vector<Op> ops_;
};

}  // namespace

std::unique_ptr<Backbone> create_mobilenet(const BackboneInfo& info,
                                           const std::vector<std::string>& layers,
                                           const WeightMap& weights) {
  return std::make_unique<MobileNet>(info, layers, weights);
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

MobileNetClassifier::MobileNetClassifier(const WeightMap& weights) {
  features_ = create_mobilenet(backbone_info("mobilenet_v1_0.75"), {"conv_pw_13_relu"}, weights);
  const std::string name = "mobilenet_v1_0.75 classifier";
  weight_ = backbone_detail::require_tensor(weights, name, "conv_preds/kernel", {1, 1, 768, 1000})
                .permute({3, 2, 0, 1})
                .contiguous();
  bias_ = backbone_detail::require_tensor(weights, name, "conv_preds/bias", {1000});
}

MobileNetClassifier::~MobileNetClassifier() = default;

torch::Tensor MobileNetClassifier::classify(const torch::Tensor& input) const {
  auto features = features_->extract(input)[0];
  c10::InferenceMode guard;
  auto pooled = features.mean({2, 3}, /*keepdim=*/true);  // [B,768,1,1]
  auto logits = at::conv2d(pooled, weight_, bias_).flatten(1);  // tiny: any path is fine
  return at::softmax(logits, 1);
}

}  // namespace patchcore
