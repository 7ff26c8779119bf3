#include "eval/run_eval.h"

#include "eval/eval_dataset.h"
#include "eval/figures.h"
#include "eval/scoring.h"
#include "head/norm_stats.h"
#include "io/atomic_file.h"
#include "pipeline/model_folder.h"
#include "pipeline/threshold_record.h"

namespace patchcore::eval {
namespace {

std::string geometry(const Model& model, bool full_size) {
  const auto s = model.summary();
  if (full_size) return "each image's own size (the model's map upsampled bilinearly; masks at image size)";
  return "the model's --image-size " + std::to_string(s.height) + "x" + std::to_string(s.width) +
         " (masks resized nearest-neighbour" + (s.has_roi ? ", cropped to the found ROI first" : "") + ")";
}

// The image threshold by the rule, and the pixel threshold by the same rule over every pixel
// of the data set (F1-max, or at most X of the defect-free pixels above it) when there are masks.
ThresholdRecord record_for(const ThresholdRule& rule, const EvalMetrics& m, const ScoredDataset& scored,
                           const EvalOptions& o) {
  ThresholdRecord r;
  r.method = "eval " + rule.text;
  r.image = choose_threshold(rule, m.image_counts);
  if (m.pixel && rule.kind == ThresholdRule::Kind::kF1) r.pixel = m.pixel->f1.threshold;
  if (m.pixel && rule.kind == ThresholdRule::Kind::kFpr)
    r.pixel = threshold_at_fpr(rank_counts(scored.pixels.scores, scored.pixels.labels), rule.max_fpr);
  r.details["data_dir"] = std::filesystem::absolute(o.data_dir).string();
  r.details["good_images"] = m.good_images;
  r.details["defect_images"] = m.defect_images;
  return r;
}

}  // namespace

EvalResult run_eval(const EvalOptions& o) {
  const EvalDataset data = find_eval_dataset(o.data_dir);
  const Model model = Model::load(o.model_dir);
  const NormStats stats = read_norm_stats(o.model_dir / ModelFolder::kNormStats);

  EvalResult result;
  ReportContext& c = result.context;
  c.model_dir = o.model_dir.string();
  c.data_dir = o.data_dir.string();
  c.map_geometry = geometry(model, o.full_size);
  c.threshold_source = stats.image_threshold ? "image_threshold of norm_stats.txt"
                                             : "max_score of norm_stats.txt (highest training score; no "
                                               "image_threshold stored)";
  if (!data.has_masks)
    c.notes.push_back("pixel metrics skipped: " + o.data_dir.string() +
                      " has no ground_truth/ folder of masks (MVTec layout), so only image metrics are computed");

  ScoringOptions scoring;
  scoring.full_size = o.full_size;
  scoring.pixels = data.has_masks;
  scoring.batch_size = o.batch_size;
  scoring.show_progress = o.show_progress;
  const ScoredDataset scored = score_dataset(model, data, scoring);
  if (!scored.roi_not_found.empty())
    c.notes.push_back(std::to_string(scored.roi_not_found.size()) +
                      " images not scored: their ROI was not found (below the ROI threshold); they are left out of "
                      "every metric");

  EvalMetrics& m = result.metrics;
  m = compute_metrics(scored, model.threshold());
  m.alternatives.push_back(operating_point(scored, "max training score (old rule)", stats.max_score));
  m.alternatives.push_back(operating_point(scored, "image F1-max", m.image_f1.threshold));
  if (o.write_threshold && o.write_threshold->kind == ThresholdRule::Kind::kFpr)
    m.alternatives.push_back(operating_point(scored, "--write-threshold " + o.write_threshold->text,
                                             choose_threshold(*o.write_threshold, m.image_counts)));

  StagedFolder folder(o.output_dir);
  c.figures = write_figures(folder.path(), m, scored, model);
  nlohmann::json json = metrics_json(m, c);
  json["image_scores"] = image_scores_json(scored);
  write_file_atomically(folder.path() / "metrics.json", json.dump(2) + "\n");
  write_file_atomically(folder.path() / "report.md", report_markdown(m, c));
  folder.commit();

  if (o.write_threshold) {
    const ThresholdRecord record = record_for(*o.write_threshold, m, scored, o);
    store_threshold(o.model_dir, record);
    result.written_image_threshold = record.image;
    result.written_pixel_threshold = record.pixel;
  }
  return result;
}

}  // namespace patchcore::eval
