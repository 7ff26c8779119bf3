#pragma once
// Layout of a model folder OUTPUT/PATTERN and its atomic creation.
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "head/norm_stats.h"
#include "pipeline/checkpoint.h"

namespace patchcore {

struct ModelFolder {
  static constexpr const char* kCheckpoint = "checkpoint.safetensors";
  static constexpr const char* kConfig = "config.yaml";
  static constexpr const char* kNormStats = "norm_stats.txt";
  // SHA-256 of every other file of the folder, in `sha256sum` format ("<hex>  <relative path>"),
  // so `sha256sum -c SHA256SUMS` checks a copied folder too.
  static constexpr const char* kManifest = "SHA256SUMS";
};

// (Re)writes `dir`/SHA256SUMS over every regular file below `dir` but itself. Called last by
// whatever changes the folder (train, export, eval --write-threshold).
void write_manifest(const std::filesystem::path& dir);

// Checks `files` (paths relative to `dir`) against `dir`/SHA256SUMS. Throws UserError naming
// the first file that is listed but missing or whose SHA-256 differs. A folder without a
// manifest (written before it existed) and files it does not list are not checked.
// Returns the SHA-256 (hex) of each file it checked, by relative path.
std::map<std::string, std::string> verify_manifest(const std::filesystem::path& dir,
                                                   const std::vector<std::string>& files);

// A complete model folder, read for use.
struct ModelFolderContents {
  Checkpoint checkpoint;
  NormStats stats;
  std::optional<std::string> checkpoint_sha256;  // from SHA256SUMS, when the folder has one
};

// The one reader of a model folder for predict (patchcore::Model::load), export and `train --from`:
// SHA256SUMS checked, the checkpoint read and refused when it is a shard's partial model
// (`patchcore merge` first), norm_stats.txt read. Throws UserError naming the file and the fix.
// (The folder's existence is checked by the callers, whose messages name their option.)
ModelFolderContents load_model_folder(const std::filesystem::path& dir);

// A temporary sibling folder that becomes `final_dir` on commit(); if commit() is
// never reached (exception), the temporary folder is deleted and `final_dir` is
// untouched. An existing `final_dir` is replaced only once the new one is complete, by one
// atomic exchange of the two folders (renameat2 RENAME_EXCHANGE), so a process killed at any
// point leaves either the old or the new model at `final_dir`, never neither.
// Leftovers of killed runs (".PATTERN.partial-PID" / "PATTERN.previous-PID" of a PID that no
// longer runs) are removed when the next StagedFolder for the same `final_dir` is made; a
// "previous" folder is first moved back when `final_dir` itself is missing.
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
