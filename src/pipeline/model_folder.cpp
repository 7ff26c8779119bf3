#include "pipeline/model_folder.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "io/atomic_file.h"
#include "io/error.h"
#include "io/sha256.h"

namespace patchcore {

namespace fs = std::filesystem;

namespace {

std::string partial_prefix(const fs::path& final_dir) { return "." + final_dir.filename().string() + ".partial-"; }
std::string previous_prefix(const fs::path& final_dir) { return final_dir.filename().string() + ".previous-"; }

// The PID a leftover's name ends with, when that process no longer runs.
bool left_by_dead_process(const std::string& name, const std::string& prefix) {
  if (name.rfind(prefix, 0) != 0) return false;
  const std::string digits = name.substr(prefix.size());
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) return false;
  const pid_t pid = static_cast<pid_t>(std::stol(digits));
  return pid != ::getpid() && ::kill(pid, 0) != 0 && errno == ESRCH;
}

// Removes what killed runs for `final_dir` left beside it; restores a "previous" model when a run
// was killed between moving the old model aside and moving the new one in (fallback commit only).
void clean_up_after_killed_runs(const fs::path& parent, const fs::path& final_dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(parent, ec)) {
    const std::string name = entry.path().filename().string();
    if (left_by_dead_process(name, previous_prefix(final_dir))) {
      if (!fs::exists(final_dir)) {
        fs::rename(entry.path(), final_dir, ec);
        std::cerr << "[patchcore] restored " << final_dir.string() << " from " << name
                  << " (a run was killed while replacing it)\n";
        continue;
      }
      fs::remove_all(entry.path(), ec);
    } else if (left_by_dead_process(name, partial_prefix(final_dir))) {
      fs::remove_all(entry.path(), ec);
      std::cerr << "[patchcore] removed " << name << ", left by a training run that was killed\n";
    }
  }
}

// Swaps two existing paths atomically; false where the file system cannot (EINVAL, ENOSYS).
bool exchange(const fs::path& a, const fs::path& b) {
  if (::renameat2(AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE) == 0) return true;
  if (errno == EINVAL || errno == ENOSYS) return false;
  throw UserError("cannot replace " + b.string() + ": " + std::strerror(errno));
}

}  // namespace

StagedFolder::StagedFolder(fs::path final_dir) : final_(std::move(final_dir)) {
  const fs::path parent = final_.parent_path().empty() ? fs::path(".") : final_.parent_path();
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) throw UserError("cannot create output folder " + parent.string() + ": " + ec.message());
  clean_up_after_killed_runs(parent, final_);
  staging_ = parent / (partial_prefix(final_) + std::to_string(::getpid()));
  fs::remove_all(staging_, ec);
  fs::create_directory(staging_, ec);
  if (ec) throw UserError("cannot create " + staging_.string() + ": " + ec.message() + " (is the output folder writable?)");
}

StagedFolder::~StagedFolder() {
  if (committed_) return;
  std::error_code ec;
  fs::remove_all(staging_, ec);
}

void StagedFolder::commit() {
  std::error_code ec;
  if (fs::exists(final_) && exchange(staging_, final_)) {
    committed_ = true;
    fs::remove_all(staging_, ec);  // now the old model; a kill here leaves a stale partial folder
    return;
  }
  fs::path previous;
  if (fs::exists(final_)) {  // file systems without RENAME_EXCHANGE: two renames
    previous = final_.parent_path() / (previous_prefix(final_) + std::to_string(::getpid()));
    fs::rename(final_, previous, ec);
    if (ec) throw UserError("cannot replace " + final_.string() + ": " + ec.message());
  }
  fs::rename(staging_, final_, ec);
  if (ec) {
    if (!previous.empty()) fs::rename(previous, final_);
    throw UserError("cannot move the finished model to " + final_.string() + ": " + ec.message());
  }
  committed_ = true;
  if (!previous.empty()) fs::remove_all(previous, ec);
}

namespace {

// Relative path -> hex digest, as sha256sum writes it (text mode: two spaces).
std::map<std::string, std::string> read_manifest(const fs::path& manifest) {
  std::ifstream in(manifest);
  std::map<std::string, std::string> digests;
  std::string line;
  while (std::getline(in, line)) {
    const auto gap = line.find("  ");
    if (gap != 64 || line.find_first_not_of("0123456789abcdef") < 64)
      throw UserError(manifest.string() + " is damaged (a line is not \"<sha256>  <file>\"); copy the model folder again");
    digests[line.substr(gap + 2)] = line.substr(0, gap);
  }
  return digests;
}

}  // namespace

void write_manifest(const fs::path& dir) {
  std::vector<std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir))
    if (entry.is_regular_file() && entry.path().filename() != ModelFolder::kManifest &&
        entry.path().filename().string().find(".tmp.") == std::string::npos)
      files.push_back(fs::relative(entry.path(), dir).generic_string());
  std::sort(files.begin(), files.end());
  std::ostringstream out;
  for (const auto& file : files) out << sha256_file(dir / file) << "  " << file << "\n";
  write_file_atomically(dir / ModelFolder::kManifest, out.str());
}

std::map<std::string, std::string> verify_manifest(const fs::path& dir, const std::vector<std::string>& files) {
  std::map<std::string, std::string> verified;
  const fs::path manifest = dir / ModelFolder::kManifest;
  if (!fs::exists(manifest)) return verified;
  const auto digests = read_manifest(manifest);
  for (const auto& file : files) {
    const auto listed = digests.find(file);
    if (listed == digests.end()) continue;
    if (!fs::exists(dir / file))
      throw UserError("model folder " + dir.string() + " lacks " + file + ", which " + ModelFolder::kManifest +
                      " lists; copy the whole folder again");
    if (sha256_file(dir / file) != listed->second)
      throw UserError((dir / file).string() + " does not match its SHA-256 in " + ModelFolder::kManifest +
                      ": the file was changed or damaged after it was written; copy the model folder again or retrain");
    verified.emplace(file, listed->second);
  }
  return verified;
}

ModelFolderContents load_model_folder(const std::filesystem::path& dir) {
  const auto verified = verify_manifest(dir, {ModelFolder::kCheckpoint, ModelFolder::kNormStats});
  ModelFolderContents contents;
  if (auto digest = verified.find(ModelFolder::kCheckpoint); digest != verified.end())
    contents.checkpoint_sha256 = digest->second;
  contents.checkpoint = load_checkpoint(dir / ModelFolder::kCheckpoint);
  require_complete_model(contents.checkpoint, dir.string());
  contents.stats = read_norm_stats(dir / ModelFolder::kNormStats);
  return contents;
}

}  // namespace patchcore
