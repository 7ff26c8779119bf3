#pragma once
// Running the `patchcore` executable from the CLI tests: exit code and combined output.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace patchcore::testing {

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
