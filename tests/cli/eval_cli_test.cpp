// `patchcore eval` end to end on a subset of the shared magnetic tile data: the
// numbers in metrics.json must equal the ones this test computes on its own from
// `predict`'s results.json and its --save-maps maps, with scikit-learn (AUROC, F1) and
// a NumPy/SciPy transcription of the MVTec AD evaluation code (AUPRO).
#include <nlohmann/json.hpp>
#include <onnx/onnx_pb.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <pugixml.hpp>

#include <cstdio>
#include <fstream>
#include <map>

#include "cli_support.h"
#include "data/dataset.h"
#include "head/norm_stats.h"
#include "test_support.h"

namespace patchcore::testing {
namespace {

namespace fs = std::filesystem;


nlohmann::json read_json(const fs::path& path) { return nlohmann::json::parse(read_file(path)); }

// Reference: image metrics from (score, label) lines, pixel metrics from raw files.
const char* kReferenceScript = R"PY(
import sys, numpy as np
from bisect import bisect
from scipy import ndimage
from sklearn.metrics import roc_auc_score, precision_recall_curve
d = sys.argv[1]
def f1max(y, s):
    p, r, t = precision_recall_curve(y, s)
    f = 2 * p * r / np.maximum(p + r, 1e-300)
    return f[:-1].max()
img = np.loadtxt(d + '/images.txt')
print(repr(roc_auc_score(img[:, 1].astype(int), img[:, 0].astype(np.float32))),
      repr(f1max(img[:, 1].astype(int), img[:, 0].astype(np.float32))))
shapes = np.loadtxt(d + '/shapes.txt', dtype=int, ndmin=2)
scores = np.fromfile(d + '/scores.f32', np.float32)
labels = np.fromfile(d + '/labels.u8', np.uint8)
# MVTec AD (Bergmann et al.) compute_pro: per 8-connected region of each mask.
weights = np.zeros(scores.size); regions = 0; off = 0
for h, w in shapes:
    lab, n = ndimage.label(labels[off:off + h * w].reshape(h, w), structure=np.ones((3, 3)))
    lab = lab.ravel()
    for r in range(1, n + 1):
        sel = lab == r
        weights[off:off + h * w][sel] = 1.0 / sel.sum()
    regions += n; off += h * w
order = np.argsort(-scores, kind='stable')
s = scores[order]; pos = labels[order] > 0
fprs = np.cumsum(~pos) / np.sum(~pos)
pros = np.cumsum(np.where(pos, weights[order], 0.0)) / regions
keep = np.append(np.diff(s) != 0, True)
fprs = np.concatenate([[0.0], fprs[keep]]); pros = np.concatenate([[0.0], pros[keep]])
ins = bisect(fprs, 0.3)
y_at = pros[ins - 1] + (pros[ins] - pros[ins - 1]) * (0.3 - fprs[ins - 1]) / (fprs[ins] - fprs[ins - 1])
mask = fprs <= 0.3
x, y = fprs[mask], pros[mask]
area = np.sum(0.5 * (y[1:] + y[:-1]) * (x[1:] - x[:-1])) + 0.5 * (y_at + y[-1]) * (0.3 - x[-1])
print(repr(roc_auc_score(labels, scores)), repr(f1max(labels, scores)), repr(area / 0.3), regions)
)PY";

onnx::ModelProto read_onnx(const fs::path& path) {
  onnx::ModelProto model;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(model.ParseFromIstream(&in)) << path;
  return model;
}

TEST(EvalCli, MetricsEqualAnIndependentComputationOnMagneticTiles) {
  PATCHCORE_REQUIRE_SHARED("data/magnetic_tile");
  PATCHCORE_REQUIRE_SHARED("weights/mobilenet_v1_0.75_224_tfjs");
  const std::string python = python_with("sklearn, scipy");
  if (python.empty())
    GTEST_SKIP() << "skipped: python3 with scikit-learn and SciPy is needed as the reference (Debian package "
                    "python3-sklearn, installed by scripts/install-deps.sh)";
  const fs::path tiles = shared_dir() / "data/magnetic_tile";
  TempDir dir;
  // A small MVTec-layout copy made of links: 30 training tiles, 8 good + 2 per defect type to test.
  const fs::path data = dir.path() / "tiles";
  fs::create_directories(data / "train/good");
  for (const auto& f : every_kth(tiles / "train/good", 30)) fs::create_symlink(f, data / "train/good" / f.filename());
  for (const auto& category : {"good", "blowhole", "break", "crack", "fray", "uneven"}) {
    fs::create_directories(data / "test" / category);
    const bool good = std::string(category) == "good";
    if (!good) fs::create_directories(data / "ground_truth" / category);
    for (const auto& f : every_kth(tiles / "test" / category, good ? 8 : 2)) {
      fs::create_symlink(f, data / "test" / category / f.filename());
      if (good) continue;
      const std::string mask = f.stem().string() + "_mask.png";
      fs::create_symlink(tiles / "ground_truth" / category / mask, data / "ground_truth" / category / mask);
    }
  }
  const std::string weights = (shared_dir() / "weights/mobilenet_v1_0.75_224_tfjs").string();
  const fs::path model = dir.path() / "models/tile";
  auto r = run("train --data-dir " + (data / "train/good").string() + " --output " + (dir.path() / "models").string() +
               " --pattern-name tile --backbone mobilenet_v1_0.75 --coreset-ratio 0.1 --weights " + weights +
               " --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run("predict --model " + model.string() + " --input " + (data / "test").string() + " --output " +
          (dir.path() / "pred").string() + " --save-maps");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run("eval --model " + model.string() + " --data-dir " + data.string() + " --output " +
          (dir.path() / "eval").string() + " --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "image AUROC")) << r.output;
  for (const char* file : {"metrics.json", "report.md", "roc.png", "pr.png", "score_histogram.png",
                           "false_alarms.png", "missed_defects.png"})
    EXPECT_TRUE(fs::exists(dir.path() / "eval" / file)) << file;
  EXPECT_FALSE(cv::imread((dir.path() / "eval/roc.png").string()).empty());

  // The reference inputs, from predict's outputs only.
  const fs::path ref = dir.path() / "ref";
  fs::create_directories(ref);
  std::ofstream images(ref / "images.txt"), shapes(ref / "shapes.txt");
  std::ofstream scores(ref / "scores.f32", std::ios::binary), labels(ref / "labels.u8", std::ios::binary);
  images.precision(9);
  int good = 0, false_alarms = 0, defects = 0, detected = 0;
  for (const auto& entry : read_json(dir.path() / "pred/results.json")) {
    const fs::path image = entry["image"].get<std::string>();
    const std::string category = image.parent_path().filename().string();
    const bool defective = category != "good";
    images << entry["score"].get<double>() << " " << defective << "\n";
    const bool flagged = entry["anomalous"].get<bool>();
    (defective ? defects : good) += 1;
    (defective ? detected : false_alarms) += flagged;
    const cv::Mat map =
        cv::imread((dir.path() / "pred/maps" / (category + "__" + image.stem().string() + ".tiff")).string(),
                   cv::IMREAD_UNCHANGED);
    ASSERT_EQ(map.type(), CV_32FC1) << image;
    cv::Mat mask = cv::Mat::zeros(map.size(), CV_8U);
    if (defective) {
      const cv::Mat full = cv::imread((data / "ground_truth" / category / (image.stem().string() + "_mask.png")).string(),
                                      cv::IMREAD_GRAYSCALE);
      cv::resize(full >= 128, mask, map.size(), 0, 0, cv::INTER_NEAREST);
      mask = mask / 255;
    }
    shapes << map.rows << " " << map.cols << "\n";
    scores.write(reinterpret_cast<const char*>(map.ptr<float>()), static_cast<std::streamsize>(map.total() * 4));
    labels.write(reinterpret_cast<const char*>(mask.ptr<uint8_t>()), static_cast<std::streamsize>(mask.total()));
  }
  images.close();
  shapes.close();
  scores.close();
  labels.close();
  { std::ofstream(ref / "reference.py") << kReferenceScript; }
  const auto py = run_shell(python + " " + (ref / "reference.py").string() + " " + ref.string());
  ASSERT_EQ(py.exit_code, 0) << py.output;
  double image_auroc = 0, image_f1 = 0, pixel_auroc = 0, pixel_f1 = 0, aupro = 0;
  int regions = 0;
  ASSERT_EQ(std::sscanf(py.output.c_str(), "%lf %lf %lf %lf %lf %d", &image_auroc, &image_f1, &pixel_auroc, &pixel_f1,
                        &aupro, &regions),
            6)
      << py.output;

  const auto m = read_json(dir.path() / "eval/metrics.json");
  std::printf("eval on 8 good + 10 defect tiles: image AUROC %.4f, pixel AUROC %.4f, AUPRO %.4f\n",
              m["image_auroc"].get<double>(), m["pixel"]["auroc"].get<double>(), m["pixel"]["aupro"].get<double>());
  EXPECT_EQ(m["images"]["good"], good);
  EXPECT_EQ(m["images"]["defect"], defects);
  EXPECT_NEAR(m["image_auroc"].get<double>(), image_auroc, 1e-9);
  EXPECT_NEAR(m["image_f1_max"]["f1"].get<double>(), image_f1, 1e-9);
  EXPECT_NEAR(m["threshold"]["false_alarm_rate"].get<double>(), double(false_alarms) / good, 1e-12);
  EXPECT_NEAR(m["threshold"]["detection_rate"].get<double>(), double(detected) / defects, 1e-12);
  EXPECT_EQ(m["pixel"]["regions"].get<int>(), regions);
  EXPECT_NEAR(m["pixel"]["auroc"].get<double>(), pixel_auroc, 1e-6);
  EXPECT_NEAR(m["pixel"]["f1_max"]["f1"].get<double>(), pixel_f1, 1e-6);
  EXPECT_NEAR(m["pixel"]["aupro"].get<double>(), aupro, 1e-6);
  EXPECT_GT(m["image_auroc"].get<double>(), 0.5);  // a working model, not chance

  // --write-threshold f1 stores the F1-max threshold; predict then flags with it.
  r = run("export --model " + model.string() + " --model-api --format ir");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string bin_before = read_file(model / "tile.bin");
  const onnx::ModelProto onnx_before = read_onnx(model / "tile.onnx");
  r = run("eval --model " + model.string() + " --data-dir " + data.string() + " --output " +
          (dir.path() / "eval2").string() + " --quiet --write-threshold f1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // ... and in the exported files' model_info (what Model API apps read); graph and weights unchanged.
  {
    const NormStats stored = read_norm_stats(model / "norm_stats.txt");
    char image[40], pixel[40];
    std::snprintf(image, sizeof image, "%.9g", *stored.image_threshold);
    std::snprintf(pixel, sizeof pixel, "%.9g", *stored.pixel_threshold);
    const onnx::ModelProto onnx_after = read_onnx(model / "tile.onnx");
    std::map<std::string, std::string> props;
    for (const auto& p : onnx_after.metadata_props()) props[p.key()] = p.value();
    EXPECT_EQ(props["model_info image_threshold"], image);
    EXPECT_EQ(props["model_info pixel_threshold"], pixel);
    EXPECT_EQ(onnx_after.graph().SerializeAsString(), onnx_before.graph().SerializeAsString());
    EXPECT_EQ(onnx_after.metadata_props_size(), onnx_before.metadata_props_size());
    pugi::xml_document ir;
    ASSERT_TRUE(ir.load_file((model / "tile.xml").c_str()));
    const auto info = ir.child("net").child("rt_info").child("model_info");
    EXPECT_STREQ(info.child("image_threshold").attribute("value").value(), image);
    EXPECT_STREQ(info.child("pixel_threshold").attribute("value").value(), pixel);
    EXPECT_EQ(read_file(model / "tile.bin"), bin_before);
    EXPECT_TRUE(ir.child("net").child("layers")) << "the IR lost its topology";
    // The Model API variant scores images by the map maximum: its image threshold is the pixel threshold.
    pugi::xml_document api;
    ASSERT_TRUE(api.load_file((model / "tile_model_api.xml").c_str()));
    const auto api_info = api.child("net").child("rt_info").child("model_info");
    EXPECT_STREQ(api_info.child("image_threshold").attribute("value").value(), pixel);
    EXPECT_STREQ(api_info.child("pixel_threshold").attribute("value").value(), pixel);
    // ... and SHA256SUMS follows the rewritten files.
    const auto sums = run_shell("cd " + model.string() + " && sha256sum --check --strict --quiet SHA256SUMS");
    EXPECT_EQ(sums.exit_code, 0) << sums.output;
  }
  const double f1_threshold = m["image_f1_max"]["threshold"].get<double>();
  EXPECT_TRUE(contains(read_file(model / "norm_stats.txt"), "image_threshold=")) << read_file(model / "norm_stats.txt");
  r = run("predict --model " + model.string() + " --input " + (data / "test").string() + " --output " +
          (dir.path() / "pred2").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const auto& entry : read_json(dir.path() / "pred2/results.json"))
    EXPECT_EQ(entry["anomalous"].get<bool>(), entry["score"].get<double>() > f1_threshold) << entry.dump();

  // --write-threshold fpr:0.05 with masks also stores the pixel threshold: at most 5% of the
  // defect-free pixels (from predict's maps and the masks) above it, and no lower score level would do.
  r = run("eval --model " + model.string() + " --data-dir " + data.string() + " --output " +
          (dir.path() / "eval3").string() + " --quiet --write-threshold fpr:0.05");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string stats = read_file(model / "norm_stats.txt");
  ASSERT_TRUE(contains(stats, "pixel_threshold=")) << stats;
  const double pixel_threshold = std::stod(stats.substr(stats.find("pixel_threshold=") + 16));
  std::ifstream score_file(ref / "scores.f32", std::ios::binary), label_file(ref / "labels.u8", std::ios::binary);
  std::vector<float> pixel_scores(fs::file_size(ref / "scores.f32") / 4);
  std::vector<uint8_t> pixel_labels(fs::file_size(ref / "labels.u8"));
  score_file.read(reinterpret_cast<char*>(pixel_scores.data()), static_cast<std::streamsize>(pixel_scores.size() * 4));
  label_file.read(reinterpret_cast<char*>(pixel_labels.data()), static_cast<std::streamsize>(pixel_labels.size()));
  ASSERT_EQ(pixel_scores.size(), pixel_labels.size());
  double below = -1e300;  // the highest score level under the threshold
  long long normal = 0, above = 0, at_or_above_below = 0;
  for (size_t i = 0; i < pixel_scores.size(); ++i)
    if (pixel_scores[i] < pixel_threshold) below = std::max(below, double(pixel_scores[i]));
  for (size_t i = 0; i < pixel_scores.size(); ++i) {
    if (pixel_labels[i]) continue;
    ++normal;
    above += pixel_scores[i] > pixel_threshold;
    at_or_above_below += pixel_scores[i] >= below;
  }
  EXPECT_LE(double(above) / normal, 0.05);
  EXPECT_GT(double(at_or_above_below) / normal, 0.05);
}

TEST(EvalCli, PlainFolderWithoutMasksSkipsPixelMetricsAndBadInputFails) {
  TempDir dir;
  // Bad input first: no model folder, no labelled folders.
  fs::create_directories(dir.path() / "flat");
  cv::imwrite((dir.path() / "flat/a.png").string(), cv::Mat(40, 40, CV_8UC3, cv::Scalar(1, 2, 3)));
  auto r = run("eval --model " + (dir.path() / "nomodel").string() + " --data-dir " + (dir.path() / "flat").string() +
               " --output " + (dir.path() / "out").string());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(contains(r.output, "has no label")) << r.output;
  EXPECT_FALSE(fs::exists(dir.path() / "out"));
  r = run("eval --model x --data-dir " + (dir.path() / "flat").string() + " --write-threshold best");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(contains(r.output, "--write-threshold 'best'")) << r.output;

  // A plain folder of labelled sub-folders (the demo's test/ without ground_truth/).
  r = run("make-demo-data --output " + (dir.path() / "data").string() + " --train-images 8 --size 80");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run("train --data-dir " + (dir.path() / "data").string() + " --output " + (dir.path() / "models").string() +
          " --pattern-name wire --image-size 64 64 --coreset-ratio 0.5 --quiet --backbone resnet18 --weights random:1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run("eval --model " + (dir.path() / "models/wire").string() + " --data-dir " +
          (dir.path() / "data/test").string() + " --output " + (dir.path() / "out").string() + " --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "pixel metrics skipped")) << r.output;
  const auto m = read_json(dir.path() / "out/metrics.json");
  EXPECT_TRUE(m["pixel"].is_null());
  EXPECT_GT(m["images"]["defect"].get<int>(), 0);
  EXPECT_TRUE(contains(read_file(dir.path() / "out/report.md"), "pixel metrics skipped"));

  // --write-threshold fpr:0: above every good test image; the original keys stay as they were.
  const fs::path model = dir.path() / "models/wire";
  const std::string before = read_file(model / "norm_stats.txt");
  r = run("eval --model " + model.string() + " --data-dir " + (dir.path() / "data/test").string() + " --output " +
          (dir.path() / "out2").string() + " --quiet --write-threshold fpr:0");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string after = read_file(model / "norm_stats.txt");
  EXPECT_EQ(after.substr(0, after.find("image_threshold=")), before.substr(0, before.find("image_threshold=")));
  const double stored = std::stod(after.substr(after.find("image_threshold=") + 16));
  double highest_good = -1e300, highest = -1e300;
  const auto metrics = read_json(dir.path() / "out2/metrics.json");  // kept: the loop walks into it
  for (const auto& image : metrics["image_scores"]) {
    highest = std::max(highest, image["score"].get<double>());
    if (image["category"] == "good") highest_good = std::max(highest_good, image["score"].get<double>());
  }
  EXPECT_GT(stored, highest_good);
  EXPECT_LT(stored, highest);  // the lowest such threshold, not "flag nothing"
  EXPECT_TRUE(contains(read_file(model / "config.yaml"), "method: eval fpr:0")) << read_file(model / "config.yaml");
}

}  // namespace
}  // namespace patchcore::testing
