#pragma once
// The labelled test images of `patchcore eval`: an MVTec AD folder (test/<category>/,
// ground_truth/<category>/<stem>_mask.png, test/good without masks) or a plain folder
// of labelled sub-folders (<category>/, no masks). The category "good" is defect-free.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace patchcore::eval {

inline constexpr const char* kGoodCategory = "good";

struct EvalSample {
  std::filesystem::path image;
  std::string category;                       // sub-folder name
  bool defective = false;                     // category != good
  std::optional<std::filesystem::path> mask;  // defect images of an MVTec folder
};

struct EvalDataset {
  std::filesystem::path test_root;  // the folder holding the category sub-folders
  std::vector<EvalSample> samples;  // sorted by category, then file name
  bool has_masks = false;           // ground_truth/ exists: pixel metrics are possible
};

// Throws UserError naming the folder/file and the fix: missing folder, no good/ or no
// defect category, images without a category folder, a defect image without its mask.
EvalDataset find_eval_dataset(const std::filesystem::path& data_dir);

}  // namespace patchcore::eval
