#pragma once
// The exported model as ONE framework-neutral graph description.
//
// build_export_graph() lowers a trained model into a small list of operations with
// constants: the backbone's own layer list (backbone/conv_net.h, weights folded as they
// run natively) and the head's parameters (head/embedding.h, head/scorer.h) are read, not
// restated. Both writers (ONNX, OpenVINO IR) lower this same description op by op; the
// tests run it in LibTorch and in ONNX Runtime against the native pipeline.
//
// Graph contract: input "input" f32 [B,3,H,W] (B dynamic, already normalised as at
// training time); outputs "anomaly_map" f32 [B,1,H,W] then "pred_score" f32 [B,1]
// (GraphOutputs::kMapOnly: "anomaly_map" alone).
#include <torch/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "backbone/backbone.h"
#include "data/preprocess.h"
#include "search/shortlist_index.h"

namespace patchcore {

// Which outputs the exported graph has.
enum class GraphOutputs {
  kMapAndScore,  // "anomaly_map" then "pred_score": the contract our apps load (default)
  kMapOnly,      // "anomaly_map" alone: OpenVINO Model API's AnomalyModel takes exactly one
                 // output and scores an image by the map's maximum
};

// What the export reads: a view of the model that native prediction runs
// (pipeline/model_export.h makes one from a PatchModel), not a copy of it.
struct ExportSource {
  const Backbone* backbone = nullptr;  // lowered layer by layer as it runs natively
  torch::Tensor memory_bank;           // [M, C] float32
  // The support table of the image-score re-weighting (head/scorer.h: support_table):
  // int64 [M, >= min(num_neighbors, M)]; needed when num_neighbors > 1.
  torch::Tensor support;
  int64_t num_neighbors = 9;
  // SearchMode::kShortlist (search/shortlist_index.h): the projection and the rows re-ranked per
  // patch; undefined projection = exact search over every row.
  search::ShortlistProjection shortlist;
  int64_t shortlist_size = 0;
  Preprocessing preprocessing;         // the trained image size; scaling recorded as metadata
  GraphOutputs outputs = GraphOutputs::kMapAndScore;
  // Further metadata entries written into both formats (ONNX metadata_props, IR rt_info):
  // the ROI settings and template (patchcore.roi_*, see include/patchcore/roi.h), Model API's
  // model_info.
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
  // Floating-point operations of one image (batch 1): 2 per multiply-add of Conv and MatMul
  // (the bulk), 1 per element of the other arithmetic nodes; nodes computed from constants only
  // are not counted (runtimes fold them at load).
  double flops() const;
};

// Builds the description. Throws UserError for an image too small for the blur, an
// empty bank or one of other channels than the backbone's embedding, or a support table
// that does not fit the bank.
ExportGraph build_export_graph(const ExportSource& source);

}  // namespace patchcore
