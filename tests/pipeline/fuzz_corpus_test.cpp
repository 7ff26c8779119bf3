// Replays every input under tests/fuzz/corpus/<loader>/ (the seeds, and every crash or hang
// the fuzzers found, added there as regression inputs) through the loaders of
// tests/fuzz/fuzz_loaders.h in the normal build: each input must load or fail with a
// UserError, never anything else.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "fuzz/fuzz_loaders.h"
#include "io/error.h"

namespace patchcore {
namespace {

namespace fs = std::filesystem;

const fs::path kCorpus = fs::path(__FILE__).parent_path().parent_path() / "fuzz" / "corpus";

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

TEST(FuzzCorpus, EveryInputLoadsOrFailsWithAUserError) {
  for (const auto& [name, load] : fuzz::loaders()) {
    SCOPED_TRACE(name);
    const fs::path dir = kCorpus / name;
    ASSERT_TRUE(fs::is_directory(dir)) << dir;
    int inputs = 0, loaded = 0;
    for (const auto& entry : fs::directory_iterator(dir)) {
      ++inputs;
      try {
        load(read_bytes(entry.path()));
        ++loaded;
      } catch (const UserError&) {
      } catch (const std::exception& e) {
        ADD_FAILURE() << entry.path() << ": a non-UserError exception escaped: " << e.what();
      }
    }
    EXPECT_GT(inputs, 0) << "no inputs in " << dir;
    EXPECT_GT(loaded, 0) << "no valid seed in " << dir << " (the fuzzer needs real files to start from)";
  }
}

}  // namespace
}  // namespace patchcore
