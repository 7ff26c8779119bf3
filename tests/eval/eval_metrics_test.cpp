// The eval metrics against independent references: scikit-learn (called through
// python3) for AUROC and F1-max on random and tied scores, hand-computed curves for
// AUPRO and the threshold rules.
#include <opencv2/core.hpp>

#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>

#include "eval/curves.h"
#include "eval/pro.h"
#include "eval/thresholds.h"
#include "test_support.h"

namespace patchcore::eval {
namespace {

const std::string& sklearn_python() {
  static const std::string python = testing::python_with("sklearn");
  return python;
}

#define REQUIRE_SKLEARN()                                                                              \
  do {                                                                                                 \
    if (sklearn_python().empty())                                                                      \
      GTEST_SKIP() << "skipped: python3 with scikit-learn is needed as the reference (Debian package " \
                      "python3-sklearn, installed by scripts/install-deps.sh)";                        \
  } while (0)

struct SklearnResult {
  double auroc = 0, f1 = 0, threshold = 0;
};

// roc_auc_score and the F1-max of precision_recall_curve (first argmax, as anomalib).
SklearnResult sklearn_reference(const std::vector<float>& scores, const std::vector<uint8_t>& labels) {
  testing::TempDir dir;
  {
    std::ofstream out(dir.path() / "data.txt");
    out.precision(9);
    for (size_t i = 0; i < scores.size(); ++i) out << scores[i] << " " << int(labels[i]) << "\n";
  }
  const std::string script =
      "import sys, numpy as np\n"
      "from sklearn.metrics import roc_auc_score, precision_recall_curve\n"
      "d = np.loadtxt(sys.argv[1], dtype=np.float64)\n"
      "s = d[:, 0].astype(np.float32); y = d[:, 1].astype(int)\n"
      "p, r, t = precision_recall_curve(y, s)\n"
      "f1 = 2 * p * r / np.maximum(p + r, 1e-300)\n"
      "i = int(np.argmax(f1[:-1]))\n"
      "print(repr(roc_auc_score(y, s)), repr(f1[i]), repr(float(t[i])))\n";
  { std::ofstream(dir.path() / "ref.py") << script; }
  const std::string command = sklearn_python() + " " + (dir.path() / "ref.py").string() + " " + (dir.path() / "data.txt").string();
  FILE* pipe = popen(command.c_str(), "r");
  SklearnResult r;
  const int read = std::fscanf(pipe, "%lf %lf %lf", &r.auroc, &r.f1, &r.threshold);
  EXPECT_EQ(pclose(pipe), 0);
  EXPECT_EQ(read, 3) << "the scikit-learn reference script failed";
  return r;
}

void expect_matches_sklearn(const std::vector<float>& scores, const std::vector<uint8_t>& labels) {
  const SklearnResult ref = sklearn_reference(scores, labels);
  const RankedCounts counts = rank_counts(scores, labels);
  EXPECT_NEAR(roc_auc(counts), ref.auroc, 1e-12);
  const F1Max f1 = f1_max(counts);
  EXPECT_NEAR(f1.f1, ref.f1, 1e-12);
  // Where the best F1 is reached at one threshold only, ours flags the same samples
  // with "score > threshold" as sklearn's "score >= t".
  size_t flagged_differently = 0;
  for (size_t i = 0; i < scores.size(); ++i) {
    flagged_differently += (scores[i] > f1.threshold) != (scores[i] >= static_cast<float>(ref.threshold));
  }
  EXPECT_EQ(flagged_differently, 0u) << "F1-max threshold " << f1.threshold << " vs sklearn " << ref.threshold;
}

TEST(EvalMetrics, AurocAndF1MatchScikitLearnOnRandomScores) {
  REQUIRE_SKLEARN();
  std::mt19937 rng(7);
  std::normal_distribution<float> good(0.f, 1.f), bad(1.2f, 1.5f);
  std::vector<float> scores;
  std::vector<uint8_t> labels;
  for (int i = 0; i < 400; ++i) {
    const bool defect = i % 3 == 0;
    scores.push_back(defect ? bad(rng) : good(rng));
    labels.push_back(defect);
  }
  expect_matches_sklearn(scores, labels);
}

TEST(EvalMetrics, AurocAndF1MatchScikitLearnOnTiedScores) {
  REQUIRE_SKLEARN();
  // Scores from 6 values only: every threshold is a run of ties across both classes.
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> level(0, 5);
  std::bernoulli_distribution defect(0.4);
  std::vector<float> scores;
  std::vector<uint8_t> labels;
  for (int i = 0; i < 300; ++i) {
    const bool d = defect(rng);
    scores.push_back(0.25f * static_cast<float>(std::min(5, level(rng) + (d ? 2 : 0))));
    labels.push_back(d);
  }
  expect_matches_sklearn(scores, labels);
}

TEST(EvalMetrics, HandComputedAurocWithTies) {
  // good 1, 2, 3; defect 3, 4: defect 4 beats all 3 goods, defect 3 beats 2 and ties 1.
  const RankedCounts c = rank_counts({1, 2, 3, 3, 4}, {0, 0, 0, 1, 1});
  EXPECT_DOUBLE_EQ(roc_auc(c), (3 + 2.5) / 6.0);
  EXPECT_TRUE(std::isnan(roc_auc(rank_counts({1, 2}, {0, 0}))));
}

// Two images: image 1 (2x5) has region A = {(0,0),(1,1)} (one region under
// 8-connectivity) and region B = {(1,4)}; image 2 (1x3) is good. 10 defect-free pixels.
struct ProCase {
  std::vector<float> scores;
  std::vector<uint8_t> labels;
  std::vector<float> weights;
  int regions = 0;
};

ProCase pro_case() {
  cv::Mat mask1 = cv::Mat::zeros(2, 5, CV_8U), mask2 = cv::Mat::zeros(1, 3, CV_8U);
  mask1.at<uint8_t>(0, 0) = mask1.at<uint8_t>(1, 1) = mask1.at<uint8_t>(1, 4) = 255;
  // B 10, A 8 and 0.5; defect-free 9, 7, 6, ... (image 2 holds 9, 1.2, 1.1)
  const float s1[] = {8, 7, 6, 5, 4, 3, 0.5f, 2, 1.5f, 10};
  const float s2[] = {9, 1.2f, 1.1f};
  ProCase c;
  for (const auto& [mask, s] : {std::pair{mask1, s1}, std::pair{mask2, s2}}) {
    const cv::Mat w = region_weights(mask, c.regions);
    for (int i = 0; i < mask.rows * mask.cols; ++i) {
      c.scores.push_back(s[i]);
      c.labels.push_back(mask.at<uint8_t>(i / mask.cols, i % mask.cols) != 0);
      c.weights.push_back(w.at<float>(i / mask.cols, i % mask.cols));
    }
  }
  return c;
}

TEST(EvalMetrics, AuproMatchesTheHandComputedCurve) {
  const ProCase c = pro_case();
  ASSERT_EQ(c.regions, 2);
  // PRO curve: (0, 1/2) B found; (0.1, 1/2); (0.1, 3/4) half of A; (0.2, 3/4); (0.3, 3/4).
  // Area to 0.3: 0.1 * 0.5 + 0.2 * 0.75 = 0.2 -> normalised 2/3.
  EXPECT_NEAR(aupro(c.scores, c.labels, c.weights, c.regions, 0.3), 2.0 / 3.0, 1e-9);
  // Limit between grid points: 0.1 * 0.5 + 0.15 * 0.75 = 0.1625 over 0.25.
  EXPECT_NEAR(aupro(c.scores, c.labels, c.weights, c.regions, 0.25), 0.1625 / 0.25, 1e-9);
  // Whole curve: 0.75 up to FPR 1, where the last pixel of A comes in: 0.05 + 0.9 * 0.75.
  EXPECT_NEAR(aupro(c.scores, c.labels, c.weights, c.regions, 1.0), 0.725, 1e-9);
}

TEST(EvalMetrics, RegionWeightsAreOneOverComponentArea) {
  cv::Mat mask = cv::Mat::zeros(4, 4, CV_8U);
  mask(cv::Rect(0, 0, 2, 2)).setTo(255);  // area 4
  mask.at<uint8_t>(3, 3) = 255;           // area 1, not touching
  int regions = 0;
  const cv::Mat w = region_weights(mask, regions);
  EXPECT_EQ(regions, 2);
  EXPECT_FLOAT_EQ(w.at<float>(1, 1), 0.25f);
  EXPECT_FLOAT_EQ(w.at<float>(3, 3), 1.0f);
  EXPECT_FLOAT_EQ(w.at<float>(2, 2), 0.0f);
}

TEST(EvalThresholds, FprRuleAllowsAtMostThatShareOfGoodImages) {
  // 10 good (1..10) and 2 defects (20, 30).
  std::vector<float> s = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20, 30};
  std::vector<uint8_t> l(10, 0);
  l.resize(12, 1);
  const RankedCounts c = rank_counts(s, l);
  EXPECT_DOUBLE_EQ(threshold_at_fpr(c, 0.0), 15.0);   // between 10 and 20: no good flagged
  EXPECT_DOUBLE_EQ(threshold_at_fpr(c, 0.1), 9.5);    // one good (10) may be flagged
  EXPECT_DOUBLE_EQ(threshold_at_fpr(c, 0.15), 9.5);
  EXPECT_DOUBLE_EQ(threshold_at_fpr(c, 0.2), 8.5);
  EXPECT_EQ(parse_threshold_rule("fpr:0.01").max_fpr, 0.01);
  EXPECT_EQ(parse_threshold_rule("f1").kind, ThresholdRule::Kind::kF1);
  const std::string message = testing::user_error_message([] { parse_threshold_rule("fpr=0.01"); });
  EXPECT_NE(message.find("--write-threshold 'fpr=0.01'"), std::string::npos) << message;
  EXPECT_NE(message.find("fpr:X"), std::string::npos);
}

TEST(EvalThresholds, F1ThresholdSeparatesTheBestSplit) {
  // Perfectly separable: F1 1 between the highest good (3) and the lowest defect (5).
  const F1Max f = f1_max(rank_counts({1, 2, 3, 5, 6}, {0, 0, 0, 1, 1}));
  EXPECT_DOUBLE_EQ(f.f1, 1.0);
  EXPECT_DOUBLE_EQ(f.threshold, 4.0);
  EXPECT_FLOAT_EQ(f.lowest_flagged_score, 5.0f);
}

}  // namespace
}  // namespace patchcore::eval
