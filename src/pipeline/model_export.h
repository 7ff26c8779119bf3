#pragma once
// Exporting a model folder's checkpoint to PATTERN.onnx and PATTERN.xml + .bin.
#include <filesystem>
#include <string>

#include "export/export.h"
#include "pipeline/checkpoint.h"

namespace patchcore {

ExportSource export_source(const Checkpoint& checkpoint);

// Writes the exported model files for `checkpoint` into `model_dir`, named after the
// folder (OUTPUT/PATTERN -> PATTERN.onnx, PATTERN.xml, PATTERN.bin).
void export_model(const Checkpoint& checkpoint, const std::filesystem::path& model_dir, const std::string& pattern,
                  ExportFormats formats, bool fp16);

}  // namespace patchcore
