#pragma once
// The exported model as ONE framework-neutral graph description.
//
// build_export_graph() turns a trained model (backbone weights + memory bank) into a
// small list of operations with constants. Both writers (ONNX, OpenVINO IR) lower this
// same description op by op, and evaluate_export_graph() runs it in LibTorch; the tests
// compare that evaluation with the native pipeline, so the formats cannot drift apart
// from each other or from `patchcore predict`.
//
// Graph contract: input "input" f32 [B,3,H,W] (B dynamic, already normalised as at
// training time); outputs "anomaly_map" f32 [B,1,H,W] then "pred_score" f32 [B,1].
#include <torch/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "backbone/backbone.h"
#include "data/preprocess.h"

namespace patchcore {

// Everything needed to export a trained model.
struct ExportSource {
  std::string backbone;              // "resnet18", "wide_resnet50_2", "mobilenet_v1_0.75", ...
  std::vector<std::string> layers;   // feature layers, as trained (e.g. layer2, layer3)
  WeightMap weights;                 // original (unfolded) weights, as Backbone::weights()
  torch::Tensor memory_bank;         // [M, C] float32
  int64_t height = 224;              // trained image size
  int64_t width = 224;
  int64_t num_neighbors = 9;
  // The support table of the image-score re-weighting (head/scorer.h: support_table,
  // stored in the checkpoint): int64 [M, >= min(num_neighbors, M)]; needed when num_neighbors > 1.
  torch::Tensor support;
  InputScaling scaling = InputScaling::kImageNet;  // recorded as model metadata only
  // Further metadata entries written into both formats (ONNX metadata_props, IR rt_info):
  // the ROI settings and template (patchcore.roi_*, see include/patchcore/roi.h).
  std::map<std::string, std::string> metadata;
};

// Operations of the description. Attribute names are listed per op; every data-like
// operand (shapes, axes, indices, k) that a format wants as a tensor is an attribute
// here and becomes a constant in the writers.
enum class GraphOp {
  kConv,            // in: x, W[O,I/g,kh,kw], B[O]; ints strides[2], pads[4] (t,l,b,r), group
  kRelu,            // in: x
  kClip,            // in: x; floats min, max
  kMaxPool,         // in: x; ints kernel[2], strides[2], pads[4]
  kAvgPool,         // in: x; ints kernel[2], strides[2], pads[4], count_include_pad
  kPadReflect,      // in: x; ints pads[8] (ONNX order: begins of all axes, then ends)
  kAdd,             // in: a, b (numpy broadcasting)
  kSub,             // in: a, b
  kMul,             // in: a, b
  kSqrt,            // in: x
  kMatMul,          // in: a, b (numpy matmul broadcasting)
  kResizeBilinear,  // in: x [N,C,h,w]; ints sizes[2]; half-pixel (align_corners=false)
  kConcat,          // in: x...; ints axis
  kTranspose,       // in: x; ints perm
  kReshape,         // in: x; ints shape (0 = copy that dim, -1 = infer)
  kReduceSum,       // in: x; ints axes, keepdims
  kTopK,            // in: x; ints k, axis, largest; out: values, indices (int64), sorted,
                    //     ties -> lower index first
  kGather,          // in: data, indices (int64); ints axis
  kGatherND,        // in: data, indices (int64); ints batch_dims
  kGatherElements,  // in: data, indices (int64); ints axis
  kSoftmax,         // in: x; ints axis
};

enum class ValueType { kFloat32, kInt64 };

// A tensor flowing through the graph. Shape dims are static except -1 = the batch.
struct GraphValue {
  std::string name;
  ValueType type = ValueType::kFloat32;
  std::vector<int64_t> shape;
  torch::Tensor constant;  // defined for constants (f32 or int64, contiguous CPU)
  bool is_constant() const { return constant.defined(); }
};

struct GraphNode {
  GraphOp op;
  std::string name;
  std::vector<int> inputs;   // value ids
  std::vector<int> outputs;  // value ids
  std::map<std::string, std::vector<int64_t>> ints;
  std::map<std::string, double> floats;
  const std::vector<int64_t>& ints_at(const std::string& key) const;
  int64_t int_at(const std::string& key) const;
  double float_at(const std::string& key) const;
};

struct ExportGraph {
  std::vector<GraphValue> values;
  std::vector<GraphNode> nodes;          // in execution (topological) order
  int input = -1;                        // value id of "input"
  std::vector<int> outputs;              // "anomaly_map", "pred_score"
  std::map<std::string, std::string> metadata;  // written into both formats

  int64_t constant_bytes() const;        // f32 + int64 constant payload
};

// Builds the description. Throws UserError for unknown backbones/layers, missing or
// mis-shaped weights, an image too small for the blur, or an empty/mismatched bank.
ExportGraph build_export_graph(const ExportSource& source);

}  // namespace patchcore
