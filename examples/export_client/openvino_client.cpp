// Loads OUTPUT/PATTERN/PATTERN.xml (+ .bin) with the OpenVINO C++ API (2023.0 or later),
// pre-processes an image with OpenCV as `patchcore predict` does, and reads the outputs
// by their tensor names.
//
//   openvino_client MODEL_DIR PATTERN IMAGE [imagenet|symmetric] [DEVICE]
//
// Not built by the project (needs the OpenVINO SDK); see README.md.
#include <openvino/openvino.hpp>

#include <algorithm>
#include <iostream>

#include "client_common.h"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: " << argv[0] << " MODEL_DIR PATTERN IMAGE [imagenet|symmetric] [DEVICE]\n";
    return 2;
  }
  const std::string dir = argv[1], pattern = argv[2], image = argv[3];
  const std::string scaling = argc > 4 ? argv[4] : "imagenet";
  const std::string device = argc > 5 ? argv[5] : "CPU";
  ov::Core core;
  std::shared_ptr<ov::Model> model = core.read_model(dir + "/" + pattern + ".xml");
  // The model-level rt_info carries the training settings written by `patchcore export`.
  if (model->has_rt_info("patchcore", "input_scaling"))
    std::cout << "model input scaling: " << model->get_rt_info<std::string>("patchcore", "input_scaling") << "\n";
  ov::CompiledModel compiled = core.compile_model(model, device);

  const ov::PartialShape shape = model->input("input").get_partial_shape();  // [?,3,H,W]
  const int height = static_cast<int>(shape[2].get_length()), width = static_cast<int>(shape[3].get_length());
  std::vector<float> data = client::preprocess(image, height, width, scaling);

  ov::InferRequest request = compiled.create_infer_request();
  request.set_tensor("input", ov::Tensor(ov::element::f32, {1, 3, static_cast<size_t>(height),
                                                            static_cast<size_t>(width)}, data.data()));
  request.infer();
  const ov::Tensor map = request.get_tensor("anomaly_map");  // [1,1,H,W]
  const float score = request.get_tensor("pred_score").data<float>()[0];
  const float* m = map.data<float>();
  const float map_max = *std::max_element(m, m + map.get_size());

  const auto stats = client::read_norm_stats(dir + "/norm_stats.txt");
  const double threshold = stats.at("max_score");
  std::cout << "score " << score << " (threshold " << threshold << ") -> "
            << (score > threshold ? "ANOMALOUS" : "good") << ", anomaly map max " << map_max << "\n";
  return 0;
}
