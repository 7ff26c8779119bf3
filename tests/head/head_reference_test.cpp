// Parity of the PatchCore head with the independent reference cases in
// ../shared/reference (anomalib's math run in PyTorch).
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "head/coreset.h"
#include "head/k_center_greedy.h"
#include "head/embedding.h"
#include "head/scorer.h"
#include "io/safetensors.h"
#include "search/exact_index.h"
#include "search/pruned_index.h"
#include "search/faiss_index.h"
#include "test_support.h"

namespace patchcore {
namespace {

using testing::relative_error;
using testing::shared_dir;

// Every exact search backend: the native kernel at each SIMD level this CPU runs, the
// pruned native search (forced on these small banks: 3 clusters), and FAISS Flat. Each
// must reproduce the reference.
enum class Kind { kNative, kPruned, kFaiss };
struct ExactBackend {
  std::string name;
  std::optional<search::SimdLevel> simd;  // forced while the backend runs (native only)
  Kind kind = Kind::kNative;
};

std::vector<ExactBackend> exact_backends() {
  std::vector<ExactBackend> out;
  for (auto level : {search::SimdLevel::kScalar, search::SimdLevel::kAvx2, search::SimdLevel::kAvx512})
    if (static_cast<int>(level) <= static_cast<int>(search::detected_simd()))
      out.push_back({"native-" + search::to_string(level), level, Kind::kNative});
  out.push_back({"native-pruned", std::nullopt, Kind::kPruned});
  out.push_back({"faiss-flat", std::nullopt, Kind::kFaiss});
  return out;
}

// Runs f(index) with the backend's index over bank, restoring the SIMD level after.
template <typename F>
void with_backend(const ExactBackend& b, const torch::Tensor& bank, F f) {
  search::force_simd(b.simd);
  std::unique_ptr<search::Index> index;
  if (b.kind == Kind::kFaiss) {
    search::SearchOptions options;
    options.backend = search::Backend::kFaiss;
    index = std::make_unique<search::FaissIndex>(bank, options);
  } else if (b.kind == Kind::kPruned) {
    index = std::make_unique<search::PrunedIndex>(bank, 3);
  } else {
    index = std::make_unique<search::ExactIndex>(bank);
  }
  f(*index);
  search::force_simd(std::nullopt);
}

class HeadReference : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    PATCHCORE_REQUIRE_SHARED("reference/" + GetParam() + ".safetensors");
    ref_ = read_safetensors(shared_dir() / "reference" / (GetParam() + ".safetensors"));
  }
  const torch::Tensor& t(const std::string& name) const { return ref_.tensors.at(name); }

  // Test-layer maps in the order the metadata's "layers" list gives them.
  std::vector<torch::Tensor> layer_maps() const {
    const std::string layers = ref_.metadata.at("layers");  // e.g. ["layer2", "layer3"]
    std::vector<torch::Tensor> maps;
    size_t pos = 0;
    while ((pos = layers.find('"', pos)) != std::string::npos) {
      const size_t end = layers.find('"', pos + 1);
      maps.push_back(t("test_layer." + layers.substr(pos + 1, end - pos - 1)));
      pos = end + 1;
    }
    return maps;
  }
  torch::Tensor test_patches() const {
    const auto& e = t("test_embedding");
    return embedding_to_patches(e).view({e.size(0), e.size(2) * e.size(3), e.size(1)});
  }

  SafetensorsFile ref_;
};

TEST_P(HeadReference, EmbeddingMatches) {
  const auto maps = layer_maps();
  ASSERT_EQ(maps.size(), 2u);
  const auto embedding = build_embedding(maps);
  ASSERT_EQ(embedding.sizes(), t("test_embedding").sizes());
  const double rel = relative_error(embedding, t("test_embedding"));
  std::printf("[%s] embedding rel error %.3g\n", GetParam().c_str(), rel);
  EXPECT_LT(rel, 1e-4);
}

TEST_P(HeadReference, EmbeddingToPatchesLayout) {
  const auto& e = t("test_embedding");
  const auto rows = embedding_to_patches(e);
  ASSERT_EQ(rows.sizes(), (std::vector<int64_t>{e.size(0) * e.size(2) * e.size(3), e.size(1)}));
  // Row = image-major, then y, then x.
  const int64_t b = 2, y = 5, x = 17;
  EXPECT_TRUE(rows[(b * e.size(2) + y) * e.size(3) + x].equal(e.index({b, at::indexing::Slice(), y, x})));
}

TEST_P(HeadReference, PatchScoresAndNearest) {
  const auto patches = test_patches();
  for (const auto& backend : exact_backends()) with_backend(backend, t("memory_bank"), [&](const search::Index& index) {
  SCOPED_TRACE(backend.name);
  const auto scores = nearest_patch_scores(patches, index);
  const auto& ref_scores = t("patch_scores");
  const auto ours = scores.distances.reshape(-1).to(at::kDouble);
  const auto theirs = ref_scores.reshape(-1).to(at::kDouble);
  const double rel = relative_error(ours, theirs);
  const auto& ref_nearest = t("nearest_index");
  const double same = scores.nearest.eq(ref_nearest).to(at::kDouble).mean().item<double>();
  // anomalib's |x|^2 - 2x.y + |y|^2 in float32 cancels badly when |x|^2 >> d^2 (resnet18:
  // |x|^2 ~ 1800, d^2 ~ 1), so two correct float32 evaluations whose matrix products sum in a
  // different order (another BLAS) differ by ~eps32 * (|x|^2 + |y|^2) in d^2. The reference
  // itself is up to ~1.0e-4 (max-abs over max-abs) away from the exact double distance on
  // resnet18, so a flat 1e-4 bar cannot hold there. Per patch, require the float32 rounding
  // bound; overall require the relative error to stay within a few times that noise.
  const auto x = patches.reshape({-1, patches.size(2)}).to(at::kDouble);
  const auto y = t("memory_bank").to(at::kDouble).index_select(0, ref_nearest.reshape(-1));
  const auto magnitude = x.pow(2).sum(1) + y.pow(2).sum(1);
  const auto sq_err = (ours.pow(2) - theirs.pow(2)).abs();
  const double eps32 = 1.1920929e-7;
  const double worst_units = (sq_err / (eps32 * magnitude)).max().item<double>();
  std::printf("[%s, %s] patch score rel error %.3g, worst |d^2 diff| = %.2f eps32*(|x|^2+|y|^2), "
              "nearest index agreement %.5f\n",
              GetParam().c_str(), backend.name.c_str(), rel, worst_units, same);
  EXPECT_LT(worst_units, 16.0);
  EXPECT_LT(rel, 5e-4);
  EXPECT_GE(same, 0.999);
  const auto worst = ref_scores.view({ref_scores.size(0), -1}).argmax(1);
  for (int64_t b = 0; b < worst.size(0); ++b) {
    const int64_t p = worst[b].item<int64_t>();
    EXPECT_EQ(scores.nearest[b][p].item<int64_t>(), ref_nearest[b][p].item<int64_t>())
        << "image " << b << " worst patch " << p;
  }
  });
}

TEST_P(HeadReference, ImageScores) {
  const auto patches = test_patches();
  const auto& bank = t("memory_bank");
  const int64_t k = std::stoll(ref_.metadata.at("num_neighbors"));
  ASSERT_EQ(k, 9);
  for (const auto& backend : exact_backends()) with_backend(backend, bank, [&](const search::Index& index) {
    SCOPED_TRACE(backend.name);
    const auto scores = nearest_patch_scores(patches, index);
    const auto support = support_table(index, bank, k);
    const auto image = image_scores(scores, patches, bank, support, k);
    const double rel = relative_error(image, t("image_scores"));
    std::printf("[%s, %s] image score rel error %.3g\n", GetParam().c_str(), backend.name.c_str(), rel);
    EXPECT_LT(rel, 1e-4);
    // k == 1 is the plain maximum patch score.
    EXPECT_TRUE(image_scores(scores, patches, bank, {}, 1).equal(std::get<0>(scores.distances.max(1))));
  });
}

TEST_P(HeadReference, AnomalyMaps) {
  const auto maps = anomaly_maps(t("patch_scores"), 224, 224);
  ASSERT_EQ(maps.sizes(), t("anomaly_maps").sizes());
  const double rel = relative_error(maps, t("anomaly_maps"));
  std::printf("[%s] anomaly map rel error %.3g\n", GetParam().c_str(), rel);
  EXPECT_LT(rel, 1e-4);
}

TEST_P(HeadReference, CoresetRadiusNearReference) {
  const auto& bank = t("memory_bank");
  const double reference = std::stod(ref_.metadata.at("reference_coreset_radius_at_0.1"));
  const int64_t n = bank.size(0);
  const int64_t size = coreset_size(n, 0.1);
  EXPECT_EQ(size, n / 10);
  // The reference radius comes from one random start and projection; ours vary with the seed
  // (resnet18: 0.84 .. 1.01 of the reference over seeds 0..5). Require each run to be sane and
  // the mean over three seeds to be within 10% of the reference.
  const int64_t jl_dim = johnson_lindenstrauss_min_dim(n);
  EXPECT_EQ(jl_dim, 215);  // 4 ln(6272) / 0.162 = 215.9
  double sum = 0;
  for (uint64_t seed = 0; seed < 3; ++seed) {
    SparseRandomProjection projection(bank.size(1), jl_dim, seed);
    int64_t last_done = -1;
    const auto selected =
        k_center_greedy(projection.transform(bank), size, seed, [&](int64_t done, int64_t total) {
          EXPECT_EQ(total, size);
          EXPECT_GT(done, last_done);
          last_done = done;
        });
    EXPECT_EQ(last_done, size);
    ASSERT_EQ(static_cast<int64_t>(selected.size()), size);
    const double ratio = coreset_radius(bank, selected) / reference;
    std::printf("[%s] seed %d: coreset radius at 0.1 = %.4f x reference (%.5g)\n",
                GetParam().c_str(), int(seed), ratio, reference);
    EXPECT_GT(ratio, 0.8);
    EXPECT_LT(ratio, 1.1);
    sum += ratio;
  }
  std::printf("[%s] mean coreset radius ratio %.4f\n", GetParam().c_str(), sum / 3);
  EXPECT_NEAR(sum / 3, 1.0, 0.10);
}

INSTANTIATE_TEST_SUITE_P(Cases, HeadReference,
                         ::testing::Values("resnet18_magnetic", "mobilenet_magnetic"));

}  // namespace
}  // namespace patchcore
