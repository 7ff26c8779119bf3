#pragma once
// Finding the images of a data folder.
#include <filesystem>
#include <vector>

namespace patchcore {

// True for .png .jpg .jpeg .bmp in any letter case.
bool is_image_file(const std::filesystem::path& path);

// Training images: those directly inside data_dir, else in data_dir/good, else in
// data_dir/train/good (the first of these that holds images). Sorted by name.
// Throws UserError for a missing folder or one without images, saying where it looked.
std::vector<std::filesystem::path> find_training_images(const std::filesystem::path& data_dir);

// Images to predict: a single file, or every image under a folder, recursively,
// sorted by path (so an MVTec-style test/ folder with one sub-folder per defect
// works as it is). Throws UserError naming the path if there are none.
std::vector<std::filesystem::path> find_input_images(const std::filesystem::path& file_or_dir);

}  // namespace patchcore
