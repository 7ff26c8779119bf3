#pragma once
// The export API the pipeline calls: `patchcore train` (end) and `patchcore export`.
//   ExportSource source{...};
//   write_exports(source, OUTPUT / PATTERN, PATTERN, ExportFormats::kAll, fp16);
// -> PATTERN.onnx and PATTERN.xml + PATTERN.bin, each written atomically.
#include <filesystem>
#include <string>

#include "export/graph.h"
#include "export/onnx_writer.h"
#include "export/openvino_writer.h"
#include "io/error.h"

namespace patchcore {

enum class ExportFormats { kOnnx, kIr, kAll };

// "onnx" | "ir" | "all" (the --format values); UserError otherwise.
inline ExportFormats export_formats_from_string(const std::string& text) {
  if (text == "onnx") return ExportFormats::kOnnx;
  if (text == "ir") return ExportFormats::kIr;
  if (text == "all") return ExportFormats::kAll;
  throw UserError("unknown export format '" + text + "'; use ir, onnx or all");
}

// Builds the graph once and writes the requested formats into `dir` as
// `<pattern>.onnx` / `<pattern>.xml` + `<pattern>.bin`.
inline void write_exports(const ExportSource& source, const std::filesystem::path& dir,
                          const std::string& pattern, ExportFormats formats, bool fp16) {
  const ExportGraph graph = build_export_graph(source);
  if (formats != ExportFormats::kIr) {
    OnnxWriteOptions options;
    options.fp16 = fp16;
    write_onnx(graph, dir / (pattern + ".onnx"), options);
  }
  if (formats != ExportFormats::kOnnx) {
    IrWriteOptions options;
    options.fp16 = fp16;
    write_openvino_ir(graph, dir / (pattern + ".xml"), dir / (pattern + ".bin"), options);
  }
}

}  // namespace patchcore
