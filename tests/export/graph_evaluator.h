#pragma once
// A LibTorch executor of the export graph: the reference semantics of every GraphOp, an
// engine independent of the writers and of ONNX Runtime. The tests run what the exported
// files compute with it (also with float16 constants) and compare it with the native model.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <torch/types.h>

#include <stdexcept>
#include <vector>

#include "export/graph.h"

namespace patchcore::export_testing {

struct EvaluateOptions {
  // Round every float constant to float16 and back first: what a --fp16 export computes.
  bool fp16_constants = false;
};

}  // namespace patchcore::export_testing

namespace patchcore::export_testing {
namespace graph_evaluator_detail {

using namespace ::patchcore;

inline int64_t axis_of(const GraphNode& n, const char* key, int64_t rank) {
  const int64_t a = n.int_at(key);
  return a < 0 ? a + rank : a;
}

// x padded like ONNX pads [t, l, b, r] (zeros), returning the symmetric remainder for conv/pool.
inline torch::Tensor run_node(const GraphNode& n, const std::vector<torch::Tensor>& in,
                       std::vector<torch::Tensor>& extra_out) {
  switch (n.op) {
    case GraphOp::kConv: {
      const auto& s = n.ints_at("strides");
      const auto& p = n.ints_at("pads");
      auto x = in[0];
      std::vector<int64_t> padding = {p[0], p[1]};
      if (p[0] != p[2] || p[1] != p[3]) {
        x = at::constant_pad_nd(x, {p[1], p[3], p[0], p[2]}, 0);
        padding = {0, 0};
      }
      return at::conv2d(x, in[1], in[2], s, padding, {1, 1}, n.int_at("group"));
    }
    case GraphOp::kRelu: return at::relu(in[0]);
    case GraphOp::kClip: return at::clamp(in[0], n.float_at("min"), n.float_at("max"));
    case GraphOp::kMaxPool: {
      const auto& p = n.ints_at("pads");
      if (p[0] != p[2] || p[1] != p[3]) throw std::logic_error("MaxPool: asymmetric pads unused");
      return at::max_pool2d(in[0], n.ints_at("kernel"), n.ints_at("strides"), {p[0], p[1]});
    }
    case GraphOp::kAvgPool: {
      const auto& p = n.ints_at("pads");
      if (p[0] != p[2] || p[1] != p[3]) throw std::logic_error("AvgPool: asymmetric pads unused");
      return at::avg_pool2d(in[0], n.ints_at("kernel"), n.ints_at("strides"), {p[0], p[1]}, false,
                            n.int_at("count_include_pad") != 0);
    }
    case GraphOp::kPadReflect: {
      const auto& p = n.ints_at("pads");  // [n_b, c_b, h_b, w_b, n_e, c_e, h_e, w_e]
      if (p[0] || p[1] || p[4] || p[5]) throw std::logic_error("PadReflect: only H, W are padded");
      return at::reflection_pad2d(in[0], {p[3], p[7], p[2], p[6]});
    }
    case GraphOp::kAdd: return in[0] + in[1];
    case GraphOp::kSub: return in[0] - in[1];
    case GraphOp::kMul: return in[0] * in[1];
    case GraphOp::kSqrt: return at::sqrt(in[0]);
    case GraphOp::kMatMul: return at::matmul(in[0], in[1]);
    case GraphOp::kResizeBilinear:
      return at::upsample_bilinear2d(in[0], n.ints_at("sizes"), /*align_corners=*/false);
    case GraphOp::kConcat: return at::cat(in, axis_of(n, "axis", in[0].dim()));
    case GraphOp::kTranspose: return in[0].permute(n.ints_at("perm")).contiguous();
    case GraphOp::kReshape: {
      auto shape = n.ints_at("shape");
      for (size_t i = 0; i < shape.size(); ++i)
        if (shape[i] == 0) shape[i] = in[0].size(static_cast<int64_t>(i));
      return in[0].reshape(shape);
    }
    case GraphOp::kReduceSum:
      return in[0].sum(n.ints_at("axes"), n.int_at("keepdims") != 0);
    case GraphOp::kTopK: {
      const int64_t axis = axis_of(n, "axis", in[0].dim());
      const bool largest = n.int_at("largest") != 0;
      if (n.int_at("k") == 1) {  // min/max give the first index among ties, as ONNX TopK
        auto [v, i] = largest ? in[0].max(axis, true) : in[0].min(axis, true);
        extra_out.push_back(i);
        return v;
      }
      auto [v, i] = in[0].topk(n.int_at("k"), axis, largest, /*sorted=*/true);
      extra_out.push_back(i);
      return v;
    }
    case GraphOp::kGather: {
      const int64_t axis = axis_of(n, "axis", in[0].dim());
      const auto& idx = in[1];
      auto flat = in[0].index_select(axis, idx.reshape({-1}));
      std::vector<int64_t> shape(in[0].sizes().begin(), in[0].sizes().begin() + axis);
      for (auto d : idx.sizes()) shape.push_back(d);
      for (int64_t d = axis + 1; d < in[0].dim(); ++d) shape.push_back(in[0].size(d));
      return flat.reshape(shape);
    }
    case GraphOp::kGatherND: {
      // Only the form the graph uses: batch_dims = 1, indices [B, 1].
      if (n.int_at("batch_dims") != 1 || in[1].dim() != 2 || in[1].size(1) != 1)
        throw std::logic_error("GatherND: only batch_dims=1 with [B,1] indices is used");
      const auto rows = at::arange(in[0].size(0), in[1].options());
      return in[0].index({rows, in[1].select(1, 0)});
    }
    case GraphOp::kGatherElements:
      return at::gather(in[0], axis_of(n, "axis", in[0].dim()), in[1]);
    case GraphOp::kSoftmax: return at::softmax(in[0], axis_of(n, "axis", in[0].dim()));
  }
  throw std::logic_error("export graph: unknown op");
}

}  // namespace graph_evaluator_detail

// Runs the description in LibTorch: input [B,3,H,W] f32 -> {anomaly_map, pred_score}.
inline std::vector<torch::Tensor> evaluate_export_graph(const ExportGraph& graph, const torch::Tensor& input,
                                                        const EvaluateOptions& options = {}) {
  const auto& spec = graph.values.at(graph.input).shape;
  if (input.dim() != 4 || input.size(1) != spec[1] || input.size(2) != spec[2] ||
      input.size(3) != spec[3])
    throw std::invalid_argument("evaluate_export_graph: input must be [B," + std::to_string(spec[1]) +
                                "," + std::to_string(spec[2]) + "," + std::to_string(spec[3]) + "]");
  std::vector<torch::Tensor> out;
  {
    c10::InferenceMode guard;
    std::vector<torch::Tensor> env(graph.values.size());
    for (size_t i = 0; i < graph.values.size(); ++i) {
      const auto& v = graph.values[i];
      if (!v.is_constant()) continue;
      env[i] = (options.fp16_constants && v.type == ValueType::kFloat32)
                   ? v.constant.to(torch::kHalf).to(torch::kFloat)
                   : v.constant;
    }
    env[graph.input] = input.to(torch::kFloat).contiguous();
    for (const auto& node : graph.nodes) {
      std::vector<torch::Tensor> in;
      for (int id : node.inputs) in.push_back(env.at(id));
      std::vector<torch::Tensor> extra;
      env.at(node.outputs[0]) = graph_evaluator_detail::run_node(node, in, extra);
      for (size_t i = 0; i < extra.size(); ++i) env.at(node.outputs.at(i + 1)) = extra[i];
    }
    for (int id : graph.outputs) out.push_back(env.at(id));
  }
  for (auto& t : out) t = t.clone();  // ordinary tensors outside inference mode
  return out;
}

}  // namespace patchcore::export_testing
