// Backbone registry (names, layers, scaling), create_backbone and shared helpers.
#include <ATen/ATen.h>

#include <sstream>

#include "backbone/backbone.h"
#include "backbone/backbone_common.h"
#include "backbone/mobilenet.h"
#include "backbone/resnet.h"
#include "io/error.h"
#include "io/text.h"

namespace patchcore {
namespace {

std::vector<BackboneInfo> make_backbones() {
  const std::vector<std::string> resnet_layers = {"layer1", "layer2", "layer3", "layer4"};
  const std::vector<std::string> resnet_default = {"layer2", "layer3"};
  std::vector<BackboneInfo> out;
  for (const char* name : {"resnet18", "resnet50", "wide_resnet50_2"})
    out.push_back({name, BackboneFamily::kResNet, WeightFormat::kSafetensors, InputScaling::kImageNet, resnet_layers,
                   resnet_default});
  std::vector<std::string> mobilenet_layers = {"conv1_relu"};
  for (int n = 1; n <= 13; ++n) {
    mobilenet_layers.push_back("conv_dw_" + std::to_string(n) + "_relu");
    mobilenet_layers.push_back("conv_pw_" + std::to_string(n) + "_relu");
  }
  out.push_back({"mobilenet_v1_0.75", BackboneFamily::kMobileNetV1, WeightFormat::kTfjs, InputScaling::kSymmetric,
                 mobilenet_layers, {"conv_pw_5_relu", "conv_pw_11_relu"}});
  return out;
}

}  // namespace

const std::vector<BackboneInfo>& supported_backbones() {
  static const std::vector<BackboneInfo> backbones = make_backbones();
  return backbones;
}

const BackboneInfo& backbone_info(const std::string& name) {
  std::vector<std::string> names;
  for (const auto& info : supported_backbones()) {
    if (info.name == name) return info;
    names.push_back(info.name);
  }
  throw UserError("unknown backbone '" + name + "'; supported backbones: " + join(names));
}

std::unique_ptr<Backbone> create_backbone(const std::string& name,
                                          const std::vector<std::string>& layers,
                                          const WeightMap& weights) {
  const BackboneInfo& info = backbone_info(name);
  switch (info.family) {
    case BackboneFamily::kMobileNetV1: return create_mobilenet(info, layers, weights);
    case BackboneFamily::kResNet: break;
  }
  return create_resnet(info, layers, weights);
}

namespace backbone_detail {

std::string shape_string(c10::IntArrayRef shape) {
  std::ostringstream s;
  s << '[';
  for (size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
  s << ']';
  return s.str();
}

torch::Tensor require_tensor(const WeightMap& weights, const std::string& backbone,
                             const std::string& name, const std::vector<int64_t>& shape) {
  auto it = weights.find(name);
  if (it == weights.end() || !it->second.defined())
    throw UserError("weights for " + backbone + " lack the tensor '" + name + "' (expected shape " +
                    shape_string(shape) + "); are these weights for another backbone?");
  const torch::Tensor& t = it->second;
  if (t.sizes() != c10::IntArrayRef(shape))
    throw UserError("weight tensor '" + name + "' has shape " + shape_string(t.sizes()) +
                    ", but " + backbone + " expects " + shape_string(shape) +
                    "; are these weights for another backbone?");
  if (!at::isFloatingType(t.scalar_type()))
    throw UserError("weight tensor '" + name + "' has dtype " +
                    std::string(c10::toString(t.scalar_type())) + ", expected a floating type");
  return t.to(torch::kCPU, torch::kFloat).contiguous();
}

FoldedConv fold_batchnorm(const torch::Tensor& weight_oihw, const torch::Tensor& gamma,
                          const torch::Tensor& beta, const torch::Tensor& mean,
                          const torch::Tensor& var, double eps) {
  auto scale = gamma.to(torch::kDouble) / (var.to(torch::kDouble) + eps).sqrt();
  FoldedConv c;
  c.weight = (weight_oihw.to(torch::kDouble) * scale.view({-1, 1, 1, 1})).to(torch::kFloat);
  c.bias = (beta.to(torch::kDouble) - mean.to(torch::kDouble) * scale).to(torch::kFloat);
  return c;
}

std::vector<size_t> resolve_layers(const BackboneInfo& info, std::vector<std::string>& layers) {
  if (layers.empty()) layers = info.default_layers;
  std::vector<size_t> indices;
  for (const auto& layer : layers) {
    size_t i = 0;
    while (i < info.layers.size() && info.layers[i] != layer) ++i;
    if (i == info.layers.size())
      throw UserError("unknown layer '" + layer + "' for backbone " + info.name +
                      "; valid layers: " + join(info.layers));
    indices.push_back(i);
  }
  return indices;
}

}  // namespace backbone_detail
}  // namespace patchcore
