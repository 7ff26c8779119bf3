// Loads OUTPUT/PATTERN/PATTERN.onnx with the ONNX Runtime C++ API, pre-processes an
// image with OpenCV as `patchcore predict` does, and reads anomaly_map + pred_score.
//
//   onnxruntime_client MODEL_DIR PATTERN IMAGE [imagenet|symmetric]
//
// Not built by the project (needs the ONNX Runtime SDK); see README.md.
#include <onnxruntime_cxx_api.h>

#include <algorithm>
#include <array>
#include <iostream>

#include "client_common.h"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: " << argv[0] << " MODEL_DIR PATTERN IMAGE [imagenet|symmetric]\n";
    return 2;
  }
  const std::string dir = argv[1], pattern = argv[2], image = argv[3];
  const std::string scaling = argc > 4 ? argv[4] : "imagenet";  // see the model's metadata
  Ort::Env env(ORT_LOGGING_LEVEL_WARNING, "patchcore");
  Ort::SessionOptions options;
  Ort::Session session(env, (dir + "/" + pattern + ".onnx").c_str(), options);

  // The trained image size is the static H, W of the input "input" [B,3,H,W].
  const auto shape = session.GetInputTypeInfo(0).GetTensorTypeAndShapeInfo().GetShape();
  const int height = static_cast<int>(shape[2]), width = static_cast<int>(shape[3]);
  std::vector<float> data = client::preprocess(image, height, width, scaling);

  const std::array<int64_t, 4> dims = {1, 3, height, width};
  const auto memory = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  Ort::Value input = Ort::Value::CreateTensor<float>(memory, data.data(), data.size(), dims.data(), dims.size());
  const char* input_names[] = {"input"};
  const char* output_names[] = {"anomaly_map", "pred_score"};
  auto outputs = session.Run(Ort::RunOptions{nullptr}, input_names, &input, 1, output_names, 2);

  const float* map = outputs[0].GetTensorData<float>();  // [1,1,H,W]
  const float score = outputs[1].GetTensorData<float>()[0];
  const float map_max = *std::max_element(map, map + static_cast<size_t>(height) * width);

  const auto stats = client::read_norm_stats(dir + "/norm_stats.txt");
  const double threshold = stats.at("max_score");  // `patchcore predict`'s default threshold
  std::cout << "score " << score << " (threshold " << threshold << ", normalised "
            << score / threshold << ") -> " << (score > threshold ? "ANOMALOUS" : "good") << "\n"
            << "anomaly map max " << map_max << " (training max_pixel " << stats.at("max_pixel") << ")\n";
  return 0;
}
