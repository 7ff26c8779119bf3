// Loads OUTPUT/PATTERN/PATTERN.onnx with the ONNX Runtime C++ API, pre-processes an
// image with OpenCV as `patchcore predict` does (for ROI models: locate the ROI by
// template matching and crop it first), and reads anomaly_map + pred_score.
//
//   onnxruntime_client MODEL_DIR PATTERN IMAGE
//
// Built and run by the ctest export_client (tests/export/export_client_test.sh); see README.md.
#include <onnxruntime_cxx_api.h>

#include <algorithm>
#include <array>
#include <iostream>
#include <map>

#include "client_common.h"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: " << argv[0] << " MODEL_DIR PATTERN IMAGE\n";
    return 2;
  }
  const std::string dir = argv[1], pattern = argv[2], image = argv[3];
  Ort::Env env(ORT_LOGGING_LEVEL_WARNING, "patchcore");
  Ort::SessionOptions options;
  Ort::Session session(env, (dir + "/" + pattern + ".onnx").c_str(), options);

  // The settings patchcore wrote into the model: metadata_props "patchcore.*".
  std::map<std::string, std::string> metadata;
  Ort::AllocatorWithDefaultOptions allocator;
  Ort::ModelMetadata model_metadata = session.GetModelMetadata();
  for (const auto& key : model_metadata.GetCustomMetadataMapKeysAllocated(allocator))
    metadata[key.get()] = model_metadata.LookupCustomMetadataMapAllocated(key.get(), allocator).get();
  const std::string scaling = metadata.count("patchcore.input_scaling") ? metadata["patchcore.input_scaling"] : "imagenet";
  // ROI models carry the ROI settings and the template (base64 PNG): same locator as patchcore.
  std::unique_ptr<patchcore::RoiLocator> roi;
  if (patchcore::RoiLocator::has_roi_metadata(metadata))
    roi = std::make_unique<patchcore::RoiLocator>(patchcore::RoiLocator::from_metadata(metadata));

  // The trained image size is the static H, W of the input "input" [B,3,H,W].
  const auto shape = session.GetInputTypeInfo(0).GetTensorTypeAndShapeInfo().GetShape();
  const int height = static_cast<int>(shape[2]), width = static_cast<int>(shape[3]);
  const cv::Mat bgr = cv::imread(image, cv::IMREAD_COLOR);
  if (bgr.empty()) throw std::runtime_error("cannot read image " + image);
  client::PreparedInput prepared = client::prepare_input(bgr, height, width, scaling, roi.get());
  if (!prepared.roi_found) {
    std::cout << "ROI not found: match score " << prepared.roi_score << " < threshold " << roi->settings().threshold
              << " -> not scored\n";
    return 3;
  }

  const std::array<int64_t, 4> dims = {1, 3, height, width};
  const auto memory = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  Ort::Value input = Ort::Value::CreateTensor<float>(memory, prepared.chw.data(), prepared.chw.size(), dims.data(),
                                                     dims.size());
  const char* input_names[] = {"input"};
  const char* output_names[] = {"anomaly_map", "pred_score"};
  auto outputs = session.Run(Ort::RunOptions{nullptr}, input_names, &input, 1, output_names, 2);

  const float* map = outputs[0].GetTensorData<float>();  // [1,1,H,W], over the ROI crop for ROI models
  const float score = outputs[1].GetTensorData<float>()[0];
  const float map_max = *std::max_element(map, map + static_cast<size_t>(height) * width);

  const auto stats = client::read_norm_stats(dir + "/norm_stats.txt");
  const double threshold = client::default_threshold(stats);  // `patchcore predict`'s default threshold
  std::cout << "scored region x=" << prepared.roi.x << " y=" << prepared.roi.y << " w=" << prepared.roi.width
            << " h=" << prepared.roi.height << (roi ? " (ROI, match " + std::to_string(prepared.roi_score) + ")" : "")
            << "\n"
            << "score " << score << " (threshold " << threshold << ", normalised " << score / threshold << ") -> "
            << (score > threshold ? "ANOMALOUS" : "good") << "\n"
            << "anomaly map max " << map_max << " (training max_pixel " << stats.at("max_pixel") << ")\n";
  return 0;
}
