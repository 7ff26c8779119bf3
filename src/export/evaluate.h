#pragma once
// A LibTorch executor of the export graph: what the exported files compute, run without an
// ONNX/OpenVINO runtime (tests compare it with the native model and with ONNX Runtime).
#include <torch/types.h>

#include <vector>

#include "export/graph.h"

namespace patchcore {

struct EvaluateOptions {
  // Round every float constant to float16 and back first: what a --fp16 export computes.
  bool fp16_constants = false;
};

// Runs the description in LibTorch: input [B,3,H,W] f32 -> {anomaly_map, pred_score}.
std::vector<torch::Tensor> evaluate_export_graph(const ExportGraph& graph,
                                                 const torch::Tensor& input,
                                                 const EvaluateOptions& options = {});

}  // namespace patchcore
