#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <set>

#include "cli/commands.h"
#include "cli/threads.h"
#include "data/dataset.h"
#include "data/overlay.h"
#include "data/preprocess.h"
#include "io/atomic_file.h"
#include "io/error.h"
#include "patchcore/model.h"

namespace patchcore::cli {
namespace {

namespace fs = std::filesystem;

// "test/crack/001.png" below the input folder -> "test__crack__001": one flat name per image for
// the files written about it, always inside the output folder (no '/' left, and the input
// lister yields no ".." components). Names that would repeat ("001.png" beside "001.jpg", or
// "a/b.png" beside "a__b.png") get "~2", "~3", ... in input order, so no result overwrites another.
std::vector<std::string> output_stems(const std::vector<fs::path>& images, const fs::path& input_root) {
  std::vector<std::string> stems;
  std::set<std::string> used;
  const bool folder = fs::is_directory(input_root);
  for (const auto& image : images) {
    // lexically: fs::relative resolves symbolic links, which turns a linked image into "..__..__<target path>"
    fs::path relative = folder ? image.lexically_relative(input_root) : image.filename();
    relative.replace_extension();
    std::string stem = relative.generic_string();
    for (size_t pos = 0; (pos = stem.find('/', pos)) != std::string::npos;) stem.replace(pos, 1, "__");
    std::string unique = stem;
    for (int n = 2; !used.insert(unique).second; ++n) unique = stem + "~" + std::to_string(n);
    stems.push_back(unique);
  }
  return stems;
}

// ROI models: the heat map over the located ROI only, on the full image, with the ROI
// rectangle; an image whose ROI was not found gets a red note instead.
cv::Mat roi_overlay(const cv::Mat& image_bgr, const Prediction& p, double pixel_scale, double roi_threshold) {
  cv::Mat out = image_bgr.clone();
  if (p.roi_found) {
    heat_overlay(image_bgr(p.roi), p.anomaly_map(p.roi), pixel_scale).copyTo(out(p.roi));
    cv::rectangle(out, p.roi, cv::Scalar(0, 255, 0), 2);
  } else {
    char text[96];
    std::snprintf(text, sizeof text, "ROI not found (match %.2f < %.2f)", p.roi_score, roi_threshold);
    cv::putText(out, text, cv::Point(5, 20), cv::FONT_HERSHEY_SIMPLEX, 0.5, cv::Scalar(0, 0, 255), 1, cv::LINE_AA);
  }
  return out;
}

void write_image(const fs::path& path, const cv::Mat& image) {
  if (!cv::imwrite(path.string(), image)) throw UserError("cannot write " + path.string());
}

}  // namespace

Command add_predict_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("predict", "Score images with a trained model");
  struct Options {
    fs::path model_dir, input, output = "predictions";
    double threshold = -1;
    bool save_maps = false;
    int batch_size = 8;
    int threads = 0;
  };
  auto o = std::make_shared<Options>();
  cmd->add_option("--model", o->model_dir, "Model folder OUTPUT/PATTERN written by `patchcore train`")->required();
  cmd->add_option("--input", o->input, "An image file, or a folder (searched recursively)")->required();
  cmd->add_option("--output", o->output, "Folder for results.json, overlays and maps")->capture_default_str();
  cmd->add_option("--threshold", o->threshold,
                  "Score above which an image is anomalous (default: image_threshold of norm_stats.txt, else its max_score)");
  cmd->add_flag("--save-maps", o->save_maps, "Also write each raw anomaly map as maps/<name>.tiff (32-bit float)");
  cmd->add_option("--batch-size", o->batch_size, "Images per backbone pass")->capture_default_str();
  cmd->add_option("--threads", o->threads, "CPU threads (0 = all cores)")->capture_default_str();

  return {cmd, [o]() {
            set_thread_count(o->threads);
            const Model model = Model::load(o->model_dir);
            const double threshold = o->threshold >= 0 ? o->threshold : model.threshold();
            const auto images = find_input_images(o->input);
            const auto stems = output_stems(images, o->input);
            std::error_code ec;
            fs::create_directories(o->output / "overlays", ec);
            if (o->save_maps) fs::create_directories(o->output / "maps", ec);
            if (ec) throw UserError("cannot create " + o->output.string() + ": " + ec.message());

            const double pixel_scale = overlay_pixel_scale(model.summary().max_training_pixel);
            nlohmann::json results = nlohmann::json::array();
            std::printf("%-60s %12s  %s\n", "image", "score", "result");
            const auto start = std::chrono::steady_clock::now();
            int anomalous = 0, roi_missing = 0;
            const RoiLocator* roi = model.roi();
            const double roi_threshold = roi ? roi->settings().threshold : 0.0;
            for (size_t first = 0; first < images.size(); first += static_cast<size_t>(o->batch_size)) {
              const size_t count = std::min(images.size() - first, static_cast<size_t>(o->batch_size));
              std::vector<cv::Mat> batch;
              for (size_t i = first; i < first + count; ++i) batch.push_back(read_image_bgr(images[i]));
              const auto predictions = model.predict(batch);
              for (size_t k = 0; k < count; ++k) {
                const auto& path = images[first + k];
                const auto& p = predictions[k];
                const std::string& stem = stems[first + k];
                if (!p.roi_found) {  // not scored: the part was not found where the ROI should be
                  ++roi_missing;
                  std::printf("%-60s %12s  ROI NOT FOUND (match %.3f)\n", path.string().c_str(), "-", p.roi_score);
                  results.push_back({{"image", path.string()}, {"overlay", "overlays/" + stem + ".png"},
                                     {"roi_found", false}, {"roi_score", p.roi_score}});
                  write_image(o->output / "overlays" / (stem + ".png"),
                              roi_overlay(batch[k], p, pixel_scale, roi_threshold));
                  continue;
                }
                const bool is_anomalous = p.score > threshold;
                anomalous += is_anomalous;
                std::printf("%-60s %12.4f  %s\n", path.string().c_str(), p.score, is_anomalous ? "ANOMALOUS" : "ok");
                nlohmann::json entry = {{"image", path.string()}, {"overlay", "overlays/" + stem + ".png"},
                                        {"score", p.score}, {"anomalous", is_anomalous}};
                if (roi) {
                  entry["roi_found"] = true;
                  entry["roi_score"] = p.roi_score;
                  entry["roi"] = {p.roi.x, p.roi.y, p.roi.width, p.roi.height};
                }
                results.push_back(entry);
                write_image(o->output / "overlays" / (stem + ".png"),
                            roi ? roi_overlay(batch[k], p, pixel_scale, roi_threshold)
                                : heat_overlay(batch[k], p.anomaly_map, pixel_scale));
                if (o->save_maps) write_image(o->output / "maps" / (stem + ".tiff"), p.model_map);
              }
            }
            write_file_atomically(o->output / "results.json", results.dump(2) + "\n");
            const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            std::printf("\n%zu images, %d anomalous (threshold %.4f), %.1f images/s; results in %s\n", images.size(),
                        anomalous, threshold, static_cast<double>(images.size()) / seconds,
                        (o->output / "results.json").string().c_str());
            if (roi_missing)
              std::printf("%d images not scored: their ROI match is below the ROI threshold %.2f "
                          "(\"roi_found\": false in results.json)\n",
                          roi_missing, roi_threshold);
            return 0;
          }};
}

}  // namespace patchcore::cli
