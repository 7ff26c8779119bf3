// The backbone registry (names, families, layers, scaling), Backbone and create_backbone.
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

Backbone::Backbone(const BackboneInfo& info, std::vector<std::string> layers, BackboneNetwork network)
    : info_(info), layers_(std::move(layers)), network_(std::move(network)) {}

std::vector<torch::Tensor> Backbone::extract(const torch::Tensor& input) const {
  if (input.dim() != 4 || input.size(1) != 3)
    throw UserError(info_.name + ": expected input [B,3,H,W], got " + backbone_detail::shape_string(input.sizes()));
  return network_.net.run(input, network_.outputs);
}

std::unique_ptr<Backbone> create_backbone(const std::string& name, std::vector<std::string> layers,
                                          const WeightMap& weights) {
  const BackboneInfo& info = backbone_info(name);
  const auto layer_indices = backbone_detail::resolve_layers(info, layers);
  auto network = info.family == BackboneFamily::kMobileNetV1 ? build_mobilenet(info, layer_indices, weights)
                                                             : build_resnet(info, layer_indices, weights);
  return std::make_unique<Backbone>(info, std::move(layers), std::move(network));
}

}  // namespace patchcore
