// build_export_graph(): the exported model as one op list (see graph.h).
#include "export/graph.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <variant>

#include "head/embedding.h"
#include "head/scorer.h"
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

// Elements of a shape with the batch (-1) taken as 1.
double elements(const std::vector<int64_t>& shape) {
  double n = 1;
  for (int64_t d : shape) n *= static_cast<double>(d < 0 ? 1 : d);
  return n;
}

}  // namespace

double ExportGraph::flops() const {
  // Nodes whose inputs are all constants, or computed from constants only, are folded by the
  // runtimes when the model is loaded: they cost nothing per image.
  std::vector<bool> folded(values.size());
  for (size_t v = 0; v < values.size(); ++v) folded[v] = values[v].is_constant();
  double total = 0;
  for (const auto& n : nodes) {
    const bool constant = std::all_of(n.inputs.begin(), n.inputs.end(), [&](int v) { return folded.at(v); });
    for (int v : n.outputs) folded.at(v) = constant;
    if (constant) continue;
    const auto& out = values.at(n.outputs.at(0)).shape;
    switch (n.op) {
      case GraphOp::kConv: {
        const auto& w = values.at(n.inputs.at(1)).shape;  // [O, I/g, kh, kw]
        total += 2 * elements(out) * static_cast<double>(w[1] * w[2] * w[3]);
        break;
      }
      case GraphOp::kMatMul:
        total += 2 * elements(out) * static_cast<double>(values.at(n.inputs.at(0)).shape.back());
        break;
      case GraphOp::kAdd:
      case GraphOp::kSub:
      case GraphOp::kMul:
      case GraphOp::kSqrt:
      case GraphOp::kRelu:
      case GraphOp::kClip:
      case GraphOp::kSoftmax:
        total += elements(out);
        break;
      case GraphOp::kReduceSum:
        total += elements(values.at(n.inputs.at(0)).shape);
        break;
      default: break;
    }
  }
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

int conv(Builder& b, int x, const std::string& name, const torch::Tensor& w, const torch::Tensor& bias,
         int64_t stride, std::vector<int64_t> pads, int64_t group = 1) {
  const int wv = b.constant(name + ".weight", w);
  const int bv = b.constant(name + ".bias", bias);
  return b.op(GraphOp::kConv, name, {x, wv, bv},
              {{"strides", {stride, stride}}, {"pads", std::move(pads)}, {"group", {group}}});
}

// Padding {top, left, bottom, right} of a layer reading `in` [B,C,H,W], as ConvNet pads it.
std::vector<int64_t> pads_of(const Shape& in, int64_t kh, int64_t kw, int64_t stride, int64_t padding, bool tf_same) {
  const auto y = ConvNet::output_span(in[2], kh, stride, padding, tf_same);
  const auto x = ConvNet::output_span(in[3], kw, stride, padding, tf_same);
  return {y.before, x.before, y.after, x.after};
}

// The backbone's network, layer by layer as ConvNet runs it (weights folded, the residual
// add and the activation after the convolution). Returns the values of its requested layers.
std::vector<int> lower_backbone(Builder& b, int input, const Backbone& backbone) {
  std::vector<int> values = {input};  // graph value of each network value
  for (const auto& layer : backbone.network().layers()) {
    if (const auto* c = std::get_if<ConvNet::Conv>(&layer)) {
      const int x = values.at(c->input);
      const auto pads = pads_of(b.shape(x), c->weight.size(2), c->weight.size(3), c->stride, c->padding,
                                c->tf_same_padding);
      int y = conv(b, x, c->name, c->weight, c->bias, c->stride, pads, c->groups);
      if (c->residual >= 0) y = b.op(GraphOp::kAdd, c->name + ".add", {y, values.at(c->residual)});
      switch (c->activation) {
        case ConvNet::Activation::none: break;
        case ConvNet::Activation::relu: y = b.op(GraphOp::kRelu, c->name + ".relu", {y}); break;
        case ConvNet::Activation::relu6:
          y = b.op(GraphOp::kClip, c->name + ".relu6", {y}, {}, {{"min", 0.0}, {"max", 6.0}});
          break;
      }
      values.push_back(y);
    } else {
      const auto& p = std::get<ConvNet::MaxPool>(layer);
      const int x = values.at(p.input);
      values.push_back(b.op(GraphOp::kMaxPool, p.name, {x},
                            {{"kernel", {p.kernel, p.kernel}},
                             {"strides", {p.stride, p.stride}},
                             {"pads", pads_of(b.shape(x), p.kernel, p.kernel, p.stride, p.padding, false)}}));
    }
  }
  std::vector<int> out;
  for (int v : backbone.outputs()) out.push_back(values.at(v));
  return out;
}

void check_source(const ExportSource& source) {
  if (!source.backbone) throw std::logic_error("export: no backbone given");
  const int64_t H = source.preprocessing.height, W = source.preprocessing.width;
  if (H <= kBlurRadius || W <= kBlurRadius)
    throw UserError("export: the image size must exceed " + std::to_string(kBlurRadius) +
                    " pixels per side (Gaussian blur with reflect border)");
  const auto& bank = source.memory_bank;
  if (!bank.defined() || bank.dim() != 2 || bank.size(0) == 0)
    throw UserError("export: the memory bank must be a non-empty [M, C] tensor");
  if (source.num_neighbors < 1) throw UserError("export: num_neighbors must be >= 1");
  const int64_t support_k = std::min<int64_t>(source.num_neighbors, bank.size(0));
  const auto& support = source.support;
  if (source.num_neighbors > 1 &&
      (!support.defined() || support.dim() != 2 || support.size(0) != bank.size(0) || support.size(1) < support_k ||
       support.scalar_type() != torch::kLong))
    throw UserError("export: the support table must be int64 [" + std::to_string(bank.size(0)) + ", >= " +
                    std::to_string(support_k) + "], as the checkpoint stores it; retrain the model");
}

// The patch embedding [B,C,h,w] of the layer maps (head/embedding.h: build_embedding).
int lower_embedding(Builder& b, const std::vector<int>& maps, const std::vector<std::string>& layers) {
  using P = FeaturePooling;
  std::vector<int> parts;
  int64_t h = 0, w = 0;
  for (size_t i = 0; i < maps.size(); ++i) {
    int p = b.op(GraphOp::kAvgPool, "feature_pool." + layers[i], {maps[i]},
                 {{"kernel", {P::kKernel, P::kKernel}},
                  {"strides", {P::kStride, P::kStride}},
                  {"pads", {P::kPadding, P::kPadding, P::kPadding, P::kPadding}},
                  {"count_include_pad", {P::kCountIncludePad}}});
    if (i == 0) {
      h = b.shape(p)[2];
      w = b.shape(p)[3];
    } else if (b.shape(p)[2] != h || b.shape(p)[3] != w) {
      p = b.op(GraphOp::kResizeBilinear, "feature_resize." + layers[i], {p}, {{"sizes", {h, w}}});
    }
    parts.push_back(p);
  }
  return parts.size() == 1 ? parts[0] : b.op(GraphOp::kConcat, "embedding", parts, {{"axis", {1}}});
}

// The patches [B,P,C] of an embedding [B,C,h,w] (rows y-major, as embedding_to_patches) and
// their squared norms [B,P,1].
std::pair<int, int> lower_patches(Builder& b, int embedding) {
  const int64_t C = b.shape(embedding)[1], P = b.shape(embedding)[2] * b.shape(embedding)[3];
  int patches = b.op(GraphOp::kTranspose, "patches_nhwc", {embedding}, {{"perm", {0, 2, 3, 1}}});
  patches = b.op(GraphOp::kReshape, "patches", {patches}, {{"shape", {0, P, C}}});
  const int x2 = b.op(GraphOp::kMul, "patches_sq", {patches, patches});
  return {patches, b.op(GraphOp::kReduceSum, "patches_norm", {x2}, {{"axes", {2}}, {"keepdims", {1}}})};
}

// |y|^2 of every bank row as a [M] value (folded to a constant by the runtimes).
int lower_bank_norms(Builder& b, int bank) {
  const int64_t M = b.shape(bank)[0];
  const int y2 = b.op(GraphOp::kMul, "bank_sq", {bank, bank});
  const int y_norm = b.op(GraphOp::kReduceSum, "bank_norm", {y2}, {{"axes", {1}}, {"keepdims", {1}}});
  return b.op(GraphOp::kReshape, "bank_norms", {y_norm}, {{"shape", {M}}});
}

struct NearestRows {
  int patches;        // [B,P,C] the patch features
  int dist_sq;        // [B,P,M] squared distances of every patch to every bank row (-1: shortlist)
  int bank = -1;       // shortlist: the bank rows [M,C]
  int bank_norms = -1; // shortlist: their squared norms [M]
  int nearest_index;  // [B,P] int64
  int patch_scores;   // [B,P] Euclidean distance to the nearest row
};

// Squared Euclidean distances as anomalib (and head/scorer.h) computes them:
// |x|^2 - 2 x.y + |y|^2, clamped at 0; then the nearest bank row of each patch.
NearestRows lower_nearest(Builder& b, int embedding, const torch::Tensor& bank) {
  const int64_t P = b.shape(embedding)[2] * b.shape(embedding)[3];
  const auto [patches, x_norm] = lower_patches(b, embedding);
  const int bank_t = b.constant("memory_bank_t", bank.t().contiguous());  // [C, M]
  const int y2 = b.op(GraphOp::kMul, "bank_sq", {bank_t, bank_t});
  const int y_norm = b.op(GraphOp::kReduceSum, "bank_norm", {y2}, {{"axes", {0}}, {"keepdims", {1}}});
  const int xy = b.op(GraphOp::kMatMul, "patches_dot_bank", {patches, bank_t});  // [B,P,M]
  const int xy2 = b.op(GraphOp::kMul, "dot_times_2", {xy, b.floats("two", {2.f}, {1})});
  int d2 = b.op(GraphOp::kSub, "dist_sq_a", {x_norm, xy2});
  d2 = b.op(GraphOp::kAdd, "dist_sq_b", {d2, y_norm});
  d2 = b.op(GraphOp::kRelu, "dist_sq", {d2});  // clamp_min(0)
  const auto nn = b.ops(GraphOp::kTopK, "nearest", {d2}, {{"k", {1}}, {"axis", {2}}, {"largest", {0}}});
  const int nn_d2 = b.op(GraphOp::kReshape, "nearest_dist_sq", {nn[0]}, {{"shape", {0, P}}});
  const int nn_idx = b.op(GraphOp::kReshape, "nearest_index", {nn[1]}, {{"shape", {0, P}}});
  return {patches, d2, -1, -1, nn_idx, b.op(GraphOp::kSqrt, "patch_scores", {nn_d2})};
}

// Exact squared distances |x|^2 - 2 x.y + |y|^2 (clamped at 0, as head/scorer.h) of queries
// x [B,...,C] (norms x_norm [B,...,1]) to the bank rows `indices` [B,...,K] picks for each: the
// rows are gathered ([B,...,K,C]) and dotted with their query (one batched MatMul). Returns
// [B,...,K]. Used for the shortlist's re-rank and the image score's support rows.
int lower_gathered_dist_sq(Builder& b, const std::string& name, int x, int x_norm, int bank, int bank_norms,
                           int indices) {
  std::vector<int64_t> column = b.shape(x), flat = b.shape(indices);
  column[0] = flat[0] = 0;  // the batch: copied
  column.push_back(1);
  const int rows = b.op(GraphOp::kGather, name + "_rows", {bank, indices}, {{"axis", {0}}});
  const int x_col = b.op(GraphOp::kReshape, name + "_query_col", {x}, {{"shape", column}});
  int dots = b.op(GraphOp::kMatMul, name + "_dots", {rows, x_col});  // [B,...,K,1]
  dots = b.op(GraphOp::kReshape, name + "_dots_flat", {dots}, {{"shape", flat}});
  const int dots2 = b.op(GraphOp::kMul, name + "_dots_times_2", {dots, b.floats("two", {2.f}, {1})});
  const int y_norm = b.op(GraphOp::kGather, name + "_row_norms", {bank_norms, indices}, {{"axis", {0}}});
  int d2 = b.op(GraphOp::kSub, name + "_dist_sq_a", {x_norm, dots2});
  d2 = b.op(GraphOp::kAdd, name + "_dist_sq_b", {d2, y_norm});
  return b.op(GraphOp::kRelu, name + "_dist_sq", {d2});
}

// SearchMode::kShortlist, as search::ShortlistIndex runs it: patches reduced by the PCA
// projection (x.W - center.W); the `size` bank rows of smallest |y'|^2 - 2 x'.y' (the reduced
// squared distance less the query's own norm) shortlisted by TopK; their full rows gathered;
// the exact squared distance |x|^2 - 2 x.y + |y|^2 (clamped at 0) to each; the first smallest.
NearestRows lower_shortlist_nearest(Builder& b, int embedding, const torch::Tensor& bank_rows,
                                    const search::ShortlistProjection& projection, int64_t size) {
  const int64_t C = b.shape(embedding)[1], P = b.shape(embedding)[2] * b.shape(embedding)[3];
  const int64_t M = bank_rows.size(0), K = std::min<int64_t>(size, M);
  const auto [patches, x_norm] = lower_patches(b, embedding);
  const int bank = b.constant("memory_bank", bank_rows);  // [M, C]
  // Reduced space, with a constant 1 appended: [x', 1] = x.[W | 0] - [center.W | -1] (x' is
  // what search::reduce_rows computes). Then one MatMul with [-2 y'^T ; |y'|^2] gives the
  // ranking key |y'|^2 - 2 x'.y' (the reduced squared distance less the query's own norm) with
  // no elementwise pass over the [P, M] matrix. -2 is a power of two: exact in float32.
  const auto components = at::cat({projection.components, at::zeros({C, 1})}, 1);  // [C, d+1]
  const auto offset = at::cat({search::projection_offset(projection), at::full({1}, -1.0f)});  // [d+1]
  int reduced = b.op(GraphOp::kMatMul, "patches_reduced_dot", {patches, b.constant("shortlist_components", components)});
  reduced = b.op(GraphOp::kSub, "patches_reduced", {reduced, b.constant("shortlist_offset", offset)});  // [B,P,d+1]
  const auto reduced_bank = search::reduce_rows(projection, bank_rows);                                 // [M, d]
  const auto key_matrix = at::cat({reduced_bank.t() * -2.0f, reduced_bank.pow(2).sum(1).unsqueeze(0)});  // [d+1, M]
  const int key = b.op(GraphOp::kMatMul, "shortlist_key", {reduced, b.constant("shortlist_key_matrix", key_matrix)});
  const auto shortlist =
      b.ops(GraphOp::kTopK, "shortlist", {key}, {{"k", {K}}, {"axis", {2}}, {"largest", {0}}});  // [B,P,K]
  // Exact squared distances to the shortlisted rows.
  const int bank_norms = lower_bank_norms(b, bank);
  const int d2 = lower_gathered_dist_sq(b, "shortlist", patches, x_norm, bank, bank_norms, shortlist[1]);  // [B,P,K]
  const auto nn = b.ops(GraphOp::kTopK, "nearest", {d2}, {{"k", {1}}, {"axis", {2}}, {"largest", {0}}});
  const int nn_d2 = b.op(GraphOp::kReshape, "nearest_dist_sq", {nn[0]}, {{"shape", {0, P}}});
  int nn_idx = b.op(GraphOp::kGatherElements, "nearest_row", {shortlist[1], nn[1]}, {{"axis", {2}}});
  nn_idx = b.op(GraphOp::kReshape, "nearest_index", {nn_idx}, {{"shape", {0, P}}});
  return {patches, -1, bank, bank_norms, nn_idx, b.op(GraphOp::kSqrt, "patch_scores", {nn_d2})};
}

torch::Tensor as_index_tensor(const std::vector<int64_t>& v) {
  return torch::tensor(v, torch::kLong);
}

// The anomaly map (head/scorer.h: anomaly_maps): nearest upsampling of the patch-score grid
// by index tables from the same rule, then the separable Gaussian blur, reflect border.
int lower_anomaly_map(Builder& b, int patch_scores, int64_t h, int64_t w, int64_t H, int64_t W) {
  const int grid = b.op(GraphOp::kReshape, "patch_grid", {patch_scores}, {{"shape", {0, 1, h, w}}});
  int map = b.op(GraphOp::kGather, "upsample_rows",
                 {grid, b.constant("upsample_row_index", as_index_tensor(nearest_sources(h, H)))}, {{"axis", {2}}});
  map = b.op(GraphOp::kGather, "upsample_cols",
             {map, b.constant("upsample_col_index", as_index_tensor(nearest_sources(w, W)))}, {{"axis", {3}}});
  const int64_t r = kBlurRadius;
  map = b.op(GraphOp::kPadReflect, "blur_pad", {map}, {{"pads", {0, 0, r, r, 0, 0, r, r}}});
  const auto& taps = gaussian_taps();
  const auto kernel = torch::tensor(std::vector<float>(taps.begin(), taps.end()), torch::kFloat);
  map = conv(b, map, "blur_v", kernel.view({1, 1, kBlurTaps, 1}).contiguous(), torch::zeros({1}), 1, {0, 0, 0, 0});
  return conv(b, map, "blur_h", kernel.view({1, 1, 1, kBlurTaps}).contiguous(), torch::zeros({1}), 1, {0, 0, 0, 0});
}

// The image score (head/scorer.h: image_scores): the worst patch's score, re-weighted by
// 1 - softmax(its distances to the support rows of its nearest bank row)[0].
// Squared distances [B,k] of each image's worst patch to its support rows [B,k]:
// |x|^2 - 2 x.y + |y|^2 clamped at 0 (head/scorer.h: image_scores).
int lower_support_dist_sq(Builder& b, const NearestRows& nearest, int worst_index, int support) {
  const int x = b.op(GraphOp::kGatherND, "worst_patch_feature", {nearest.patches, worst_index}, {{"batch_dims", {1}}});  // [B,C]
  const int x2 = b.op(GraphOp::kMul, "worst_patch_sq", {x, x});
  const int x_norm = b.op(GraphOp::kReduceSum, "worst_patch_norm", {x2}, {{"axes", {1}}, {"keepdims", {1}}});  // [B,1]
  return lower_gathered_dist_sq(b, "support", x, x_norm, nearest.bank, nearest.bank_norms, support);
}

int lower_image_score(Builder& b, const NearestRows& nearest, const torch::Tensor& support_table,
                      int64_t num_neighbors, int64_t bank_rows) {
  const auto worst =
      b.ops(GraphOp::kTopK, "worst_patch", {nearest.patch_scores}, {{"k", {1}}, {"axis", {1}}, {"largest", {1}}});
  if (num_neighbors == 1) return worst[0];  // [B, 1]
  const int64_t k = std::min<int64_t>(num_neighbors, bank_rows);
  const int table = b.constant("support_table", support_table.narrow(1, 0, k).contiguous());  // [M,k]
  const int nn_of_worst =
      b.op(GraphOp::kGatherND, "worst_nearest", {nearest.nearest_index, worst[1]}, {{"batch_dims", {1}}});  // [B]
  const int support = b.op(GraphOp::kGather, "support", {table, nn_of_worst}, {{"axis", {0}}});  // [B,k]
  int sd;
  if (nearest.dist_sq >= 0) {  // exact search: the worst patch's row of the distance matrix
    const int row = b.op(GraphOp::kGatherND, "worst_dist_sq", {nearest.dist_sq, worst[1]}, {{"batch_dims", {1}}});
    sd = b.op(GraphOp::kGatherElements, "support_dist_sq", {row, support}, {{"axis", {1}}});  // [B,k]
  } else {  // shortlist: no distance matrix; computed for the k rows as head/scorer.h does
    sd = lower_support_dist_sq(b, nearest, worst[1], support);
  }
  sd = b.op(GraphOp::kSqrt, "support_dist", {sd});
  const int sm = b.op(GraphOp::kSoftmax, "support_softmax", {sd}, {{"axis", {1}}});
  const int first =
      b.op(GraphOp::kGather, "support_softmax_first", {sm, b.longs("index_zero", {0}, {1})}, {{"axis", {1}}});
  const int weight = b.op(GraphOp::kSub, "score_weight", {b.floats("one", {1.f}, {1}), first});
  return b.op(GraphOp::kMul, "score", {weight, worst[0]});
}

std::map<std::string, std::string> model_metadata(const ExportSource& source) {
  const auto& p = source.preprocessing;
  std::map<std::string, std::string> meta = {
      {"patchcore.backbone", source.backbone->info().name},
      {"patchcore.layers", join(source.backbone->layers(), ",")},
      {"patchcore.image_size", std::to_string(p.height) + "," + std::to_string(p.width)},
      {"patchcore.input_scaling", to_string(p.scaling)},
      {"patchcore.input_layout", "NCHW RGB float32"},
      {"patchcore.outputs", source.outputs == GraphOutputs::kMapAndScore ? "anomaly_map,pred_score" : "anomaly_map"},
      {"patchcore.num_neighbors", std::to_string(source.num_neighbors)},
      {"patchcore.search", source.shortlist.defined()
                               ? "shortlist " + std::to_string(source.shortlist_size) + " rows, " +
                                     std::to_string(source.shortlist.dims()) + " dims"
                               : "exact"},
      {"patchcore.memory_bank",
       std::to_string(source.memory_bank.size(0)) + "x" + std::to_string(source.memory_bank.size(1))},
  };
  for (const auto& [key, value] : source.metadata) meta[key] = value;  // e.g. the ROI (patchcore.roi_*)
  return meta;
}

}  // namespace

ExportGraph build_export_graph(const ExportSource& source) {
  check_source(source);
  const Backbone& backbone = *source.backbone;
  const auto bank = source.memory_bank.to(torch::kFloat).contiguous();
  const int64_t H = source.preprocessing.height, W = source.preprocessing.width;

  Builder b;
  const int input = b.input("input", {-1, 3, H, W});
  const int embedding = lower_embedding(b, lower_backbone(b, input, backbone), backbone.layers());
  if (bank.size(1) != b.shape(embedding)[1])
    throw UserError("export: the memory bank has " + std::to_string(bank.size(1)) + " channels but " +
                    backbone.info().name + " " + join(backbone.layers(), "+") + " gives " +
                    std::to_string(b.shape(embedding)[1]));
  const int64_t h = b.shape(embedding)[2], w = b.shape(embedding)[3];
  const bool shortlist = source.shortlist.defined();
  if (shortlist) search::check_projection(source.shortlist, bank.size(1), "export");
  const NearestRows nearest = shortlist ? lower_shortlist_nearest(b, embedding, bank, source.shortlist,
                                                                  source.shortlist_size)
                                        : lower_nearest(b, embedding, bank);
  const int map = lower_anomaly_map(b, nearest.patch_scores, h, w, H, W);
  b.rename(map, "anomaly_map");
  b.graph.outputs = {map};
  if (source.outputs == GraphOutputs::kMapAndScore) {
    const int score = lower_image_score(b, nearest, source.support, source.num_neighbors, bank.size(0));
    b.rename(score, "pred_score");
    b.graph.outputs.push_back(score);
  }
  b.graph.metadata = model_metadata(source);
  return std::move(b.graph);
}

}  // namespace patchcore
