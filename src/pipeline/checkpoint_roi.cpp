#include "pipeline/checkpoint_roi.h"

#include "data/preprocess.h"
#include "data/roi.h"
#include "io/error.h"

namespace patchcore {
namespace {
constexpr const char* kRoiMetadata = "patchcore.roi";
constexpr const char* kRoiTemplate = "roi.template";
}  // namespace

void save_roi(const std::optional<RoiLocator>& roi, SafetensorsFile& file) {
  if (!roi) return;
  cv::Mat bgr = roi->template_image();
  if (bgr.channels() != 3) bgr = to_bgr3(bgr);
  bgr = bgr.clone();  // continuous
  file.tensors[kRoiTemplate] = torch::from_blob(bgr.data, {bgr.rows, bgr.cols, 3}, torch::kByte).clone();
  file.metadata[kRoiMetadata] = roi_json(*roi);
}

std::optional<RoiLocator> load_roi(const SafetensorsFile& file, const std::string& where) {
  const auto meta = file.metadata.find(kRoiMetadata);
  const auto pixels = file.tensors.find(kRoiTemplate);
  if (meta == file.metadata.end() && pixels == file.tensors.end()) return std::nullopt;
  if (meta == file.metadata.end() || pixels == file.tensors.end())
    throw UserError(where + ": checkpoint has half an ROI (settings or template missing); retrain the model");
  const torch::Tensor t = pixels->second.contiguous();
  if (t.dim() != 3 || t.size(2) != 3 || t.scalar_type() != torch::kByte)
    throw UserError(where + ": checkpoint's ROI template is not a uint8 [h, w, 3] image; retrain the model");
  cv::Mat image(static_cast<int>(t.size(0)), static_cast<int>(t.size(1)), CV_8UC3, t.data_ptr());
  return roi_from_json(meta->second, image.clone(), where);
}

}  // namespace patchcore
