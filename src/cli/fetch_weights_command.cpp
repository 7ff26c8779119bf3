#include <cstdio>
#include <filesystem>

#include "backbone/weight_locations.h"
#include "backbone/weight_source.h"
#include "cli/commands.h"
#include "io/error.h"
#include "io/sha256.h"

namespace patchcore::cli {

namespace fs = std::filesystem;

Command add_fetch_weights_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "fetch-weights",
      "Put a backbone's pretrained weights into the cache: download them, or import a file you copied over");
  auto backbone = std::make_shared<std::string>();
  auto from = std::make_shared<std::string>();
  cmd->add_option("--backbone", *backbone, "Backbone whose weights to fetch")->required();
  cmd->add_option("--from", *from,
                  "Import this file (ResNets: model.safetensors) or TF.js folder (MobileNet) instead of downloading");
  return {cmd, [backbone, from]() {
            const auto& location = official_weight_location(*backbone);
            const fs::path target = weights_cache_dir() / location.cache_relative;
            if (!from->empty()) {
              load_weight_file(*backbone, *from);  // refuses files of the wrong format/architecture
              std::error_code ec;
              fs::create_directories(target.parent_path(), ec);
              const fs::path source(*from);
              if (fs::is_directory(source)) {
                for (const auto& entry : fs::directory_iterator(source))
                  fs::copy_file(entry.path(), target.parent_path() / entry.path().filename(),
                                fs::copy_options::overwrite_existing);
              } else {
                fs::copy_file(source, target, fs::copy_options::overwrite_existing);
              }
            }
            const auto resolved = resolve_weights(*backbone, "");
            std::printf("%s weights ready: %s (sha256 %s)\n", backbone->c_str(), target.string().c_str(),
                        resolved.sha256.c_str());
            return 0;
          }};
}

}  // namespace patchcore::cli
