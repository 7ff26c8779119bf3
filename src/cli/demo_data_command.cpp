#include <cstdio>

#include "cli/commands.h"
#include "pipeline/demo_dataset.h"

namespace patchcore::cli {

Command add_demo_data_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("make-demo-data",
                                 "Write a small generated copper-wire inspection data set (MVTec layout)");
  auto root = std::make_shared<std::string>();
  auto options = std::make_shared<DemoDatasetOptions>();
  cmd->add_option("--output", *root, "Folder to create")->required();
  cmd->add_option("--train-images", options->train_images, "Good training images")->capture_default_str();
  cmd->add_option("--test-good", options->test_good, "Good test images")->capture_default_str();
  cmd->add_option("--test-per-defect", options->test_per_defect, "Test images per defect type")
      ->capture_default_str();
  cmd->add_option("--size", options->size, "Image side in pixels")->capture_default_str();
  cmd->add_option("--seed", options->seed, "Random seed")->capture_default_str();
  return {cmd, [root, options]() {
            const auto s = write_demo_dataset(*root, *options);
            std::printf("wrote %d training, %d good and %d defective test images to %s\n", s.train, s.test_good,
                        s.test_defective, root->c_str());
            return 0;
          }};
}

}  // namespace patchcore::cli
