// load_weight_file (the rest of weight_source.h lives in weight_source.cpp).
#include <filesystem>

#include "backbone/tfjs_loader.h"
#include "backbone/weight_source.h"
#include "io/error.h"
#include "io/safetensors.h"

namespace patchcore {

WeightMap load_weight_file(const std::string& backbone, const std::filesystem::path& path) {
  const BackboneInfo& info = backbone_info(backbone);  // throws for unknown names
  if (info.weight_format == WeightFormat::kTfjs) return load_tfjs_layers_model(path);
  if (std::filesystem::is_directory(path))
    throw UserError(path.string() + ": is a folder; " + info.name +
                    " weights must be a .safetensors file (torchvision/timm tensor names)");
  return read_safetensors(path).tensors;
}

}  // namespace patchcore
