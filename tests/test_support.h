#pragma once
// Helpers shared by the tests: where ../shared lives, skipping when it is absent,
// and the relative-error measure the reference cases are specified with.
#include <gtest/gtest.h>
#include <torch/types.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "io/error.h"

namespace patchcore::testing {

// ../shared beside the project (or $PATCHCORE_SHARED_DIR).
std::filesystem::path shared_dir();

// max|a-b| / max|b|, the "relative (max-abs over max-abs)" of shared/reference/README.md.
double relative_error(const torch::Tensor& actual, const torch::Tensor& expected);

// The whole file's bytes ("" when it cannot be opened).
std::string read_file(const std::filesystem::path& path);

// A Python interpreter that imports `modules` (e.g. "sklearn, scipy"), for tests that use
// Python packages as the reference: `python3` on the PATH, else Debian's /usr/bin/python3
// (where python3-sklearn installs, when another python3 comes first on the PATH); "" if none.
std::string python_with(const std::string& modules);

// Every k-th image of a sorted folder listing, `count` of them: a fixed subset of the shared data.
// (Inline: only tests that link the data layer use it.)
inline std::vector<std::filesystem::path> every_kth(const std::filesystem::path& dir, size_t count) {
  const auto files = find_input_images(dir);
  std::vector<std::filesystem::path> picked;
  const size_t step = std::max<size_t>(1, files.size() / count);
  for (size_t i = 0; i < files.size() && picked.size() < count; i += step) picked.push_back(files[i]);
  return picked;
}

// A fresh empty temporary folder, removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Runs fn, which must throw patchcore::UserError; returns its message (and records a
// test failure, returning "", when nothing is thrown).
template <typename Fn>
std::string user_error_message(Fn&& fn) {
  try {
    fn();
  } catch (const UserError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a UserError";
  return "";
}

}  // namespace patchcore::testing

// Skips the current test with a clear message when a ../shared sub-folder is missing.
#define PATCHCORE_REQUIRE_SHARED(sub)                                                        \
  do {                                                                                       \
    if (!std::filesystem::exists(::patchcore::testing::shared_dir() / (sub)))                 \
      GTEST_SKIP() << "skipped: " << (::patchcore::testing::shared_dir() / (sub)).string()   \
                   << " is absent (the shared data folder beside the project)";               \
  } while (0)
