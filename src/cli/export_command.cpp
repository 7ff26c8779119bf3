#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "io/error.h"
#include "pipeline/checkpoint.h"
#include "pipeline/model_export.h"
#include "pipeline/model_folder.h"

namespace patchcore::cli {

namespace fs = std::filesystem;

Command add_export_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("export", "(Re)write PATTERN.onnx and PATTERN.xml/.bin of a model folder");
  struct Options {
    fs::path model_dir;
    bool fp16 = false;
    bool model_api = false;
    std::string format = "all";
  };
  auto o = std::make_shared<Options>();
  cmd->add_option("--model", o->model_dir, "Model folder OUTPUT/PATTERN written by `patchcore train`")->required();
  cmd->add_flag("--fp16", o->fp16, "Store constants as float16 (about half the size; computation stays float32)");
  cmd->add_flag("--model-api", o->model_api,
                "Write PATTERN_model_api.* instead: one output (anomaly_map), as OpenVINO Model API's AnomalyModel "
                "loads it; the image threshold is then the pixel threshold (an image is anomalous when a pixel is)");
  cmd->add_option("--format", o->format, "ir, onnx or all")
      ->check(CLI::IsMember({"ir", "onnx", "all"}))
      ->capture_default_str();
  return {cmd, [o]() {
            const fs::path dir = fs::path(o->model_dir).lexically_normal();
            if (!fs::is_directory(dir))
              throw UserError("model folder " + dir.string() + " does not exist; pass OUTPUT/PATTERN of `patchcore train`");
            const std::string pattern = (dir.filename().empty() ? dir.parent_path() : dir).filename().string();
            const ModelFolderContents folder = load_model_folder(dir);
            const auto outputs = o->model_api ? GraphOutputs::kMapOnly : GraphOutputs::kMapAndScore;
            export_model(patch_model_of(folder.checkpoint), folder.checkpoint.roi, folder.stats, dir, pattern,
                         export_formats_from_string(o->format), o->fp16, outputs);
            write_manifest(dir);
            for (const char* ext : {".onnx", ".xml", ".bin"}) {
              const fs::path file = dir / (export_stem(pattern, outputs) + ext);
              if (fs::exists(file))
                std::printf("%-50s %12ju bytes\n", file.string().c_str(), static_cast<uintmax_t>(fs::file_size(file)));
            }
            return 0;
          }};
}

}  // namespace patchcore::cli
