#include "pipeline/image_batch.h"

#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <exception>

#include "data/roi.h"
#include <mutex>

namespace patchcore {
namespace {

// Runs fn(i) for i in [0,n) on torch's intra-op pool; rethrows the first exception
// (the one for the lowest index, so errors are reported in file order).
template <typename Fn>
void parallel_each(int64_t n, Fn fn) {
  std::vector<std::exception_ptr> errors(static_cast<size_t>(n));
  at::parallel_for(0, n, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      try {
        c10::InferenceMode guard;  // worker threads do not inherit the caller's mode
        fn(i);
      } catch (...) {
        errors[static_cast<size_t>(i)] = std::current_exception();
      }
    }
  });
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace

torch::Tensor preprocess_batch(const std::vector<cv::Mat>& images, const Preprocessing& spec) {
  const int64_t n = static_cast<int64_t>(images.size());
  auto input = torch::empty({n, 3, spec.height, spec.width});
  parallel_each(n, [&](int64_t i) { input[i].copy_(preprocess(to_bgr3(images[static_cast<size_t>(i)]), spec)); });
  return input;
}

std::vector<LocatedImage> locate_in_files(const std::vector<std::filesystem::path>& paths, const RoiLocator& roi) {
  std::vector<LocatedImage> out(paths.size());
  parallel_each(static_cast<int64_t>(paths.size()), [&](int64_t i) {
    const auto& path = paths[static_cast<size_t>(i)];
    const cv::Mat image = read_image_bgr(path);
    check_image_fits_template(roi, image.size(), path.string());
    out[static_cast<size_t>(i)] = {roi.locate(image), image.size()};
  });
  return out;
}

ImageBatch load_image_batch(const std::vector<std::filesystem::path>& paths, const Preprocessing& spec,
                            const std::vector<cv::Rect>& crops) {
  const int64_t n = static_cast<int64_t>(paths.size());
  ImageBatch batch;
  batch.input = torch::empty({n, 3, spec.height, spec.width});
  batch.original_sizes.resize(paths.size());
  parallel_each(n, [&](int64_t i) {
    cv::Mat image = read_image_bgr(paths[static_cast<size_t>(i)]);
    batch.original_sizes[static_cast<size_t>(i)] = image.size();
    if (!crops.empty()) image = image(crops[static_cast<size_t>(i)] & cv::Rect(0, 0, image.cols, image.rows));
    batch.input[i].copy_(preprocess(image, spec));
  });
  return batch;
}

}  // namespace patchcore
