// ROI mode through the `patchcore` executable: --roi-rect training + predict + export,
// bad input (exit code 1, a clear message, nothing written), and the interactive
// --roi window for real under Xvfb, driven with xdotool (mouse drag + ENTER).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "data/roi.h"
#include "roi_scene.h"
#include "cli_support.h"
#include "test_support.h"

namespace patchcore {
namespace {

namespace fs = std::filesystem;
using testing::contains;
using testing::run;
using testing::run_shell;
using testing::TempDir;

const cv::Size kImage(320, 240);
const cv::Point kReference(112, 88);
const cv::Size kPart(96, 64);

class RoiCli : public ::testing::Test {
 protected:
  void SetUp() override {
    part_ = roi_testing::make_part(kPart);
    truths_ = roi_testing::write_dataset(dir_.path() / "data", 6, kImage, part_, kReference, 3);
  }
  fs::path out() const { return dir_.path() / "out"; }
  std::string train_args(const std::string& roi_args, const std::string& image_size = "64 96") const {
    return "train --data-dir " + (dir_.path() / "data").string() + " --output " + out().string() +
           " --pattern-name wire --image-size " + image_size +
           " --coreset-ratio 0.5 --quiet --backbone resnet18 --weights random:1 " + roi_args;
  }
  // Nothing in OUTPUT: no model folder and no partial folder.
  void expect_nothing_written() const {
    EXPECT_FALSE(fs::exists(out() / "wire"));
    if (fs::exists(out()))
      for (const auto& e : fs::directory_iterator(out())) ADD_FAILURE() << "left behind: " << e.path();
  }
  TempDir dir_;
  cv::Mat part_;
  std::vector<cv::Point> truths_;
};

TEST_F(RoiCli, TrainWithRoiRectThenPredictAndExportKeepTheRoi) {
  // --image-size 64 192 is 2x wider than the 96 x 64 ROI: training advises 80 x 112 or so.
  auto trained = run(train_args("--roi-rect 112 88 96 64", "64 192"));
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  EXPECT_TRUE(contains(trained.output, "Consider --image-size")) << trained.output;
  const fs::path model = out() / "wire";
  for (const char* file : {"roi/roi.json", "roi/template.png", "roi/matches.csv", "roi/crops.jpg", "wire.onnx"})
    EXPECT_TRUE(fs::exists(model / file)) << file;
  EXPECT_TRUE(contains(testing::read_file(model / "config.yaml"), "roi:")) << testing::read_file(model / "config.yaml");

  // Test images: the part shifted, and a background without it.
  const fs::path test = dir_.path() / "test";
  fs::create_directories(test);
  const cv::Point shifted = kReference + cv::Point(-25, 17);
  cv::imwrite((test / "a_shifted.png").string(), roi_testing::scene(kImage, part_, shifted, 40));
  cv::imwrite((test / "b_empty.png").string(), roi_testing::background(kImage, 41));
  auto predicted = run("predict --model " + model.string() + " --input " + test.string() + " --output " +
                       (dir_.path() / "pred").string());
  ASSERT_EQ(predicted.exit_code, 0) << predicted.output;
  EXPECT_TRUE(contains(predicted.output, "ROI NOT FOUND")) << predicted.output;
  std::ifstream in(dir_.path() / "pred/results.json");
  const auto results = nlohmann::json::parse(in);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_TRUE(results[0].at("roi_found").get<bool>());
  EXPECT_TRUE(results[0].at("score").is_number());
  const auto roi = results[0].at("roi").get<std::vector<int>>();
  ASSERT_EQ(roi.size(), 4u);
  EXPECT_LE(std::abs(roi[0] - shifted.x), 1);
  EXPECT_LE(std::abs(roi[1] - shifted.y), 1);
  EXPECT_FALSE(results[1].at("roi_found").get<bool>());
  EXPECT_LT(results[1].at("roi_score").get<double>(), 0.5);
  EXPECT_FALSE(results[1].contains("score"));
  const cv::Mat overlay = cv::imread((dir_.path() / "pred/overlays/a_shifted.png").string());
  EXPECT_EQ(overlay.size(), kImage);  // drawn on the full image
  EXPECT_TRUE(fs::exists(dir_.path() / "pred/overlays/b_empty.png"));

  // `patchcore export` keeps the ROI in the exported files' metadata.
  auto exported = run("export --model " + model.string() + " --fp16");
  ASSERT_EQ(exported.exit_code, 0) << exported.output;
  EXPECT_TRUE(contains(testing::read_file(model / "wire.onnx"), "patchcore.roi_rect"));
  EXPECT_TRUE(contains(testing::read_file(model / "wire.xml"), "<roi_rect value=\"112,88,96,64\""));
  EXPECT_TRUE(fs::exists(model / "roi/roi.json"));
}

TEST_F(RoiCli, HelpListsTheRoiOptions) {
  auto help = run("train --help");
  for (const char* flag : {"--roi", "--roi-rect", "--roi-image", "--roi-threshold", "--roi-search-margin",
                           "--roi-context"})
    EXPECT_TRUE(contains(help.output, flag)) << flag;
}

TEST_F(RoiCli, BadInputIsAClearErrorWithExitCode1AndWritesNothing) {
  struct Case {
    std::string args, expected;
  };
  const std::vector<Case> cases = {
      {"--roi-rect 300 200 60 60", "outside"},
      {"--roi-rect 10 10 0 40", "zero"},
      {"--roi-rect 112 88 96 64 --roi-threshold 1.5", "--roi-threshold must be in [0, 1]"},
      {"--roi-rect 112 88 96 64 --roi-threshold -0.2", "--roi-threshold must be in [0, 1]"},
      {"--roi-rect 112 88 96 64 --roi-search-margin 3", "--roi-search-margin"},
      {"--roi --roi-rect 112 88 96 64", "not both"},
      {"--roi-rect 112 88 96 64 --roi-image " + (dir_.path() / "missing.png").string(), "missing.png"},
  };
  for (const Case& c : cases) {
    auto r = run(train_args(c.args));
    EXPECT_EQ(r.exit_code, 1) << c.args << "\n" << r.output;
    EXPECT_TRUE(contains(r.output, "error:")) << r.output;
    EXPECT_TRUE(contains(r.output, c.expected)) << c.args << "\n" << r.output;
    expect_nothing_written();
  }
  // No display: --roi fails at once and names --roi-rect.
  auto no_display = run_shell("env -u DISPLAY " + std::string(PATCHCORE_CLI) + " " + train_args("--roi"));
  EXPECT_EQ(no_display.exit_code, 1) << no_display.output;
  EXPECT_TRUE(contains(no_display.output, "--roi-rect")) << no_display.output;
  expect_nothing_written();
  // A training image smaller than the template.
  cv::imwrite((dir_.path() / "data/zz_small.png").string(), roi_testing::background({80, 50}, 9));
  auto small = run(train_args("--roi-rect 112 88 96 64"));
  EXPECT_EQ(small.exit_code, 1) << small.output;
  EXPECT_TRUE(contains(small.output, "zz_small.png")) << small.output;
  EXPECT_TRUE(contains(small.output, "larger than")) << small.output;
  expect_nothing_written();
}

bool has_xvfb_and_xdotool() {
  return run_shell("command -v Xvfb").exit_code == 0 && run_shell("command -v xdotool").exit_code == 0;
}
const char* const kNoXvfb =
    "skipped: Xvfb and/or xdotool are not installed (Debian packages xvfb, xdotool; scripts/install-deps.sh "
    "installs them)";

// A bash script that starts Xvfb, runs `patchcore ARGS` on it (log in `log`), waits for the
// --roi window ($WID), runs `drive` and reports "train exit code N".
std::string under_xvfb(const std::string& args, const fs::path& log, const std::string& drive) {
  const int display = 100 + static_cast<int>(::getpid() % 400);
  std::ostringstream script;
  script << "set -u\n"
         << "Xvfb :" << display << " -screen 0 1280x1024x24 -nolisten tcp >/dev/null 2>&1 & XPID=$!\n"
         << "trap 'kill $XPID 2>/dev/null' EXIT\n"
         << "for i in $(seq 100); do [ -e /tmp/.X11-unix/X" << display << " ] && break; sleep 0.1; done\n"
         << "export DISPLAY=:" << display << "\n"
         << PATCHCORE_CLI << " " << args << " >" << log.string() << " 2>&1 & TPID=$!\n"
         << "WID=$(timeout 60 xdotool search --sync --onlyvisible --name 'patchcore --roi' | head -1)\n"
         << "[ -n \"$WID\" ] || { echo 'no --roi window appeared'; kill $TPID; exit 2; }\n"
         << "sleep 0.5\n"
         << drive
         << "timeout 120 tail --pid=$TPID -f /dev/null || kill $TPID  # hung: fail, do not wait forever\n"
         << "wait $TPID; echo \"train exit code $?\"\n";
  return script.str();
}

// The interactive path for real: Xvfb + xdotool drag a rectangle in the --roi window and
// press ENTER; the rectangle must land in roi/roi.json.
TEST_F(RoiCli, InteractiveSelectionUnderXvfbLandsInRoiJson) {
  if (!has_xvfb_and_xdotool()) GTEST_SKIP() << kNoXvfb;
  const cv::Rect want(60, 50, 150, 110);  // image pixels; the window shows a hint band above the image
  const int top = kRoiHintBand;
  const fs::path log = dir_.path() / "train.log";
  std::ostringstream drive;
  drive << "xdotool mousemove --window $WID " << want.x << " " << want.y + top << "; sleep 0.2\n"
        << "xdotool mousedown 1; sleep 0.2\n"
        << "for s in 1 2 3 4 5 6; do xdotool mousemove --window $WID $((" << want.x << " + " << want.width
        << " * s / 6)) $((" << want.y + top << " + " << want.height << " * s / 6)); sleep 0.1; done\n"
        << "xdotool mouseup 1; sleep 0.3\n"
        << "xdotool windowfocus --sync $WID; sleep 0.1; xdotool key Return\n"
        << "sleep 0.7; xdotool search --name 'patchcore --roi' >/dev/null && xdotool key space\n";
  const fs::path script_file = dir_.path() / "drive.sh";
  std::ofstream(script_file) << under_xvfb(train_args("--roi"), log, drive.str());
  const auto r = run_shell("bash " + script_file.string());
  const std::string train_log = testing::read_file(log);
  ASSERT_TRUE(contains(r.output, "train exit code 0")) << r.output << "\n" << train_log;
  const auto json = nlohmann::json::parse(testing::read_file(out() / "wire/roi/roi.json"));
  const auto rect = json.at("rect").get<std::vector<int>>();
  ASSERT_EQ(rect.size(), 4u);
  EXPECT_EQ(rect, (std::vector<int>{want.x, want.y, want.width, want.height})) << train_log;
}

// The window's close button (a window manager sends WM_DELETE_WINDOW: tests/cli/wm_close.py,
// as xdotool cannot) ends training with a clear error instead of waiting forever.
TEST_F(RoiCli, ClosingTheRoiWindowFailsCleanly) {
  if (!has_xvfb_and_xdotool()) GTEST_SKIP() << kNoXvfb;
  const fs::path log = dir_.path() / "train.log";
  const fs::path wm_close = fs::path(__FILE__).parent_path() / "wm_close.py";
  const std::string drive = "/usr/bin/python3 " + wm_close.string() + " $WID\n";
  const fs::path script_file = dir_.path() / "drive.sh";
  std::ofstream(script_file) << under_xvfb(train_args("--roi"), log, drive);
  const auto r = run_shell("bash " + script_file.string());
  const std::string train_log = testing::read_file(log);
  ASSERT_TRUE(contains(r.output, "train exit code 1")) << r.output << "\n" << train_log;
  EXPECT_TRUE(contains(train_log, "was closed before a rectangle was confirmed")) << train_log;
  EXPECT_TRUE(contains(train_log, "--roi-rect")) << train_log;
  expect_nothing_written();
}

}  // namespace
}  // namespace patchcore
