#pragma once
// Layout of a model folder OUTPUT/PATTERN and its atomic creation.
#include <filesystem>
#include <string>

namespace patchcore {

struct ModelFolder {
  static constexpr const char* kCheckpoint = "checkpoint.safetensors";
  static constexpr const char* kConfig = "config.yaml";
  static constexpr const char* kNormStats = "norm_stats.txt";
};

// A temporary sibling folder that becomes `final_dir` on commit(); if commit() is
// never reached (exception), the temporary folder is deleted and `final_dir` is
// untouched. An existing `final_dir` is replaced only once the new one is complete.
class StagedFolder {
 public:
  explicit StagedFolder(std::filesystem::path final_dir);
  ~StagedFolder();
  StagedFolder(const StagedFolder&) = delete;
  StagedFolder& operator=(const StagedFolder&) = delete;

  const std::filesystem::path& path() const { return staging_; }
  void commit();

 private:
  std::filesystem::path final_;
  std::filesystem::path staging_;
  bool committed_ = false;
};

}  // namespace patchcore
