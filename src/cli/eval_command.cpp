#include <cstdio>

#include "cli/commands.h"
#include "cli/threads.h"
#include "eval/run_eval.h"

namespace patchcore::cli {

Command add_eval_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("eval", "Measure a model on labelled test images (AUROC, AUPRO, F1, false alarms)");
  auto o = std::make_shared<eval::EvalOptions>();
  auto write_threshold = std::make_shared<std::string>();
  auto threads = std::make_shared<int>(0);
  auto quiet = std::make_shared<bool>(false);
  cmd->add_option("--model", o->model_dir, "Model folder OUTPUT/PATTERN written by `patchcore train`")->required();
  cmd->add_option("--data-dir", o->data_dir,
                  "MVTec-style folder (test/<type>/, ground_truth/<type>/<stem>_mask.png) or a folder with good/ "
                  "and one sub-folder per defect type (image metrics only)")
      ->required();
  cmd->add_option("--output", o->output_dir, "Folder for metrics.json, report.md and the PNG figures")
      ->capture_default_str();
  cmd->add_flag("--full-size", o->full_size,
                "Compare anomaly maps with the masks at each image's own size (default: at the model's --image-size)");
  cmd->add_option("--write-threshold", *write_threshold,
                  "Store a threshold chosen on this data in the model folder (norm_stats.txt, config.yaml): f1 "
                  "(image F1-max; also the pixel F1-max threshold) or fpr:X (lowest threshold with at most X false "
                  "alarms on the good test images, e.g. fpr:0.01; with masks also the pixel threshold with at "
                  "most X of the defect-free pixels above it)");
  cmd->add_option("--batch-size", o->batch_size, "Images per backbone pass")->capture_default_str();
  cmd->add_option("--threads", *threads, "CPU threads (0 = all cores)")->capture_default_str();
  cmd->add_flag("--quiet", *quiet, "No progress bar");

  return {cmd, [=]() {
            set_thread_count(*threads);
            // Checked before any work: a typo must not cost a whole evaluation.
            if (!write_threshold->empty()) o->write_threshold = eval::parse_threshold_rule(*write_threshold);
            o->show_progress = !*quiet;
            const eval::EvalResult r = run_eval(*o);
            std::printf("\nEvaluation of %s on %s\n%s", o->model_dir.string().c_str(), o->data_dir.string().c_str(),
                        eval::terminal_table(r.metrics, r.context).c_str());
            std::printf("\nResults in %s (metrics.json, report.md, figures)\n", o->output_dir.string().c_str());
            if (r.written_image_threshold) {
              std::printf("Stored image_threshold=%.9g", *r.written_image_threshold);
              if (r.written_pixel_threshold) std::printf(" and pixel_threshold=%.9g", *r.written_pixel_threshold);
              std::printf(" (--write-threshold %s) in %s: predict, Model::threshold() and the exported "
                          "ONNX/IR files' model_info now use it\n",
                          write_threshold->c_str(), o->model_dir.string().c_str());
            }
            return 0;
          }};
}

}  // namespace patchcore::cli
