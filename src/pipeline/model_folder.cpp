#include "pipeline/model_folder.h"

#include <unistd.h>

#include "io/error.h"

namespace patchcore {

namespace fs = std::filesystem;

StagedFolder::StagedFolder(fs::path final_dir) : final_(std::move(final_dir)) {
  const fs::path parent = final_.parent_path().empty() ? fs::path(".") : final_.parent_path();
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) throw UserError("cannot create output folder " + parent.string() + ": " + ec.message());
  staging_ = parent / ("." + final_.filename().string() + ".partial-" + std::to_string(::getpid()));
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
  fs::path previous;
  if (fs::exists(final_)) {
    previous = final_;
    previous += ".previous-" + std::to_string(::getpid());
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

}  // namespace patchcore
