#pragma once
// Running the `patchcore` executable from the CLI tests: exit code and combined output.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

#include "pipeline/demo_dataset.h"

namespace patchcore::testing {

// The small demo data set the CLI tests train on: 8 good training images, 2 good and one of each
// defect type to test, 80x80.
inline void write_cli_demo_data(const std::filesystem::path& dir) {
  DemoDatasetOptions d;
  d.train_images = 8;
  d.test_good = 2;
  d.test_per_defect = 1;
  d.size = 80;
  write_demo_dataset(dir, d);
}

struct RunResult {
  int exit_code;
  std::string output;  // stdout + stderr
};

// Runs a shell command line, capturing stdout and stderr.
inline RunResult run_shell(const std::string& command) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  std::string output;
  std::array<char, 4096> buffer{};
  while (size_t n = fread(buffer.data(), 1, buffer.size(), pipe)) output.append(buffer.data(), n);
  const int status = pclose(pipe);
  return {WEXITSTATUS(status), output};
}

// Runs `patchcore ARGS`.
inline RunResult run(const std::string& args) { return run_shell(std::string(PATCHCORE_CLI) + " " + args); }

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace patchcore::testing
