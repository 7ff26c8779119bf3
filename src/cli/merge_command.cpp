// `patchcore merge`: the model of a sharded training (`train --shard I/N`), from its N shards.
#include "cli/commands.h"
#include "cli/threads.h"
#include "io/interrupt.h"
#include "pipeline/training_memory.h"

namespace patchcore::cli {

Command add_merge_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "merge", "Combine the shards of `train --shard I/N` into one model: coreset of their memory banks, then every "
               "training image scored against it (norm stats, thresholds, exports)");
  auto options = std::make_shared<TrainOptions>();
  auto threads = std::make_shared<int>(0);
  auto quiet = std::make_shared<bool>(false);
  auto max_memory = std::make_shared<std::string>();
  cmd->add_option("parts", options->merge_parts, "The shard folders OUTPUT/PATTERN.shard-I-of-N, all N of them")
      ->required();
  cmd->add_option("--data-dir", options->data_dir, "The folder of good images the shards trained on (unchanged)")
      ->required();
  cmd->add_option("--output", options->output_dir, "Output folder; the model goes to OUTPUT/PATTERN")->required();
  cmd->add_option("--pattern-name", options->pattern_name, "Name of the inspection pattern (model folder name)")
      ->required();
  cmd->add_option("--batch-size", options->batch_size, "Images per backbone pass")->capture_default_str();
  cmd->add_option("--threshold-sigmas", options->threshold_sigmas,
                  "Threshold = max(highest training score, mean + SIGMAS * std of the held-out scores)")
      ->capture_default_str();
  cmd->add_option("--max-memory", *max_memory, "Memory cap, as for train (default: 80% of the machine's memory)");
  cmd->add_option("--threads", *threads, "CPU threads (0 = all cores)")->capture_default_str();
  cmd->add_flag("--quiet", *quiet, "No progress bars");
  return {cmd, [=]() {
    stop_on_interrupt();
    set_thread_count(*threads);
    if (!max_memory->empty()) options->max_memory_bytes = parse_memory_size(*max_memory);
    options->show_progress = !*quiet;
    const TrainReport r = train(*options);
    print_training_summary(r);
    return 0;
  }};
}

}  // namespace patchcore::cli
