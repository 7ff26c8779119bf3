#include "data/dataset.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <string>
#include <system_error>

#include "io/error.h"

namespace patchcore {

namespace fs = std::filesystem;

namespace {

constexpr const char* kAccepted = ".png, .jpg, .jpeg, .bmp (any letter case)";

std::vector<fs::path> images_directly_in(const fs::path& dir) {
  std::vector<fs::path> found;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return found;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code type_ec;
    if (it->is_regular_file(type_ec) && is_image_file(it->path())) found.push_back(it->path());
  }
  std::sort(found.begin(), found.end());
  return found;
}

}  // namespace

bool is_image_file(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

std::vector<fs::path> find_training_images(const fs::path& data_dir) {
  std::error_code ec;
  if (!fs::exists(data_dir, ec))
    throw UserError("training data folder not found: " + data_dir.string());
  if (!fs::is_directory(data_dir, ec))
    throw UserError("training data must be a folder of images, but " + data_dir.string() +
                    " is not a folder");
  const std::vector<fs::path> candidates = {data_dir, data_dir / "good", data_dir / "train" / "good"};
  for (const auto& dir : candidates) {
    auto found = images_directly_in(dir);
    if (!found.empty()) return found;
  }
  std::string looked;
  for (const auto& dir : candidates) looked += "\n  " + dir.string();
  throw UserError("no training images found in " + data_dir.string() + "; looked in:" + looked +
                  "\naccepted extensions: " + kAccepted);
}

std::vector<fs::path> find_input_images(const fs::path& file_or_dir) {
  std::error_code ec;
  if (!fs::exists(file_or_dir, ec))
    throw UserError("input image or folder not found: " + file_or_dir.string());
  if (!fs::is_directory(file_or_dir, ec)) {
    if (!is_image_file(file_or_dir))
      throw UserError("input file " + file_or_dir.string() +
                      " does not have an image extension (accepted: " + kAccepted + ")");
    return {file_or_dir};
  }
  std::vector<fs::path> found;
  const auto options = fs::directory_options::follow_directory_symlink |
                       fs::directory_options::skip_permission_denied;
  // Linked folders are followed, each folder once: a link back up the tree is not a loop.
  std::set<fs::path> visited = {fs::canonical(file_or_dir, ec)};
  for (fs::recursive_directory_iterator it(file_or_dir, options, ec), end; !ec && it != end;
       it.increment(ec)) {
    std::error_code type_ec;
    if (it->is_directory(type_ec)) {
      std::error_code canonical_ec;
      const fs::path real = fs::canonical(it->path(), canonical_ec);
      if (canonical_ec || !visited.insert(real).second) it.disable_recursion_pending();
    } else if (it->is_regular_file(type_ec) && is_image_file(it->path())) {
      found.push_back(it->path());
    }
  }
  if (ec)
    throw UserError("cannot list folder " + file_or_dir.string() + ": " + ec.message());
  if (found.empty())
    throw UserError("no images found under " + file_or_dir.string() +
                    " (searched recursively; accepted extensions: " + kAccepted + ")");
  std::sort(found.begin(), found.end());
  return found;
}

}  // namespace patchcore
