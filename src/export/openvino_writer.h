#pragma once
// OpenVINO IR v11 writer: lowers the ExportGraph description (export/graph.h) to an
// .xml topology (pugixml) + .bin constants, with the operation versions and attribute
// names of the OpenVINO operation specifications (table in docs/export.md).
#include <filesystem>
#include <string>
#include <vector>

#include "export/graph.h"

namespace patchcore {

constexpr int kOpenVinoIrVersion = 11;
// Byte alignment of every Const's offset in the .bin.
constexpr int64_t kOpenVinoBinAlignment = 64;

struct IrWriteOptions {
  // Float constants stored as f16 Const + Convert(f32) marked as decompression, as
  // OpenVINO's own FP16 compression writes them; the computation stays f32.
  bool fp16 = false;
};

// Writes the .bin then the .xml, each atomically (temporary file + rename).
// Throws UserError naming the file on I/O errors.
void write_openvino_ir(const ExportGraph& graph, const std::filesystem::path& xml_path,
                       const std::filesystem::path& bin_path, const IrWriteOptions& options = {});

// Where a metadata key (ExportGraph::metadata) lives in the IR's model-level rt_info:
// "model_info <k>" -> model_info/<k> (OpenVINO Model API's section), "patchcore.<k>" and
// any other key -> patchcore/<k>; the value is the element's `value` attribute.
struct IrRtInfoKey {
  std::string section;
  std::string name;
};
IrRtInfoKey ir_rt_info_key(const std::string& metadata_key);

}  // namespace patchcore
