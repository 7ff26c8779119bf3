#include "eval/eval_dataset.h"

#include <algorithm>

#include "data/dataset.h"
#include "io/error.h"

namespace patchcore::eval {

namespace fs = std::filesystem;

EvalDataset find_eval_dataset(const fs::path& data_dir) {
  if (!fs::is_directory(data_dir))
    throw UserError("--data-dir " + data_dir.string() + " is not a folder; pass an MVTec-style folder (test/, "
                    "ground_truth/) or a folder with good/ and one sub-folder per defect type");
  EvalDataset d;
  const bool mvtec = fs::is_directory(data_dir / "test");
  d.test_root = mvtec ? data_dir / "test" : data_dir;
  const fs::path masks_root = data_dir / "ground_truth";
  d.has_masks = mvtec && fs::is_directory(masks_root);

  std::vector<fs::path> categories;
  for (const auto& entry : fs::directory_iterator(d.test_root)) {
    if (entry.is_directory())
      categories.push_back(entry.path());
    else if (is_image_file(entry.path()))
      throw UserError(entry.path().string() + " has no label: put every test image into " + d.test_root.string() +
                      "/good/ (defect-free) or " + d.test_root.string() + "/<defect type>/");
  }
  std::sort(categories.begin(), categories.end());
  bool has_good = false, has_defect = false;
  for (const auto& folder : categories) {
    const std::string category = folder.filename().string();
    std::vector<fs::path> images;
    for (const auto& entry : fs::directory_iterator(folder))
      if (entry.is_regular_file() && is_image_file(entry.path())) images.push_back(entry.path());
    if (images.empty()) continue;
    std::sort(images.begin(), images.end());
    const bool defective = category != kGoodCategory;
    (defective ? has_defect : has_good) = true;
    for (const auto& image : images) {
      EvalSample s{image, category, defective, std::nullopt};
      if (defective && d.has_masks) {
        const fs::path mask = masks_root / category / (image.stem().string() + "_mask.png");
        if (!fs::is_regular_file(mask))
          throw UserError("missing mask " + mask.string() + " for " + image.string() +
                          " (every defect image needs one in an MVTec folder; remove " + masks_root.string() +
                          " to evaluate image metrics only)");
        s.mask = mask;
      }
      d.samples.push_back(std::move(s));
    }
  }
  if (!has_good)
    throw UserError(d.test_root.string() + " has no good/ sub-folder with images: eval needs defect-free test "
                    "images in good/ for the false-alarm rate and AUROC");
  if (!has_defect)
    throw UserError(d.test_root.string() + " has no defect sub-folder with images (only good/): add one "
                    "sub-folder per defect type");
  return d;
}

}  // namespace patchcore::eval
