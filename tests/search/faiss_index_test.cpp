// FAISS behind search::Index: Flat gives the exact rows; HNSW and IVF at their default
// parameters reach recall@1 >= 0.99 on real features (the shared magnetic-tile
// reference cases: their memory banks searched with their test-image patches).
#include <gtest/gtest.h>

#include "io/safetensors.h"
#include "search/exact_index.h"
#include "search/factory.h"
#include "search/faiss_index.h"
#include "test_support.h"

namespace patchcore::search {
namespace {

using testing::user_error_message;

SearchOptions faiss_options(FaissIndexType type) {
  SearchOptions o;
  o.backend = Backend::kFaiss;
  o.faiss_index = type;
  return o;
}

TEST(FaissIndex, FlatFindsTheSameRowsAsExactSearch) {
  torch::manual_seed(11);
  const auto bank = torch::randn({3000, 48});
  const auto queries = torch::randn({500, 48});
  const FaissIndex flat(bank, faiss_options(FaissIndexType::kFlat));
  const ExactIndex exact(bank);
  EXPECT_TRUE(flat.exact());
  const auto a = nearest(flat, queries), b = nearest(exact, queries);
  EXPECT_TRUE(a.indices.equal(b.indices));
  // Distances are recomputed with anomalib's expression: equal up to summation order.
  EXPECT_LT((a.distances - b.distances).abs().max().item<float>(), 1e-4);
  const auto ka = knn(flat, queries, 9), kb = knn(exact, queries, 9);
  EXPECT_GE(ka.indices.eq(kb.indices).to(torch::kDouble).mean().item<double>(), 0.999);
}

TEST(FaissIndex, ApproximateIndexesNeedNoMoreThanTheirOptions) {
  torch::manual_seed(12);
  const auto bank = torch::randn({2000, 16});
  const auto queries = bank.narrow(0, 0, 300) + 0.01 * torch::randn({300, 16});
  for (auto type : {FaissIndexType::kHnsw, FaissIndexType::kIvf}) {
    const FaissIndex index(bank, faiss_options(type));
    EXPECT_FALSE(index.exact());
    const auto found = nearest(index, queries);
    EXPECT_GE(recall_at_1(found.indices, torch::arange(300)), 0.99) << index.describe();
  }
}

TEST(FaissIndex, HnswIsDeterministic) {
  torch::manual_seed(13);
  const auto bank = torch::randn({3000, 32});
  const auto queries = torch::randn({400, 32});
  const auto options = faiss_options(FaissIndexType::kHnsw);
  const auto a = nearest(FaissIndex(bank, options), queries);
  const auto b = nearest(FaissIndex(bank, options), queries);
  EXPECT_TRUE(a.indices.equal(b.indices));
}

class FaissRecallOnRealFeatures : public ::testing::TestWithParam<std::string> {};

TEST_P(FaissRecallOnRealFeatures, DefaultParametersReachRecallAt1Of099) {
  PATCHCORE_REQUIRE_SHARED("reference/" + GetParam() + ".safetensors");
  const auto ref = read_safetensors(testing::shared_dir() / "reference" / (GetParam() + ".safetensors"));
  const auto& bank = ref.tensors.at("memory_bank");
  const auto& e = ref.tensors.at("test_embedding");  // [B, C, h, w]
  const auto queries = e.permute({0, 2, 3, 1}).reshape({-1, e.size(1)});
  const auto truth = nearest(ExactIndex(bank), queries).indices;
  for (auto type : {FaissIndexType::kHnsw, FaissIndexType::kIvf}) {
    const FaissIndex index(bank, faiss_options(type));
    const double recall = recall_at_1(nearest(index, queries).indices, truth);
    std::printf("[%s] %s: recall@1 %.4f on %lld patches, bank %lld x %lld\n", GetParam().c_str(),
                index.describe().c_str(), recall, static_cast<long long>(queries.size(0)),
                static_cast<long long>(bank.size(0)), static_cast<long long>(bank.size(1)));
    EXPECT_GE(recall, 0.99) << index.describe();
  }
}

INSTANTIATE_TEST_SUITE_P(SharedReference, FaissRecallOnRealFeatures,
                         ::testing::Values("mobilenet_magnetic", "resnet18_magnetic"));

TEST(SearchOptions, NamesAndRanges) {
  EXPECT_EQ(faiss_index_from_string("hnsw"), FaissIndexType::kHnsw);
  EXPECT_EQ(backend_from_string("faiss"), Backend::kFaiss);
  EXPECT_NE(user_error_message([] { faiss_index_from_string("pq"); }).find("flat, hnsw or ivf"), std::string::npos);
  SearchOptions o;
  o.hnsw_m = 1;
  EXPECT_NE(user_error_message([&] { validate(o); }).find("--faiss-hnsw-m"), std::string::npos);
  o = {};
  o.ivf_nprobe = 0;
  EXPECT_NE(user_error_message([&] { validate(o); }).find("--faiss-nprobe"), std::string::npos);
  // Automatic nlist: about 4 sqrt(M), but no more than M / 39 lists.
  EXPECT_EQ(ivf_nlist_for({}, 10000), 256);  // min(400, 256)
  EXPECT_EQ(ivf_nlist_for({}, 100000), 1265);
  EXPECT_EQ(ivf_nlist_for({}, 10), 1);
}

TEST(SearchFactory, AutoIsTheNativeExactKernel) {
  const auto bank = torch::randn({100, 8});
  EXPECT_EQ(make_index(bank, {})->describe().rfind("exact native", 0), 0u);
  EXPECT_EQ(make_index(bank, faiss_options(FaissIndexType::kFlat))->describe(), "faiss flat (exact)");
}

}  // namespace
}  // namespace patchcore::search
