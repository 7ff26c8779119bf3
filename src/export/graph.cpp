// build_export_graph(): the exported model as one op list (see graph.h).
#include "export/graph.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

#include "io/error.h"
#include "io/text.h"

namespace patchcore {

const std::vector<int64_t>& GraphNode::ints_at(const std::string& key) const {
  auto it = ints.find(key);
  if (it == ints.end())
    throw std::logic_error(std::string("export graph: node ") + name + " lacks attribute " + key);
  return it->second;
}

int64_t GraphNode::int_at(const std::string& key) const { return ints_at(key).at(0); }

double GraphNode::float_at(const std::string& key) const {
  auto it = floats.find(key);
  if (it == floats.end())
    throw std::logic_error(std::string("export graph: node ") + name + " lacks attribute " + key);
  return it->second;
}

int64_t ExportGraph::constant_bytes() const {
  int64_t total = 0;
  for (const auto& v : values)
    if (v.is_constant()) total += v.constant.numel() * v.constant.element_size();
  return total;
}

namespace {

using Shape = std::vector<int64_t>;
using Ints = std::map<std::string, std::vector<int64_t>>;
using Floats = std::map<std::string, double>;

int64_t norm_axis(int64_t axis, size_t rank) {
  return axis < 0 ? axis + static_cast<int64_t>(rank) : axis;
}

Shape broadcast(const Shape& a, const Shape& b) {
  Shape out(std::max(a.size(), b.size()));
  for (size_t i = 0; i < out.size(); ++i) {
    const int64_t da = i < out.size() - a.size() ? 1 : a[i - (out.size() - a.size())];
    const int64_t db = i < out.size() - b.size() ? 1 : b[i - (out.size() - b.size())];
    if (da == db || db == 1) out[i] = da;
    else if (da == 1) out[i] = db;
    else throw std::logic_error("export graph: shapes do not broadcast");
  }
  return out;
}

int64_t pooled_size(int64_t in, int64_t k, int64_t s, int64_t p0, int64_t p1) {
  return (in + p0 + p1 - k) / s + 1;
}

// Output shapes of a node from its input shapes (batch stays -1).
std::vector<std::pair<ValueType, Shape>> infer(const ExportGraph& g, const GraphNode& n) {
  auto in = [&](size_t i) -> const Shape& { return g.values.at(n.inputs.at(i)).shape; };
  auto in_type = [&](size_t i) { return g.values.at(n.inputs.at(i)).type; };
  const auto F = ValueType::kFloat32;
  switch (n.op) {
    case GraphOp::kConv: {
      const Shape& x = in(0);
      const Shape& w = in(1);
      const auto& s = n.ints_at("strides");
      const auto& p = n.ints_at("pads");
      return {{F, {x[0], w[0], pooled_size(x[2], w[2], s[0], p[0], p[2]),
                   pooled_size(x[3], w[3], s[1], p[1], p[3])}}};
    }
    case GraphOp::kMaxPool:
    case GraphOp::kAvgPool: {
      const Shape& x = in(0);
      const auto& k = n.ints_at("kernel");
      const auto& s = n.ints_at("strides");
      const auto& p = n.ints_at("pads");
      return {{F, {x[0], x[1], pooled_size(x[2], k[0], s[0], p[0], p[2]),
                   pooled_size(x[3], k[1], s[1], p[1], p[3])}}};
    }
    case GraphOp::kRelu:
    case GraphOp::kClip:
    case GraphOp::kSqrt:
    case GraphOp::kSoftmax:
      return {{in_type(0), in(0)}};
    case GraphOp::kPadReflect: {
      Shape out = in(0);
      const auto& p = n.ints_at("pads");
      for (size_t i = 0; i < out.size(); ++i)
        if (p[i] || p[i + out.size()]) out[i] += p[i] + p[i + out.size()];
      return {{F, out}};
    }
    case GraphOp::kAdd:
    case GraphOp::kSub:
    case GraphOp::kMul:
      return {{in_type(0), broadcast(in(0), in(1))}};
    case GraphOp::kMatMul: {
      const Shape& a = in(0);
      const Shape& b = in(1);
      Shape batch = broadcast(Shape(a.begin(), a.end() - 2), Shape(b.begin(), b.end() - 2));
      batch.push_back(a[a.size() - 2]);
      batch.push_back(b.back());
      return {{F, batch}};
    }
    case GraphOp::kResizeBilinear: {
      Shape out = in(0);
      const auto& s = n.ints_at("sizes");
      out[2] = s[0];
      out[3] = s[1];
      return {{F, out}};
    }
    case GraphOp::kConcat: {
      Shape out = in(0);
      const int64_t axis = norm_axis(n.int_at("axis"), out.size());
      for (size_t i = 1; i < n.inputs.size(); ++i) out[axis] += in(i)[axis];
      return {{F, out}};
    }
    case GraphOp::kTranspose: {
      const auto& perm = n.ints_at("perm");
      Shape out;
      for (int64_t p : perm) out.push_back(in(0)[p]);
      return {{in_type(0), out}};
    }
    case GraphOp::kReshape: {
      Shape out = n.ints_at("shape");
      for (size_t i = 0; i < out.size(); ++i) {
        if (out[i] == 0) out[i] = in(0)[i];
        else if (out[i] < 0) throw std::logic_error("export graph: Reshape with -1 is not used");
      }
      return {{in_type(0), out}};
    }
    case GraphOp::kReduceSum: {
      Shape out = in(0);
      for (int64_t a : n.ints_at("axes")) out[norm_axis(a, out.size())] = 1;
      if (!n.int_at("keepdims")) throw std::logic_error("export graph: ReduceSum keeps dims");
      return {{F, out}};
    }
    case GraphOp::kTopK: {
      Shape out = in(0);
      out[norm_axis(n.int_at("axis"), out.size())] = n.int_at("k");
      return {{in_type(0), out}, {ValueType::kInt64, out}};
    }
    case GraphOp::kGather: {
      const Shape& d = in(0);
      const int64_t axis = norm_axis(n.int_at("axis"), d.size());
      Shape out(d.begin(), d.begin() + axis);
      out.insert(out.end(), in(1).begin(), in(1).end());
      out.insert(out.end(), d.begin() + axis + 1, d.end());
      return {{in_type(0), out}};
    }
    case GraphOp::kGatherND: {
      const Shape& d = in(0);
      const Shape& idx = in(1);
      const int64_t b = n.int_at("batch_dims");
      Shape out(idx.begin(), idx.end() - 1);
      out.insert(out.end(), d.begin() + b + idx.back(), d.end());
      return {{in_type(0), out}};
    }
    case GraphOp::kGatherElements:
      return {{in_type(0), in(1)}};
  }
  throw std::logic_error("export graph: unknown op");
}

class Builder {
 public:
  ExportGraph graph;

  int input(const std::string& name, Shape shape) {
    graph.values.push_back({name, ValueType::kFloat32, std::move(shape), {}});
    return graph.input = static_cast<int>(graph.values.size()) - 1;
  }

  int constant(const std::string& name, torch::Tensor t) {
    t = t.contiguous();
    ValueType type;
    if (t.scalar_type() == torch::kFloat) type = ValueType::kFloat32;
    else if (t.scalar_type() == torch::kLong) type = ValueType::kInt64;
    else throw std::logic_error("export graph: constants are float32 or int64");
    graph.values.push_back({unique(name), type, t.sizes().vec(), t});
    return static_cast<int>(graph.values.size()) - 1;
  }

  int floats(const std::string& name, std::vector<float> v, Shape shape) {
    return constant(name, torch::tensor(v, torch::kFloat).view(shape).clone());
  }
  int longs(const std::string& name, std::vector<int64_t> v, Shape shape) {
    return constant(name, torch::tensor(v, torch::kLong).view(shape).clone());
  }

  std::vector<int> ops(GraphOp op, const std::string& name, std::vector<int> inputs, Ints ints = {},
                       Floats floats = {}) {
    GraphNode node{op, unique(name), std::move(inputs), {}, std::move(ints), std::move(floats)};
    const auto outs = infer(graph, node);
    for (size_t i = 0; i < outs.size(); ++i) {
      const std::string vname = outs.size() == 1 ? node.name : node.name + ":" + std::to_string(i);
      graph.values.push_back({vname, outs[i].first, outs[i].second, {}});
      node.outputs.push_back(static_cast<int>(graph.values.size()) - 1);
    }
    graph.nodes.push_back(std::move(node));
    return graph.nodes.back().outputs;
  }
  int op(GraphOp op, const std::string& name, std::vector<int> inputs, Ints ints = {},
         Floats floats = {}) {
    return ops(op, name, std::move(inputs), std::move(ints), std::move(floats)).at(0);
  }

  const Shape& shape(int v) const { return graph.values.at(v).shape; }

  // Renames a value (used for the graph outputs).
  void rename(int v, const std::string& name) {
    for (auto& value : graph.values)
      if (value.name == name) throw std::logic_error("export graph: duplicate name " + name);
    graph.values.at(v).name = name;
  }

 private:
  std::map<std::string, int> counts_;
  std::string unique(const std::string& name) {
    const int n = counts_[name]++;
    return n == 0 ? name : name + "_" + std::to_string(n);
  }
};

torch::Tensor weight(const WeightMap& w, const std::string& name) {
  auto it = w.find(name);
  if (it == w.end()) throw UserError("export: the weights lack the tensor '" + name + "'");
  return it->second.to(torch::kFloat).contiguous();
}

// BatchNorm folded into an OIHW convolution, in float64 like the native backbones.
std::pair<torch::Tensor, torch::Tensor> fold(const torch::Tensor& w_oihw, const torch::Tensor& gamma,
                                             const torch::Tensor& beta, const torch::Tensor& mean,
                                             const torch::Tensor& var, double eps) {
  const auto scale = gamma.to(torch::kDouble) / (var.to(torch::kDouble) + eps).sqrt();
  const auto w = (w_oihw.to(torch::kDouble) * scale.view({-1, 1, 1, 1})).to(torch::kFloat);
  const auto b = (beta.to(torch::kDouble) - mean.to(torch::kDouble) * scale).to(torch::kFloat);
  return {w.contiguous(), b.contiguous()};
}

int conv(Builder& b, int x, const std::string& name, const torch::Tensor& w, const torch::Tensor& bias,
         int64_t stride, std::vector<int64_t> pads, int64_t group = 1) {
  const int wv = b.constant(name + ".weight", w);
  const int bv = b.constant(name + ".bias", bias);
  return b.op(GraphOp::kConv, name, {x, wv, bv},
              {{"strides", {stride, stride}}, {"pads", std::move(pads)}, {"group", {group}}});
}

// ---- ResNet (torchvision) ------------------------------------------------------------

int resnet_conv_bn(Builder& b, int x, const WeightMap& w, const std::string& conv_name,
                   const std::string& bn_name, int64_t stride, int64_t pad) {
  const auto [fw, fb] = fold(weight(w, conv_name + ".weight"), weight(w, bn_name + ".weight"),
                             weight(w, bn_name + ".bias"), weight(w, bn_name + ".running_mean"),
                             weight(w, bn_name + ".running_var"), 1e-5);
  return conv(b, x, conv_name, fw, fb, stride, {pad, pad, pad, pad});
}

std::vector<int> build_resnet(Builder& b, int x, const WeightMap& w,
                              const std::vector<size_t>& layer_indices) {
  size_t deepest = 0;
  for (size_t i : layer_indices) deepest = std::max(deepest, i);
  x = resnet_conv_bn(b, x, w, "conv1", "bn1", 2, 3);
  x = b.op(GraphOp::kRelu, "relu", {x});
  x = b.op(GraphOp::kMaxPool, "maxpool", {x},
           {{"kernel", {3, 3}}, {"strides", {2, 2}}, {"pads", {1, 1, 1, 1}}});
  const bool bottleneck = w.count("layer1.0.conv3.weight") > 0;
  std::vector<int> stage_outputs;
  for (size_t s = 0; s <= deepest; ++s) {
    const std::string stage = "layer" + std::to_string(s + 1);
    for (int blk = 0;; ++blk) {
      const std::string p = stage + "." + std::to_string(blk) + ".";
      if (!w.count(p + "conv1.weight")) {
        if (blk == 0) throw UserError("export: the weights lack '" + p + "conv1.weight'");
        break;
      }
      const int64_t stride = (s > 0 && blk == 0) ? 2 : 1;
      int identity = x;
      int y;
      if (bottleneck) {
        y = resnet_conv_bn(b, x, w, p + "conv1", p + "bn1", 1, 0);
        y = b.op(GraphOp::kRelu, p + "relu1", {y});
        y = resnet_conv_bn(b, y, w, p + "conv2", p + "bn2", stride, 1);
        y = b.op(GraphOp::kRelu, p + "relu2", {y});
        y = resnet_conv_bn(b, y, w, p + "conv3", p + "bn3", 1, 0);
      } else {
        y = resnet_conv_bn(b, x, w, p + "conv1", p + "bn1", stride, 1);
        y = b.op(GraphOp::kRelu, p + "relu1", {y});
        y = resnet_conv_bn(b, y, w, p + "conv2", p + "bn2", 1, 1);
      }
      if (w.count(p + "downsample.0.weight"))
        identity = resnet_conv_bn(b, x, w, p + "downsample.0", p + "downsample.1", stride, 0);
      y = b.op(GraphOp::kAdd, p + "add", {y, identity});
      x = b.op(GraphOp::kRelu, p + "relu", {y});
    }
    stage_outputs.push_back(x);
  }
  std::vector<int> out;
  for (size_t i : layer_indices) out.push_back(stage_outputs.at(i));
  return out;
}

// ---- MobileNet v1 (Keras, TensorFlow "same" padding, relu6) --------------------------

std::pair<int64_t, int64_t> same_padding(int64_t in, int64_t k, int64_t s) {
  const int64_t out = (in + s - 1) / s;
  const int64_t total = std::max<int64_t>((out - 1) * s + k - in, 0);
  return {total / 2, total - total / 2};
}

int mobilenet_op(Builder& b, int x, const WeightMap& w, const std::string& layer,
                 const std::string& kernel_name, bool depthwise, int64_t stride) {
  const auto kernel = weight(w, layer + "/" + kernel_name);  // Keras [kh, kw, in, out|1]
  const auto oihw = depthwise ? kernel.permute({2, 3, 0, 1}) : kernel.permute({3, 2, 0, 1});
  const std::string bn = layer + "_bn/";
  const auto [fw, fb] = fold(oihw.contiguous(), weight(w, bn + "gamma"), weight(w, bn + "beta"),
                             weight(w, bn + "moving_mean"), weight(w, bn + "moving_variance"), 1e-3);
  const int64_t k = kernel.size(0);
  const auto [top, bottom] = same_padding(b.shape(x)[2], k, stride);
  const auto [left, right] = same_padding(b.shape(x)[3], kernel.size(1), stride);
  const int y = conv(b, x, layer, fw, fb, stride, {top, left, bottom, right},
                     depthwise ? kernel.size(2) : 1);
  return b.op(GraphOp::kClip, layer + "_relu", {y}, {}, {{"min", 0.0}, {"max", 6.0}});
}

std::vector<int> build_mobilenet(Builder& b, int x, const WeightMap& w,
                                 const std::vector<size_t>& layer_indices) {
  static constexpr int64_t kDwStrides[13] = {1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1};
  size_t deepest = 0;
  for (size_t i : layer_indices) deepest = std::max(deepest, i);
  // Layer index i (BackboneInfo::layers order): 0 conv1_relu, 2n-1 conv_dw_n_relu, 2n conv_pw_n_relu.
  std::vector<int> outs;
  x = mobilenet_op(b, x, w, "conv1", "kernel", false, 2);
  outs.push_back(x);
  for (int n = 1; 2 * n - 1 <= static_cast<int>(deepest); ++n) {
    const std::string s = std::to_string(n);
    x = mobilenet_op(b, x, w, "conv_dw_" + s, "depthwise_kernel", true, kDwStrides[n - 1]);
    outs.push_back(x);
    if (2 * n > static_cast<int>(deepest)) break;
    x = mobilenet_op(b, x, w, "conv_pw_" + s, "kernel", false, 1);
    outs.push_back(x);
  }
  std::vector<int> out;
  for (size_t i : layer_indices) out.push_back(outs.at(i));
  return out;
}

}  // namespace

ExportGraph build_export_graph(const ExportSource& source) {
  const BackboneInfo& info = backbone_info(source.backbone);  // UserError when unknown
  // Validate names and shapes of the weights exactly as the native backbone does.
  std::vector<std::string> layers = source.layers;
  const auto native = create_backbone(source.backbone, layers, source.weights);
  layers = native->layers();
  std::vector<size_t> layer_indices;
  for (const auto& layer : layers)
    layer_indices.push_back(std::find(info.layers.begin(), info.layers.end(), layer) -
                            info.layers.begin());

  const int64_t H = source.height, W = source.width;
  constexpr int64_t kRadius = 16;  // Gaussian blur: sigma 4, kernel 33
  if (H <= kRadius || W <= kRadius)
    throw UserError("export: the image size must exceed " + std::to_string(kRadius) +
                    " pixels per side (Gaussian blur with reflect border)");
  const auto& bank_in = source.memory_bank;
  if (!bank_in.defined() || bank_in.dim() != 2 || bank_in.size(0) == 0)
    throw UserError("export: the memory bank must be a non-empty [M, C] tensor");
  const auto bank = bank_in.to(torch::kFloat).contiguous();
  if (source.num_neighbors < 1) throw UserError("export: num_neighbors must be >= 1");
  const int64_t support_k = std::min<int64_t>(source.num_neighbors, bank.size(0));
  const auto& support = source.support;
  if (source.num_neighbors > 1 &&
      (!support.defined() || support.dim() != 2 || support.size(0) != bank.size(0) || support.size(1) < support_k ||
       support.scalar_type() != torch::kLong))
    throw UserError("export: the support table must be int64 [" + std::to_string(bank.size(0)) + ", >= " +
                    std::to_string(support_k) + "], as the checkpoint stores it; retrain the model");

  Builder b;
  const int x = b.input("input", {-1, 3, H, W});
  const auto maps = backbone_info(source.backbone).family == BackboneFamily::kMobileNetV1
                        ? build_mobilenet(b, x, native->weights(), layer_indices)
                        : build_resnet(b, x, native->weights(), layer_indices);

  // Locally aware patch features: avg-pool 3x3/1/1, bilinear to the first map, concat.
  std::vector<int> parts;
  int64_t h = 0, w = 0;
  for (size_t i = 0; i < maps.size(); ++i) {
    int p = b.op(GraphOp::kAvgPool, "feature_pool." + layers[i], {maps[i]},
                 {{"kernel", {3, 3}}, {"strides", {1, 1}}, {"pads", {1, 1, 1, 1}},
                  {"count_include_pad", {1}}});
    if (i == 0) {
      h = b.shape(p)[2];
      w = b.shape(p)[3];
    } else if (b.shape(p)[2] != h || b.shape(p)[3] != w) {
      p = b.op(GraphOp::kResizeBilinear, "feature_resize." + layers[i], {p}, {{"sizes", {h, w}}});
    }
    parts.push_back(p);
  }
  int emb = parts.size() == 1 ? parts[0] : b.op(GraphOp::kConcat, "embedding", parts, {{"axis", {1}}});
  const int64_t C = b.shape(emb)[1];
  if (bank.size(1) != C)
    throw UserError("export: the memory bank has " + std::to_string(bank.size(1)) +
                    " channels but " + source.backbone + " " + join(layers, "+") + " gives " +
                    std::to_string(C));
  const int64_t P = h * w, M = bank.size(0);

  // Patches [B, P, C] and squared Euclidean distances to the bank, as anomalib:
  // |x|^2 - 2 x.y + |y|^2, clamped at 0.
  int patches = b.op(GraphOp::kTranspose, "patches_nhwc", {emb}, {{"perm", {0, 2, 3, 1}}});
  patches = b.op(GraphOp::kReshape, "patches", {patches}, {{"shape", {0, P, C}}});
  const int x2 = b.op(GraphOp::kMul, "patches_sq", {patches, patches});
  const int x_norm = b.op(GraphOp::kReduceSum, "patches_norm", {x2}, {{"axes", {2}}, {"keepdims", {1}}});
  const int bank_t = b.constant("memory_bank_t", bank.t().contiguous());  // [C, M]
  const int y2 = b.op(GraphOp::kMul, "bank_sq", {bank_t, bank_t});
  const int y_norm = b.op(GraphOp::kReduceSum, "bank_norm", {y2}, {{"axes", {0}}, {"keepdims", {1}}});
  const int xy = b.op(GraphOp::kMatMul, "patches_dot_bank", {patches, bank_t});  // [B,P,M]
  const int xy2 = b.op(GraphOp::kMul, "dot_times_2", {xy, b.floats("two", {2.f}, {1})});
  int d2 = b.op(GraphOp::kSub, "dist_sq_a", {x_norm, xy2});
  d2 = b.op(GraphOp::kAdd, "dist_sq_b", {d2, y_norm});
  d2 = b.op(GraphOp::kRelu, "dist_sq", {d2});  // clamp_min(0)

  // Nearest bank row per patch.
  const auto nn = b.ops(GraphOp::kTopK, "nearest", {d2}, {{"k", {1}}, {"axis", {2}}, {"largest", {0}}});
  const int nn_d2 = b.op(GraphOp::kReshape, "nearest_dist_sq", {nn[0]}, {{"shape", {0, P}}});
  const int nn_idx = b.op(GraphOp::kReshape, "nearest_index", {nn[1]}, {{"shape", {0, P}}});
  const int scores = b.op(GraphOp::kSqrt, "patch_scores", {nn_d2});  // [B, P]

  // Anomaly map: nearest upsampling (index tables computed with torch's own nearest
  // rule, so they are exact) then Gaussian blur sigma 4, kernel 33, reflect border.
  const int grid = b.op(GraphOp::kReshape, "patch_grid", {scores}, {{"shape", {0, 1, h, w}}});
  auto nearest_rows = [](int64_t in, int64_t out) {
    const auto src = at::arange(in, torch::kFloat).view({1, 1, in, 1});
    return at::upsample_nearest2d(src, {out, 1}).reshape({out}).to(torch::kLong);
  };
  int map = b.op(GraphOp::kGather, "upsample_rows", {grid, b.constant("upsample_row_index", nearest_rows(h, H))},
                 {{"axis", {2}}});
  map = b.op(GraphOp::kGather, "upsample_cols", {map, b.constant("upsample_col_index", nearest_rows(w, W))},
             {{"axis", {3}}});
  map = b.op(GraphOp::kPadReflect, "blur_pad", {map},
             {{"pads", {0, 0, kRadius, kRadius, 0, 0, kRadius, kRadius}}});
  auto kernel = at::arange(-kRadius, kRadius + 1, torch::kDouble);
  kernel = at::exp(-(kernel * kernel) / (2 * 4.0 * 4.0));
  kernel = (kernel / kernel.sum()).to(torch::kFloat);
  const int64_t K = 2 * kRadius + 1;
  map = conv(b, map, "blur_v", kernel.view({1, 1, K, 1}).contiguous(), torch::zeros({1}), 1, {0, 0, 0, 0});
  map = conv(b, map, "blur_h", kernel.view({1, 1, 1, K}).contiguous(), torch::zeros({1}), 1, {0, 0, 0, 0});

  // Image score: anomalib's re-weighting of the worst patch's score.
  const auto worst = b.ops(GraphOp::kTopK, "worst_patch", {scores}, {{"k", {1}}, {"axis", {1}}, {"largest", {1}}});
  int pred = worst[0];  // [B, 1]
  if (source.num_neighbors > 1) {
    const int table = b.constant("support_table", support.narrow(1, 0, support_k).contiguous());  // [M,k]
    const int nn_of_worst = b.op(GraphOp::kGatherND, "worst_nearest", {nn_idx, worst[1]}, {{"batch_dims", {1}}});  // [B]
    const int support = b.op(GraphOp::kGather, "support", {table, nn_of_worst}, {{"axis", {0}}});  // [B,k]
    const int row = b.op(GraphOp::kGatherND, "worst_dist_sq", {d2, worst[1]}, {{"batch_dims", {1}}});  // [B,M]
    int sd = b.op(GraphOp::kGatherElements, "support_dist_sq", {row, support}, {{"axis", {1}}});  // [B,k]
    sd = b.op(GraphOp::kSqrt, "support_dist", {sd});
    const int sm = b.op(GraphOp::kSoftmax, "support_softmax", {sd}, {{"axis", {1}}});
    const int first = b.op(GraphOp::kGather, "support_softmax_first", {sm, b.longs("index_zero", {0}, {1})},
                           {{"axis", {1}}});  // [B,1]
    const int weight_v = b.op(GraphOp::kSub, "score_weight", {b.floats("one", {1.f}, {1}), first});
    pred = b.op(GraphOp::kMul, "score", {weight_v, pred});
  }
  b.rename(map, "anomaly_map");
  b.rename(pred, "pred_score");
  b.graph.outputs = {map, pred};

  auto& meta = b.graph.metadata;
  meta["patchcore.backbone"] = source.backbone;
  meta["patchcore.layers"] = join(layers, ",");
  meta["patchcore.image_size"] = std::to_string(H) + "," + std::to_string(W);
  meta["patchcore.input_scaling"] =
      source.scaling == InputScaling::kImageNet ? "imagenet" : "symmetric";
  meta["patchcore.input_layout"] = "NCHW RGB float32";
  meta["patchcore.num_neighbors"] = std::to_string(source.num_neighbors);
  meta["patchcore.memory_bank"] = std::to_string(M) + "x" + std::to_string(C);
  for (const auto& [key, value] : source.metadata) meta[key] = value;  // e.g. the ROI (patchcore.roi_*)
  return std::move(b.graph);
}

}  // namespace patchcore
