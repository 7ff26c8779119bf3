// Faults during training, as a user or the machine causes them: the process killed (kill -9) at
// random points, the file-size limit reached while writing. The previous model must stay intact
// and loadable, and nothing half-written may be left behind for a later run to trip over.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include <set>

#include "cli_support.h"
#include "io/error.h"
#include "patchcore/model.h"
#include "test_support.h"

namespace patchcore {
namespace {

namespace fs = std::filesystem;
using testing::contains;
using testing::run_shell;
using testing::TempDir;

// Names in `dir` that start with `prefix`.
std::vector<std::string> entries_starting_with(const fs::path& dir, const std::string& prefix) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().rfind(prefix, 0) == 0) names.push_back(e.path().filename().string());
  return names;
}

class FaultTest : public ::testing::Test {
 protected:
  void SetUp() override { testing::write_cli_demo_data(dir_.path() / "data"); }
  std::string train_command() const {
    return std::string(PATCHCORE_CLI) + " train --data-dir " + (dir_.path() / "data").string() + " --output " +
           out().string() + " --pattern-name wire --image-size 64 64 --coreset-ratio 0.5 --quiet " +
           "--backbone resnet18 --weights random:1";
  }
  fs::path out() const { return dir_.path() / "out"; }
  fs::path model() const { return out() / "wire"; }
  TempDir dir_;
};

TEST_F(FaultTest, TrainingKilledAtAnyPointLeavesALoadableModelAndNoLeftovers) {
  auto start = std::chrono::steady_clock::now();
  auto first = run_shell(train_command());
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const double run_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  // Kill points spread over a whole run (start-up, extraction, coreset, writing, renaming).
  for (double fraction : {0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.9, 0.95, 0.99, 1.05}) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      execl("/bin/sh", "sh", "-c", ("exec " + train_command() + " >/dev/null 2>&1").c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(static_cast<int64_t>(run_ms * fraction * 1000)));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    SCOPED_TRACE("killed at " + std::to_string(fraction) + " of a run");
    // The old or the new model, complete: Model::load reads every tensor of the checkpoint.
    EXPECT_NO_THROW(Model::load(model()));
    for (const char* file : {"checkpoint.safetensors", "norm_stats.txt", "config.yaml", "wire.onnx", "wire.xml"})
      EXPECT_TRUE(fs::exists(model() / file)) << file;
    EXPECT_TRUE(entries_starting_with(out(), "wire.previous-").empty());
    EXPECT_LE(entries_starting_with(out(), ".wire.partial-").size(), 1u);  // at most the killed run's
  }
  // The next run removes what killed runs left.
  auto last = run_shell(train_command() + " 2>&1");
  ASSERT_EQ(last.exit_code, 0) << last.output;
  EXPECT_TRUE(entries_starting_with(out(), ".wire.partial-").empty());
  EXPECT_EQ(entries_starting_with(out(), "").size(), 1u) << "only the model folder remains";
  EXPECT_NO_THROW(Model::load(model()));
}

// Ctrl-C (SIGINT) during training: a clean stop at the next progress report, exit code 130,
// the previous model as it was and nothing else left (no staging folder, no temporary file).
TEST_F(FaultTest, CtrlCStopsTrainingCleanly) {
  auto start = std::chrono::steady_clock::now();
  auto first = run_shell(train_command());
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const double run_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  const std::string checkpoint = testing::read_file(model() / "checkpoint.safetensors");
  int stopped = 0;
  for (double fraction : {0.4, 0.6, 0.8}) {
    const std::string log = (dir_.path() / "interrupted.log").string();
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      execl("/bin/sh", "sh", "-c", ("exec " + train_command() + " >" + log + " 2>&1").c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(static_cast<int64_t>(run_ms * fraction * 1000)));
    kill(pid, SIGINT);
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) continue;  // finished before the signal was noticed
    if (WIFSIGNALED(status)) {
      // Still loading its libraries: the default action, before any work was staged.
      EXPECT_EQ(WTERMSIG(status), SIGINT);
    } else {
      ++stopped;
      EXPECT_EQ(WEXITSTATUS(status), 130);
      EXPECT_TRUE(contains(testing::read_file(log), "interrupted")) << testing::read_file(log);
    }
    EXPECT_EQ(testing::read_file(model() / "checkpoint.safetensors"), checkpoint);
    EXPECT_EQ(entries_starting_with(out(), "").size(), 1u) << "something was left behind";
  }
  EXPECT_GT(stopped, 0) << "no run was still working when interrupted";
}

TEST_F(FaultTest, FileSizeLimitIsAClearErrorAndKeepsTheOldModel) {
  auto first = run_shell(train_command());
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const std::string checkpoint = testing::read_file(model() / "checkpoint.safetensors");
  ASSERT_GT(checkpoint.size(), 2u << 20);
  // 1 MiB per file (ulimit -f counts 1024-byte blocks), less than the checkpoint needs: the disk
  // is "full" in the middle of writing it.
  auto limited = run_shell("ulimit -f 1024; " + train_command());
  EXPECT_EQ(limited.exit_code, 1) << limited.output;
  EXPECT_TRUE(contains(limited.output, "failed writing")) << limited.output;
  EXPECT_TRUE(contains(limited.output, "checkpoint.safetensors")) << limited.output;
  EXPECT_TRUE(contains(limited.output, "disk full")) << limited.output;
  EXPECT_EQ(testing::read_file(model() / "checkpoint.safetensors"), checkpoint);
  EXPECT_NO_THROW(Model::load(model()));
  EXPECT_EQ(entries_starting_with(out(), "").size(), 1u) << "nothing half-written is left";
}

// Training past its memory cap writes the features to an unnamed temporary file in --output; a
// disk that cannot hold it is reported before the features are computed, naming the fix.
TEST_F(FaultTest, FeatureFileThatDoesNotFitIsAClearErrorAndLeavesNothing) {
  // Batches of 2 of the 8 images: on disk, the features then take a quarter of their RAM.
  const std::string command = train_command() + " --batch-size 2";
  auto first = run_shell(command);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const std::string checkpoint = testing::read_file(model() / "checkpoint.safetensors");
  // Just below what training all in RAM is estimated to need: the features go to disk.
  const std::string config = testing::read_file(model() / "config.yaml");
  const auto at = config.find("estimated_peak_bytes: ");
  ASSERT_NE(at, std::string::npos) << config;
  const long long in_ram = std::stoll(config.substr(at + 22));
  const std::string capped = command + " --max-memory " + std::to_string(in_ram - 1);
  auto on_disk = run_shell(capped + " 2>&1");
  ASSERT_EQ(on_disk.exit_code, 0) << on_disk.output;
  EXPECT_TRUE(contains(on_disk.output, "in a temporary file on disk")) << on_disk.output;
  EXPECT_EQ(entries_starting_with(out(), "").size(), 1u) << "the feature file was left behind";
  // 64 KiB per file, far less than the features: refused up front, the old model kept.
  auto limited = run_shell("ulimit -f 64; " + capped);
  EXPECT_EQ(limited.exit_code, 1) << limited.output;
  EXPECT_TRUE(contains(limited.output, "temporary feature file")) << limited.output;
  EXPECT_TRUE(contains(limited.output, "disk full")) << limited.output;
  EXPECT_TRUE(contains(limited.output, "--max-memory")) << limited.output;
  EXPECT_EQ(entries_starting_with(out(), "").size(), 1u) << "something was left behind";
  EXPECT_NO_THROW(Model::load(model()));
  // Killed while the file is in use: it has no name, so nothing is left (at most the staging
  // folder, if the kill came that late; the next run removes it).
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", ("exec " + capped + " >/dev/null 2>&1").c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  EXPECT_TRUE(entries_starting_with(out(), ".patch-features").empty());
  EXPECT_LE(entries_starting_with(out(), "").size(), 2u);
}

// Every file of the model folder has its SHA-256 in SHA256SUMS (sha256sum format, checked here
// by coreutils' own sha256sum); predict and export refuse a damaged checkpoint and name it.
TEST_F(FaultTest, DamagedModelFilesAreNamedByPredictAndExport) {
  auto trained = run_shell(train_command());
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  const std::string check = "cd " + model().string() + " && sha256sum --check --strict --quiet SHA256SUMS";
  auto checked = run_shell(check);
  EXPECT_EQ(checked.exit_code, 0) << checked.output;
  EXPECT_TRUE(contains(testing::read_file(model() / "SHA256SUMS"), "  wire.onnx\n"));
  // export rewrites files and the manifest with them.
  auto exported = testing::run("export --model " + model().string() + " --fp16");
  ASSERT_EQ(exported.exit_code, 0) << exported.output;
  checked = run_shell(check);
  EXPECT_EQ(checked.exit_code, 0) << checked.output;

  // One flipped byte in the middle of the checkpoint (same size).
  const fs::path checkpoint = model() / "checkpoint.safetensors";
  std::string bytes = testing::read_file(checkpoint);
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x40);
  std::ofstream(checkpoint, std::ios::binary | std::ios::trunc) << bytes;
  const auto predicted = testing::run("predict --model " + model().string() + " --input " +
                                      (dir_.path() / "data/test").string() + " --output " + (dir_.path() / "pred").string());
  EXPECT_EQ(predicted.exit_code, 1) << predicted.output;
  EXPECT_TRUE(contains(predicted.output, checkpoint.string() + " does not match its SHA-256")) << predicted.output;
  const auto reexported = testing::run("export --model " + model().string());
  EXPECT_EQ(reexported.exit_code, 1) << reexported.output;
  EXPECT_TRUE(contains(reexported.output, "does not match its SHA-256")) << reexported.output;

  fs::remove(model() / "norm_stats.txt");
  EXPECT_THROW(Model::load(model()), UserError);
}

// Input trees are outside data: names that collide once flattened, a folder linked from
// elsewhere, dot names. Every file predict writes stays inside --output, one per image.
TEST_F(FaultTest, PredictWritesOneFilePerImageAndOnlyInsideTheOutputFolder) {
  auto trained = run_shell(train_command());
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  const cv::Mat image = cv::imread((dir_.path() / "data/test/good/000.png").string());
  ASSERT_FALSE(image.empty());
  const fs::path input = dir_.path() / "input", outside = dir_.path() / "outside";
  fs::create_directories(input / "a");
  fs::create_directories(outside);
  for (const fs::path& p : {input / "a/b.png", input / "a__b.png", input / "x.png", input / "x.jpg",
                            input / "..png", outside / "img.png"})
    ASSERT_TRUE(cv::imwrite(p.string(), image)) << p;
  fs::create_directory_symlink(outside, input / "linked");
  fs::create_directory_symlink(input, input / "a" / "back_up");  // a loop: listed once, not 40 times
  const fs::path output = dir_.path() / "pred";
  const auto predicted = testing::run("predict --model " + model().string() + " --input " + input.string() +
                                      " --output " + output.string() + " --save-maps");
  ASSERT_EQ(predicted.exit_code, 0) << predicted.output;

  const auto results = nlohmann::json::parse(testing::read_file(output / "results.json"));
  ASSERT_EQ(results.size(), 6u);
  std::set<std::string> overlays;
  for (const auto& r : results) overlays.insert(r.at("overlay").get<std::string>());
  EXPECT_EQ(overlays.size(), 6u) << "two images share an output name";
  for (const auto& overlay : overlays) EXPECT_TRUE(fs::exists(output / overlay)) << overlay;
  const std::string root = fs::canonical(output).string() + "/";
  size_t written = 0;
  for (const auto& e : fs::recursive_directory_iterator(output)) {
    EXPECT_EQ(fs::canonical(e.path()).string().rfind(root, 0), 0u) << e.path();
    written += e.is_regular_file();
  }
  EXPECT_EQ(written, 1 + 6 + 6u);  // results.json, an overlay and a map per image
  EXPECT_EQ(std::distance(fs::directory_iterator(outside), fs::directory_iterator()), 1);  // nothing added there
}

}  // namespace
}  // namespace patchcore
