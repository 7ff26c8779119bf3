#pragma once
// A small generated inspection-like data set (stripped copper wire on a dark
// background; defects are scratches, missing strands and stains), laid out like
// MVTec AD: train/good, test/good, test/<defect>, ground_truth/<defect>/<stem>_mask.png.
// Used by the demo and by tests that need images without ../shared.
#include <cstdint>
#include <filesystem>

namespace patchcore {

struct DemoDatasetOptions {
  int train_images = 40;
  int test_good = 6;
  int test_per_defect = 4;
  int size = 256;  // square images
  uint64_t seed = 0;
};

struct DemoDatasetSummary {
  int train = 0, test_good = 0, test_defective = 0;
};

// Writes the data set below `root` (created; existing files are overwritten).
DemoDatasetSummary write_demo_dataset(const std::filesystem::path& root, const DemoDatasetOptions& options = {});

}  // namespace patchcore
