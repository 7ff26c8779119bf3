// StagedFolder: the model folder replaced in one step, and what killed runs leave cleaned up.
#include "pipeline/model_folder.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "test_support.h"

namespace patchcore {
namespace {

namespace fs = std::filesystem;

void write_text(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

std::string read_text(const fs::path& p) {
  std::ifstream f(p);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// The PID of a process that has exited (and been reaped).
pid_t dead_pid() {
  const pid_t pid = fork();
  if (pid == 0) _exit(0);
  waitpid(pid, nullptr, 0);
  return pid;
}

size_t entries(const fs::path& dir) { return std::distance(fs::directory_iterator(dir), fs::directory_iterator()); }

TEST(StagedFolder, CommitReplacesTheOldFolderAndLeavesNothingElse) {
  testing::TempDir dir;
  const fs::path final_dir = dir.path() / "wire";
  write_text(final_dir / "model.txt", "old");
  {
    StagedFolder staged(final_dir);
    write_text(staged.path() / "model.txt", "new");
    EXPECT_EQ(read_text(final_dir / "model.txt"), "old");  // untouched until commit
    staged.commit();
  }
  EXPECT_EQ(read_text(final_dir / "model.txt"), "new");
  EXPECT_EQ(entries(dir.path()), 1u);
}

TEST(StagedFolder, RemovesWhatKilledRunsLeftButNotWhatRunningOnesUse) {
  testing::TempDir dir;
  const fs::path final_dir = dir.path() / "wire";
  write_text(final_dir / "model.txt", "current");
  const fs::path stale = dir.path() / (".wire.partial-" + std::to_string(dead_pid()));
  const fs::path running = dir.path() / (".wire.partial-" + std::to_string(getppid()));  // a live process
  const fs::path other = dir.path() / (".cable.partial-" + std::to_string(dead_pid()));  // another pattern
  for (const auto& d : {stale, running, other}) write_text(d / "checkpoint.safetensors", "half");
  StagedFolder staged(final_dir);
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(running));
  EXPECT_TRUE(fs::exists(other));
  EXPECT_EQ(read_text(final_dir / "model.txt"), "current");
}

TEST(StagedFolder, RestoresThePreviousModelWhenARunWasKilledWhileReplacingIt) {
  testing::TempDir dir;
  const fs::path final_dir = dir.path() / "wire";
  // What the two-rename fallback leaves when killed between its renames: no wire, only the old one aside.
  write_text(dir.path() / ("wire.previous-" + std::to_string(dead_pid())) / "model.txt", "old");
  StagedFolder staged(final_dir);
  EXPECT_EQ(read_text(final_dir / "model.txt"), "old");
  EXPECT_EQ(entries(dir.path()), 2u);  // wire and this run's staging folder
}

}  // namespace
}  // namespace patchcore
