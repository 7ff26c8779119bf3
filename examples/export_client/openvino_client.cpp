// Loads OUTPUT/PATTERN/PATTERN.xml (+ .bin) with the OpenVINO C++ API (2023.0 or later),
// pre-processes an image with OpenCV as `patchcore predict` does (for ROI models: locate
// the ROI by template matching and crop it first), and reads the outputs by name.
//
//   openvino_client MODEL_DIR PATTERN IMAGE [DEVICE]
//
// Not built by the project (needs the OpenVINO SDK); see README.md.
#include <openvino/openvino.hpp>

#include <algorithm>
#include <iostream>
#include <map>

#include "client_common.h"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: " << argv[0] << " MODEL_DIR PATTERN IMAGE [DEVICE]\n";
    return 2;
  }
  const std::string dir = argv[1], pattern = argv[2], image = argv[3];
  const std::string device = argc > 4 ? argv[4] : "CPU";
  ov::Core core;
  std::shared_ptr<ov::Model> model = core.read_model(dir + "/" + pattern + ".xml");
  // The model-level rt_info <patchcore> carries the training settings written by patchcore
  // (the ONNX metadata keys without the "patchcore." prefix).
  std::map<std::string, std::string> metadata;
  for (const std::string key : {"input_scaling", "roi_rect", "roi_template_rect", "roi_reference_size",
                                "roi_context", "roi_search_margin", "roi_threshold", "roi_method", "roi_template_png"})
    if (model->has_rt_info("patchcore", key)) metadata[key] = model->get_rt_info<std::string>("patchcore", key);
  const std::string scaling = metadata.count("input_scaling") ? metadata["input_scaling"] : "imagenet";
  std::unique_ptr<patchcore::RoiLocator> roi;
  if (patchcore::RoiLocator::has_roi_metadata(metadata))
    roi = std::make_unique<patchcore::RoiLocator>(patchcore::RoiLocator::from_metadata(metadata));
  ov::CompiledModel compiled = core.compile_model(model, device);

  const ov::PartialShape shape = model->input("input").get_partial_shape();  // [?,3,H,W]
  const int height = static_cast<int>(shape[2].get_length()), width = static_cast<int>(shape[3].get_length());
  const cv::Mat bgr = cv::imread(image, cv::IMREAD_COLOR);
  if (bgr.empty()) throw std::runtime_error("cannot read image " + image);
  client::PreparedInput prepared = client::prepare_input(bgr, height, width, scaling, roi.get());
  if (!prepared.roi_found) {
    std::cout << "ROI not found: match score " << prepared.roi_score << " -> not scored\n";
    return 3;
  }

  ov::InferRequest request = compiled.create_infer_request();
  request.set_tensor("input", ov::Tensor(ov::element::f32, {1, 3, static_cast<size_t>(height),
                                                            static_cast<size_t>(width)}, prepared.chw.data()));
  request.infer();
  const ov::Tensor map = request.get_tensor("anomaly_map");  // [1,1,H,W], over the ROI crop for ROI models
  const float score = request.get_tensor("pred_score").data<float>()[0];
  const float* m = map.data<float>();
  const float map_max = *std::max_element(m, m + map.get_size());

  const auto stats = client::read_norm_stats(dir + "/norm_stats.txt");
  const double threshold = client::default_threshold(stats);
  std::cout << "scored region x=" << prepared.roi.x << " y=" << prepared.roi.y << " w=" << prepared.roi.width
            << " h=" << prepared.roi.height << "\nscore " << score << " (threshold " << threshold << ") -> "
            << (score > threshold ? "ANOMALOUS" : "good") << ", anomaly map max " << map_max << "\n";
  return 0;
}
