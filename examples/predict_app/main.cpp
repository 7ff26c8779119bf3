// Loads a model folder written by `patchcore train` and scores one image with the public API.
//   predict_app MODEL_DIR IMAGE
// Prints `score=<S> threshold=<T> anomalous=<0|1>` and exits 0; bad input: the message, exit 1.
#include <patchcore/error.h>
#include <patchcore/model.h>
#include <patchcore/roi.h>

#include <opencv2/imgcodecs.hpp>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s MODEL_DIR IMAGE\n", argv[0]);
    return 2;
  }
  try {
    const auto model = patchcore::Model::load(argv[1]);
    const cv::Mat image = cv::imread(argv[2], cv::IMREAD_UNCHANGED);
    if (image.empty()) throw patchcore::UserError(std::string("cannot read image ") + argv[2]);
    const patchcore::Prediction p = model.predict(image);
    if (!p.roi_found) {
      std::printf("roi_found=0 roi_score=%.6f\n", p.roi_score);
      return 0;
    }
    std::printf("score=%.9g threshold=%.9g anomalous=%d\n", p.score, model.threshold(),
                p.score > model.threshold() ? 1 : 0);
    return 0;
  } catch (const patchcore::UserError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
