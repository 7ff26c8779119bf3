// Tests of image discovery in data folders.
#include "data/dataset.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "io/error.h"
#include "test_support.h"

namespace patchcore {
namespace {

using ::patchcore::testing::TempDir;
namespace fs = std::filesystem;

void touch(const fs::path& path) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << "x";
}

using ::patchcore::testing::user_error_message;

TEST(Dataset, IsImageFileAnyCase) {
  EXPECT_TRUE(is_image_file("a.png"));
  EXPECT_TRUE(is_image_file("a.PNG"));
  EXPECT_TRUE(is_image_file("dir/b.Jpg"));
  EXPECT_TRUE(is_image_file("c.JPEG"));
  EXPECT_TRUE(is_image_file("d.bmp"));
  EXPECT_TRUE(is_image_file("d.BmP"));
  EXPECT_FALSE(is_image_file("e.txt"));
  EXPECT_FALSE(is_image_file("f.tiff"));
  EXPECT_FALSE(is_image_file("png"));
  EXPECT_FALSE(is_image_file("g.png.txt"));
  EXPECT_FALSE(is_image_file("noext"));
}

TEST(Dataset, ImagesDirectlyInFolderSortedNonImagesIgnored) {
  TempDir dir;
  touch(dir.path() / "b.png");
  touch(dir.path() / "a.JPG");
  touch(dir.path() / "c.Jpeg");
  touch(dir.path() / "d.bmp");
  touch(dir.path() / "notes.txt");
  touch(dir.path() / "README");
  touch(dir.path() / "good" / "ignored.png");  // direct images take precedence
  fs::create_directories(dir.path() / "folder.png");  // a folder named like an image
  const auto images = find_training_images(dir.path());
  ASSERT_EQ(images.size(), 4u);
  EXPECT_EQ(images[0].filename(), "a.JPG");
  EXPECT_EQ(images[1].filename(), "b.png");
  EXPECT_EQ(images[2].filename(), "c.Jpeg");
  EXPECT_EQ(images[3].filename(), "d.bmp");
}

TEST(Dataset, GoodSubfolderLayout) {
  TempDir dir;
  touch(dir.path() / "good" / "2.png");
  touch(dir.path() / "good" / "1.png");
  touch(dir.path() / "info.json");
  touch(dir.path() / "train" / "good" / "other.png");
  const auto images = find_training_images(dir.path());
  ASSERT_EQ(images.size(), 2u);
  EXPECT_EQ(images[0], dir.path() / "good" / "1.png");
  EXPECT_EQ(images[1], dir.path() / "good" / "2.png");
}

TEST(Dataset, MvtecTrainGoodLayout) {
  TempDir dir;
  touch(dir.path() / "train" / "good" / "000.png");
  touch(dir.path() / "train" / "good" / "001.PNG");
  touch(dir.path() / "test" / "crack" / "000.png");
  touch(dir.path() / "license.txt");
  const auto images = find_training_images(dir.path());
  ASSERT_EQ(images.size(), 2u);
  EXPECT_EQ(images[0], dir.path() / "train" / "good" / "000.png");
  EXPECT_EQ(images[1], dir.path() / "train" / "good" / "001.PNG");
}

TEST(Dataset, MissingFolderNamesIt) {
  TempDir dir;
  const auto missing = dir.path() / "does_not_exist";
  const std::string msg = user_error_message([&] { find_training_images(missing); });
  EXPECT_NE(msg.find(missing.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("not found"), std::string::npos) << msg;
}

TEST(Dataset, EmptyFolderSaysWhereItLookedAndWhichExtensions) {
  TempDir dir;
  touch(dir.path() / "notes.txt");
  touch(dir.path() / "good" / "scan.tiff");
  const std::string msg = user_error_message([&] { find_training_images(dir.path()); });
  EXPECT_NE(msg.find(dir.path().string()), std::string::npos) << msg;
  EXPECT_NE(msg.find((dir.path() / "good").string()), std::string::npos) << msg;
  EXPECT_NE(msg.find((dir.path() / "train" / "good").string()), std::string::npos) << msg;
  EXPECT_NE(msg.find(".png"), std::string::npos) << msg;
  EXPECT_NE(msg.find(".jpg"), std::string::npos) << msg;
  EXPECT_NE(msg.find(".jpeg"), std::string::npos) << msg;
  EXPECT_NE(msg.find(".bmp"), std::string::npos) << msg;
}

TEST(Dataset, TrainingPathThatIsAFile) {
  TempDir dir;
  touch(dir.path() / "one.png");
  EXPECT_THROW(find_training_images(dir.path() / "one.png"), UserError);
}

TEST(Dataset, InputImagesSingleFile) {
  TempDir dir;
  touch(dir.path() / "x.JPG");
  const auto images = find_input_images(dir.path() / "x.JPG");
  ASSERT_EQ(images.size(), 1u);
  EXPECT_EQ(images[0], dir.path() / "x.JPG");
}

TEST(Dataset, InputImagesRecursiveSorted) {
  TempDir dir;
  touch(dir.path() / "test" / "good" / "b.png");
  touch(dir.path() / "test" / "good" / "a.png");
  touch(dir.path() / "test" / "crack" / "z.bmp");
  touch(dir.path() / "test" / "crack" / "deep" / "y.jpeg");
  touch(dir.path() / "test" / "crack" / "mask.txt");
  touch(dir.path() / "top.Png");
  const auto images = find_input_images(dir.path());
  ASSERT_EQ(images.size(), 5u);
  EXPECT_EQ(images[0], dir.path() / "test" / "crack" / "deep" / "y.jpeg");
  EXPECT_EQ(images[1], dir.path() / "test" / "crack" / "z.bmp");
  EXPECT_EQ(images[2], dir.path() / "test" / "good" / "a.png");
  EXPECT_EQ(images[3], dir.path() / "test" / "good" / "b.png");
  EXPECT_EQ(images[4], dir.path() / "top.Png");
}

TEST(Dataset, InputImagesErrors) {
  TempDir dir;
  const auto missing = dir.path() / "missing";
  std::string msg = user_error_message([&] { find_input_images(missing); });
  EXPECT_NE(msg.find(missing.string()), std::string::npos) << msg;

  fs::create_directories(dir.path() / "empty" / "sub");
  touch(dir.path() / "empty" / "sub" / "readme.md");
  msg = user_error_message([&] { find_input_images(dir.path() / "empty"); });
  EXPECT_NE(msg.find((dir.path() / "empty").string()), std::string::npos) << msg;
  EXPECT_NE(msg.find(".png"), std::string::npos) << msg;

  touch(dir.path() / "doc.txt");
  msg = user_error_message([&] { find_input_images(dir.path() / "doc.txt"); });
  EXPECT_NE(msg.find("doc.txt"), std::string::npos) << msg;
}

}  // namespace
}  // namespace patchcore
