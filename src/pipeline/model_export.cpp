#include "pipeline/model_export.h"

namespace patchcore {

ExportSource export_source(const Checkpoint& checkpoint) {
  ExportSource source;
  source.backbone = checkpoint.config.backbone;
  source.layers = checkpoint.config.layers;
  source.weights = checkpoint.backbone_weights;
  source.memory_bank = checkpoint.memory_bank;
  source.height = checkpoint.config.preprocessing.height;
  source.width = checkpoint.config.preprocessing.width;
  source.num_neighbors = checkpoint.config.num_neighbors;
  source.scaling = checkpoint.config.preprocessing.scaling;
  if (checkpoint.roi) source.metadata = checkpoint.roi->to_metadata();
  return source;
}

void export_model(const Checkpoint& checkpoint, const std::filesystem::path& model_dir, const std::string& pattern,
                  ExportFormats formats, bool fp16) {
  write_exports(export_source(checkpoint), model_dir, pattern, formats, fp16);
}

}  // namespace patchcore
