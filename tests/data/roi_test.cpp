// ROI mode, data layer: template matching finds a part pasted at known random offsets
// (the truth) within 1 px, rejects an image without it, and bad input is a UserError.
#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include <cstdlib>
#include <fstream>
#include <random>

#include "data/dataset.h"
#include "data/preprocess.h"
#include "data/roi.h"
#include "patchcore/roi.h"
#include "roi_scene.h"
#include "test_support.h"

namespace patchcore {
namespace {

namespace fs = std::filesystem;
using roi_testing::make_part;
using roi_testing::scene;
using testing::user_error_message;

const cv::Size kImage(320, 240);
const cv::Point kReference(120, 90);

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

RoiOptions options(double threshold = 0.5, double margin = 0.15, int context = 0) {
  RoiOptions o;
  o.threshold = threshold;
  o.search_margin = margin;
  o.context = context;
  return o;
}

// Offsets up to +-10% of the image size in each direction: the four extreme corners,
// then seeded random ones.
std::vector<cv::Point> offsets(size_t random_count, uint32_t seed) {
  const int dx = kImage.width / 10, dy = kImage.height / 10;
  std::vector<cv::Point> out = {{dx, dy}, {-dx, -dy}, {dx, -dy}, {-dx, dy}, {0, 0}};
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> ux(-dx, dx), uy(-dy, dy);
  for (size_t i = 0; i < random_count; ++i) out.push_back({ux(gen), uy(gen)});
  return out;
}

void expect_locates(const cv::Mat& part, int context) {
  const cv::Mat reference = scene(kImage, part, kReference, 0);
  const cv::Rect rect(kReference, part.size());
  const RoiLocator roi = make_roi_locator(reference, rect, options(0.5, 0.15, context), "reference");
  int image_index = 1;
  for (const cv::Point& offset : offsets(20, 42 + context)) {
    const cv::Point truth = kReference + offset;
    const cv::Mat image = scene(kImage, part, truth, static_cast<uint64_t>(image_index++));
    const RoiMatch m = roi.locate(image);
    EXPECT_TRUE(m.found) << "offset " << offset << " score " << m.score;
    EXPECT_LE(std::abs(m.rect.x - truth.x), 1) << "offset " << offset;
    EXPECT_LE(std::abs(m.rect.y - truth.y), 1) << "offset " << offset;
    EXPECT_EQ(m.rect.size(), part.size());
    EXPECT_EQ(roi.crop(image, m).size(), part.size());
  }
}

TEST(Roi, LocatesAPartPastedAtKnownOffsetsWithin1Px) { expect_locates(make_part({80, 60}), 0); }

TEST(Roi, LocatesWithContextMargin) { expect_locates(make_part({70, 50}, 9), 12); }

TEST(Roi, LocatesARealMagneticTilePastedAtKnownOffsets) {
  PATCHCORE_REQUIRE_SHARED("data/magnetic_tile/train/good");
  const auto tiles = find_input_images(testing::shared_dir() / "data/magnetic_tile/train/good");
  cv::Mat tile = read_image_bgr(tiles.front());
  cv::Mat part;
  cv::resize(tile, part, cv::Size(90, 70), 0, 0, cv::INTER_AREA);
  expect_locates(part, 0);
}

TEST(Roi, RejectsAnImageWithoutThePart) {
  const cv::Mat part = make_part({80, 60});
  const RoiLocator roi = make_roi_locator(scene(kImage, part, kReference, 0), cv::Rect(kReference, part.size()),
                                          options(), "reference");
  for (uint64_t i = 50; i < 55; ++i) {
    const RoiMatch m = roi.locate(roi_testing::background(kImage, i));
    EXPECT_FALSE(m.found) << "background " << i << " matched with score " << m.score;
    EXPECT_LT(m.score, 0.5);
  }
  // A different part is no match either.
  const RoiMatch other = roi.locate(scene(kImage, make_part({80, 60}, 99), kReference, 60));
  EXPECT_FALSE(other.found) << other.score;
}

TEST(Roi, SearchMarginLimitsTheSearch) {
  const cv::Mat part = make_part({60, 40});
  const cv::Point reference(20, 20);
  const RoiLocator narrow = make_roi_locator(scene(kImage, part, reference, 0), cv::Rect(reference, part.size()),
                                             options(0.5, 0.05), "reference");
  // Shifted by 40% of the width: outside a 5% search window, inside a 100% one.
  const cv::Point far = reference + cv::Point(128, 0);
  const cv::Mat image = scene(kImage, part, far, 3);
  EXPECT_FALSE(narrow.locate(image).found);
  const RoiLocator wide = make_roi_locator(scene(kImage, part, reference, 0), cv::Rect(reference, part.size()),
                                           options(0.5, 1.0), "reference");
  const RoiMatch m = wide.locate(image);
  EXPECT_TRUE(m.found);
  EXPECT_EQ(m.rect.tl(), far);
  // The window is clamped to the image and always holds the template.
  const cv::Rect w = narrow.search_window(cv::Size(100, 80));
  EXPECT_EQ(w & cv::Rect(0, 0, 100, 80), w);
  EXPECT_GE(w.width, 60);
  EXPECT_GE(w.height, 40);
}

TEST(Roi, ImagesSmallerThanTheTemplateAreNotFoundAndAreAUserErrorInTraining) {
  const cv::Mat part = make_part({80, 60});
  const RoiLocator roi = make_roi_locator(scene(kImage, part, kReference, 0), cv::Rect(kReference, part.size()),
                                          options(), "reference");
  EXPECT_FALSE(roi.locate(cv::Mat(50, 70, CV_8UC3, cv::Scalar::all(9))).found);
  const auto message = user_error_message([&] { check_image_fits_template(roi, {70, 50}, "tiny.png"); });
  EXPECT_TRUE(contains(message, "tiny.png")) << message;
  EXPECT_TRUE(contains(message, "larger")) << message;
}

TEST(Roi, BadInputIsAUserError) {
  const cv::Mat reference = scene(kImage, make_part({80, 60}), kReference, 0);
  auto rect_error = [&](cv::Rect r) {
    return user_error_message([&] { make_roi_locator(reference, r, options(), "first.png"); });
  };
  EXPECT_TRUE(contains(rect_error({300, 10, 40, 40}), "outside first.png")) << rect_error({300, 10, 40, 40});
  EXPECT_TRUE(contains(rect_error({-1, 10, 40, 40}), "outside"));
  EXPECT_TRUE(contains(rect_error({10, 10, 0, 40}), "zero"));
  // Uniform region: nothing to match.
  cv::Mat flat = reference.clone();
  flat(cv::Rect(0, 0, 50, 50)).setTo(cv::Scalar::all(128));
  EXPECT_TRUE(contains(user_error_message([&] { make_roi_locator(flat, {5, 5, 30, 30}, options(), "f.png"); }),
                       "uniform"));

  for (double t : {-0.1, 1.5}) {
    auto o = options(t);
    EXPECT_TRUE(contains(user_error_message([&] { validate_roi_options(o); }), "--roi-threshold")) << t;
  }
  EXPECT_TRUE(contains(user_error_message([&] { validate_roi_options(options(0.5, 2.0)); }), "--roi-search-margin"));
  EXPECT_TRUE(contains(user_error_message([&] { validate_roi_options(options(0.5, 0.15, -3)); }), "--roi-context"));
  RoiOptions both = options();
  both.interactive = true;
  both.rect = cv::Rect(1, 1, 5, 5);
  EXPECT_TRUE(contains(user_error_message([&] { validate_roi_options(both); }), "not both"));
  RoiOptions zero;
  zero.rect = cv::Rect(1, 1, 0, 5);
  EXPECT_TRUE(contains(user_error_message([&] { validate_roi_options(zero); }), "zero"));
}

TEST(Roi, NoDisplayNamesRoiRect) {
  const char* saved = std::getenv("DISPLAY");
  const std::string saved_value = saved ? saved : "";
  unsetenv("DISPLAY");
  const auto message = user_error_message([] { require_display(); });
  EXPECT_TRUE(contains(message, "--roi-rect")) << message;
  EXPECT_TRUE(contains(message, "DISPLAY")) << message;
  setenv("DISPLAY", ":987", 1);  // no X server there
  const auto dead = user_error_message([] { require_display(); });
  EXPECT_TRUE(contains(dead, "--roi-rect")) << dead;
  if (saved) setenv("DISPLAY", saved_value.c_str(), 1); else unsetenv("DISPLAY");
}

TEST(Roi, SettingsRoundTripThroughTheModelFolderAndTheMetadata) {
  const cv::Mat part = make_part({80, 60});
  const RoiLocator roi = make_roi_locator(scene(kImage, part, kReference, 0), cv::Rect(kReference, part.size()),
                                          options(0.42, 0.2, 6), "ref.png");
  testing::TempDir dir;
  fs::create_directories(dir.path() / "roi");
  std::ofstream(dir.path() / "roi/roi.json") << roi_json(roi);
  ASSERT_TRUE(cv::imwrite((dir.path() / "roi/template.png").string(), roi.template_image()));
  const cv::Mat image = scene(kImage, part, kReference + cv::Point(-17, 11), 8);
  const RoiMatch expected = roi.locate(image);
  for (const RoiLocator& copy : {RoiLocator::load(dir.path()), RoiLocator::from_metadata(roi.to_metadata())}) {
    EXPECT_EQ(copy.settings().rect, roi.settings().rect);
    EXPECT_EQ(copy.settings().template_rect, roi.settings().template_rect);
    EXPECT_EQ(copy.settings().reference_size, kImage);
    EXPECT_EQ(copy.settings().context, 6);
    EXPECT_DOUBLE_EQ(copy.settings().threshold, 0.42);
    EXPECT_DOUBLE_EQ(copy.settings().search_margin, 0.2);
    EXPECT_EQ(cv::norm(copy.template_image(), roi.template_image(), cv::NORM_INF), 0.0);
    const RoiMatch m = copy.locate(image);
    EXPECT_EQ(m.rect, expected.rect);
    EXPECT_DOUBLE_EQ(m.score, expected.score);
  }
  EXPECT_TRUE(RoiLocator::has_roi_metadata(roi.to_metadata()));
  EXPECT_FALSE(RoiLocator::has_roi_metadata({{"patchcore.backbone", "resnet18"}}));
  EXPECT_THROW(RoiLocator::load(dir.path() / "nothing"), std::runtime_error);
}

TEST(Roi, Base64RoundTrip) {
  for (const std::string& s : std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)})
    EXPECT_EQ(RoiLocator::base64_decode(RoiLocator::base64_encode(s)), s);
  EXPECT_EQ(RoiLocator::base64_encode("Man"), "TWFu");
  EXPECT_EQ(RoiLocator::base64_encode("Ma"), "TWE=");
}

TEST(Roi, AspectRatioAdviceSuggestsAMatchingImageSize) {
  // A long strip 448 x 160 (ratio 2.8) squashed into 224 x 224.
  const std::string advice = aspect_ratio_advice({448, 160}, 224, 224);
  EXPECT_TRUE(contains(advice, "--image-size")) << advice;
  const cv::Size s = suggested_image_size({448, 160}, 224, 224);
  EXPECT_EQ(s.width % 16, 0);
  EXPECT_EQ(s.height % 16, 0);
  EXPECT_NEAR(static_cast<double>(s.width) / s.height, 2.8, 0.35);
  EXPECT_NEAR(static_cast<double>(s.width) * s.height / (224.0 * 224.0), 1.0, 0.15);
  EXPECT_TRUE(contains(advice, std::to_string(s.height) + " " + std::to_string(s.width))) << advice;
  // Within 1.5x: no advice; the same strip at a matching size: none either.
  EXPECT_EQ(aspect_ratio_advice({300, 220}, 224, 224), "");
  EXPECT_EQ(aspect_ratio_advice({448, 160}, 160, 448), "");
  EXPECT_NE(aspect_ratio_advice({100, 400}, 224, 224), "");  // tall parts too
}

TEST(Roi, ContactSheetHoldsEveryCrop) {
  std::vector<cv::Mat> crops(11, make_part({80, 60}));
  std::vector<std::string> labels(11, "image.png");
  const cv::Mat sheet = contact_sheet(crops, labels, 48, 4);
  EXPECT_EQ(sheet.type(), CV_8UC3);
  EXPECT_GE(sheet.rows, 3 * 48);  // 11 crops in rows of 4
  EXPECT_GE(sheet.cols, 4 * 64);
}

}  // namespace
}  // namespace patchcore
