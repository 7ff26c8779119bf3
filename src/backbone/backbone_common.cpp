// Helpers shared by the backbone builders (backbone_common.h).
#include "backbone/backbone_common.h"

#include <ATen/ATen.h>

#include <sstream>

#include "io/error.h"
#include "io/text.h"

namespace patchcore {

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
