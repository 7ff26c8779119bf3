#pragma once
// CNN feature extractors. Each backbone runs in eval mode (BatchNorm folded into the
// convolutions at construction) and stops after the deepest requested layer.
#include <torch/types.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backbone/conv_net.h"
#include "data/preprocess.h"

namespace patchcore {

// Tensor name -> tensor. ResNets use torchvision/timm names ("conv1.weight",
// "layer2.0.downsample.1.running_var"); MobileNet uses the Keras names of the TF.js
// manifest ("conv1/kernel", "conv_pw_5_bn/moving_mean"), tensors in Keras layout.
using WeightMap = std::map<std::string, torch::Tensor>;

// The network a backbone is built as (native code, exported graph, random initialisation)
// and the format its pretrained weights come in. Decided once, in the registry: nothing else
// compares backbone names.
enum class BackboneFamily { kResNet, kMobileNetV1 };
enum class WeightFormat {
  kSafetensors,  // torchvision/timm tensor names
  kTfjs,         // a TF.js layers model: model.json + weight shards, Keras names
};

struct BackboneInfo {
  std::string name;                         // "resnet18", "mobilenet_v1_0.75", ...
  BackboneFamily family;
  WeightFormat weight_format;
  InputScaling scaling;                     // how its input is normalised
  std::vector<std::string> layers;          // extractable layers, shallow to deep
  std::vector<std::string> default_layers;  // what `train` uses without --layers
};

// Every supported backbone, in the order --help lists them.
const std::vector<BackboneInfo>& supported_backbones();
// Throws UserError listing the supported names when `name` is unknown.
const BackboneInfo& backbone_info(const std::string& name);

// The network a backbone is made of, built from its weights by the family's builder
// (resnet.h, mobilenet.h).
struct BackboneNetwork {
  ConvNet net;               // BatchNorm folded; stops after the deepest requested layer
  std::vector<int> outputs;  // net values of the requested layers, in the order requested
  WeightMap weights;         // the original (unfolded) tensors it was built from
};

class Backbone {
 public:
  Backbone(const BackboneInfo& info, std::vector<std::string> layers, BackboneNetwork network);

  // input: [B,3,H,W] float32, already pre-processed for this backbone.
  // Returns one feature map [B,C,h,w] per requested layer, in the order requested, stored
  // channels-last (what the embedding reads patch by patch).
  // Thread-safe (const, no mutable state).
  std::vector<torch::Tensor> extract(const torch::Tensor& input) const;
  const BackboneInfo& info() const { return info_; }
  const std::vector<std::string>& layers() const { return layers_; }
  // The original (unfolded) weights this backbone needs, truncated to the deepest
  // requested layer; enough to rebuild it with create_backbone (stored in checkpoints).
  const WeightMap& weights() const { return network_.weights; }
  // The layers as they run: the one definition of the network, which the export lowers.
  const ConvNet& network() const { return network_.net; }
  // network() values of layers(), in that order.
  const std::vector<int>& outputs() const { return network_.outputs; }

 private:
  BackboneInfo info_;
  std::vector<std::string> layers_;
  BackboneNetwork network_;
};

// Builds a backbone from weights. Throws UserError for an unknown backbone or layer
// (listing the valid ones) and for a missing or mis-shaped tensor (naming it and the
// shape expected), e.g. when a resnet50 file is given for wide_resnet50_2. Empty
// `layers` means the backbone's default layers.
std::unique_ptr<Backbone> create_backbone(const std::string& name, std::vector<std::string> layers,
                                          const WeightMap& weights);

}  // namespace patchcore
