#pragma once
// ONNX writer: lowers the ExportGraph description (export/graph.h) to an ONNX model
// (opset 17, IR version 8) with protobuf and ONNX's own schema (Debian libonnx-dev).
#include <cstdint>
#include <filesystem>

#include "export/graph.h"

namespace patchcore {

constexpr int64_t kOnnxOpset = 17;
constexpr int64_t kOnnxIrVersion = 8;

struct OnnxWriteOptions {
  // Float constants stored as float16 initializers, each followed by a Cast to float32;
  // the computation stays float32.
  bool fp16 = false;
  // Above this many bytes of constants, tensors go to external data in
  // "<file name>.data" beside the model (protobuf cannot serialise 2 GB and more).
  int64_t external_data_threshold = int64_t{1800} << 20;
};

// Writes `path` (and, for large models, `path` + ".data") atomically: temporary files
// in the same folder, then renames. Throws UserError naming the file on I/O errors.
void write_onnx(const ExportGraph& graph, const std::filesystem::path& path,
                const OnnxWriteOptions& options = {});

}  // namespace patchcore
