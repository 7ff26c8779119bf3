#include "io/safetensors.h"

#include <fstream>

#include "io/error.h"
#include "test_support.h"

namespace patchcore {
namespace {

using testing::TempDir;

TEST(Safetensors, RoundTripKeepsValuesDtypesAndMetadata) {
  TempDir dir;
  SafetensorsFile file;
  file.tensors["a"] = torch::arange(12, torch::kFloat).reshape({3, 4});
  file.tensors["b"] = torch::tensor({1, -2, 3}, torch::kLong);
  file.tensors["c"] = torch::rand({2, 2}).to(torch::kHalf);
  file.metadata["backbone"] = "resnet18";
  write_safetensors(dir.path() / "x.safetensors", file);

  auto back = read_safetensors(dir.path() / "x.safetensors");
  ASSERT_EQ(back.tensors.size(), 3u);
  EXPECT_TRUE(torch::equal(back.tensors["a"], file.tensors["a"]));
  EXPECT_TRUE(torch::equal(back.tensors["b"], file.tensors["b"]));
  EXPECT_TRUE(torch::equal(back.tensors["c"], file.tensors["c"]));
  EXPECT_EQ(back.metadata["backbone"], "resnet18");
}

TEST(Safetensors, ReadsFilesWrittenByThePythonLibrary) {
  PATCHCORE_REQUIRE_SHARED("reference");
  auto ref = read_safetensors(testing::shared_dir() / "reference/resnet18_magnetic.safetensors");
  EXPECT_EQ(ref.metadata["backbone"], "resnet18");
  EXPECT_EQ(ref.tensors["memory_bank"].sizes(), (std::vector<int64_t>{6272, 384}));
  EXPECT_EQ(ref.tensors["nearest_index"].scalar_type(), torch::kLong);
  // The stored nearest indices must point into the bank: checks data offsets line up.
  EXPECT_GE(ref.tensors["nearest_index"].min().item<int64_t>(), 0);
  EXPECT_LT(ref.tensors["nearest_index"].max().item<int64_t>(), 6272);
}

TEST(Safetensors, TruncatedFileIsAClearError) {
  TempDir dir;
  SafetensorsFile file;
  file.tensors["a"] = torch::ones({1000});
  write_safetensors(dir.path() / "x.safetensors", file);
  std::filesystem::resize_file(dir.path() / "x.safetensors", 2000);
  const auto message = testing::user_error_message([&] { read_safetensors(dir.path() / "x.safetensors"); });
  EXPECT_NE(message.find("x.safetensors"), std::string::npos) << message;
}

TEST(Safetensors, MissingFileNamesIt) {
  EXPECT_THROW(read_safetensors("/nonexistent/w.safetensors"), UserError);
}

}  // namespace
}  // namespace patchcore
