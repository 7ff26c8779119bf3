#include "data/roi.h"

#include <nlohmann/json.hpp>
#include <opencv2/highgui.hpp>
#include <opencv2/imgproc.hpp>

#include <cmath>
#include <cstdlib>
#include <sstream>

#include "io/error.h"

namespace patchcore {
namespace {

std::string rect_text(const cv::Rect& r) {
  return std::to_string(r.x) + " " + std::to_string(r.y) + " " + std::to_string(r.width) + " " +
         std::to_string(r.height);
}

std::string fixed(double v, int digits = 2) {
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(digits);
  s << v;
  return s.str();
}

constexpr const char* kNoWindowHint =
    "; give the rectangle on the command line instead: --roi-rect X Y W H (pixels of the first training image, "
    "or of --roi-image FILE)";


// The rectangle being dragged in the selection window, in canvas pixels.
struct Drag {
  cv::Point anchor;
  cv::Rect rect;
  bool dragging = false;
};

void on_mouse(int event, int x, int y, int /*flags*/, void* user) {
  auto& drag = *static_cast<Drag*>(user);
  if (event == cv::EVENT_LBUTTONDOWN) {
    drag = {cv::Point(x, y), cv::Rect(), true};
  } else if (drag.dragging && (event == cv::EVENT_MOUSEMOVE || event == cv::EVENT_LBUTTONUP)) {
    drag.rect = cv::Rect(drag.anchor, cv::Point(x, y));
    drag.dragging = event == cv::EVENT_MOUSEMOVE;
  }
}

enum class Selection { confirmed, cancelled, window_closed };

// Shows `canvas` until ENTER/SPACE (confirm), c/ESC (cancel) or the window's close button.
// cv::selectROI is not used: it never returns when the window is closed.
Selection run_selection_window(const std::string& title, const cv::Mat& canvas, Drag& drag) {
  cv::setMouseCallback(title, on_mouse, &drag);
  for (;;) {
    cv::Mat frame = canvas.clone();
    if (drag.rect.area() > 0) cv::rectangle(frame, drag.rect, cv::Scalar(0, 255, 0), 2);
    cv::imshow(title, frame);
    const int key = cv::waitKey(30);
    if (cv::getWindowProperty(title, cv::WND_PROP_VISIBLE) < 1) return Selection::window_closed;
    if (key < 0) continue;
    const int k = key & 0xFF;
    if (k == '\r' || k == '\n' || k == ' ') return Selection::confirmed;
    if (k == 'c' || k == 27) return Selection::cancelled;
  }
}

}  // namespace

void validate_roi_options(const RoiOptions& o) {
  if (!(o.threshold >= 0.0 && o.threshold <= 1.0))
    throw UserError("--roi-threshold must be in [0, 1], got " + RoiLocator::number_to_text(o.threshold));
  if (!(o.search_margin >= 0.0 && o.search_margin <= 1.0))
    throw UserError("--roi-search-margin must be in [0, 1] (a fraction of the image size), got " +
                    RoiLocator::number_to_text(o.search_margin));
  if (o.context < 0) throw UserError("--roi-context must be at least 0 pixels, got " + std::to_string(o.context));
  if (o.interactive && o.rect) throw UserError("use either --roi (choose in a window) or --roi-rect X Y W H, not both");
  if (o.rect && (o.rect->width <= 0 || o.rect->height <= 0))
    throw UserError("--roi-rect " + rect_text(*o.rect) + " has a zero or negative size; W and H must be at least 1");
  if (!o.enabled() && !o.image.empty())
    throw UserError("--roi-image only applies with --roi or --roi-rect");
}

void require_display() {
  const char* display = std::getenv("DISPLAY");
  if (display == nullptr || *display == '\0')
    throw UserError(std::string("--roi needs a display to open the selection window, but $DISPLAY is not set") +
                    kNoWindowHint);
  // A local display ":N" or ":N.S" has its socket in /tmp/.X11-unix; without it the GUI
  // toolkit would abort the process instead of reporting an error.
  const std::string d = display;
  if (d[0] == ':') {
    const std::string number = d.substr(1, d.find('.') == std::string::npos ? std::string::npos : d.find('.') - 1);
    if (!std::filesystem::exists("/tmp/.X11-unix/X" + number))
      throw UserError("--roi needs a display, but $DISPLAY=" + d + " has no X server (/tmp/.X11-unix/X" + number +
                      " is missing)" + kNoWindowHint);
  }
}

cv::Rect select_roi_interactively(const cv::Mat& image, const std::string& image_name) {
  require_display();
  const std::string title = "patchcore --roi: drag a rectangle, ENTER to confirm, c to cancel";
  // Scale large images down to fit a screen; map the selection back afterwards.
  const double scale = std::min({1.0, 1600.0 / image.cols, 900.0 / image.rows});
  cv::Mat shown;
  if (scale < 1.0)
    cv::resize(image, shown, cv::Size(), scale, scale, cv::INTER_AREA);
  else
    shown = image.clone();
  // The hint sits in a band above the image, so it hides nothing.
  const int band = kRoiHintBand;
  cv::Mat canvas(shown.rows + band, std::max(shown.cols, 360), CV_8UC3, cv::Scalar(40, 40, 40));
  shown.copyTo(canvas(cv::Rect(0, band, shown.cols, shown.rows)));
  cv::putText(canvas, "Drag a rectangle around the part to inspect,", cv::Point(6, 17), cv::FONT_HERSHEY_SIMPLEX,
              0.45, cv::Scalar(255, 255, 255), 1, cv::LINE_AA);
  cv::putText(canvas, "then press ENTER or SPACE (c = cancel).", cv::Point(6, 36), cv::FONT_HERSHEY_SIMPLEX, 0.45,
              cv::Scalar(255, 255, 255), 1, cv::LINE_AA);
  Drag drag;
  Selection selection;
  try {
    cv::namedWindow(title, cv::WINDOW_AUTOSIZE | cv::WINDOW_GUI_NORMAL);
    cv::setWindowTitle(title, title + "  [" + image_name + "]");
    selection = run_selection_window(title, canvas, drag);
    if (selection != Selection::window_closed) cv::destroyWindow(title);
    cv::waitKey(1);
  } catch (const cv::Exception& e) {
    throw UserError("--roi cannot open a window: OpenCV's highgui has no GUI backend here (" + std::string(e.what()) +
                    ")" + kNoWindowHint);
  }
  if (selection == Selection::window_closed)
    throw UserError("the ROI window for " + image_name + " was closed before a rectangle was confirmed" +
                    kNoWindowHint);
  cv::Rect chosen = selection == Selection::confirmed ? drag.rect : cv::Rect();
  chosen -= cv::Point(0, band);
  chosen &= cv::Rect(0, 0, shown.cols, shown.rows);
  if (chosen.width <= 0 || chosen.height <= 0)
    throw UserError("no ROI was selected on " + image_name + " (cancelled, or an empty rectangle)" + kNoWindowHint);
  if (scale < 1.0) {
    const int x0 = static_cast<int>(std::lround(chosen.x / scale)), y0 = static_cast<int>(std::lround(chosen.y / scale));
    const int x1 = static_cast<int>(std::lround(chosen.br().x / scale));
    const int y1 = static_cast<int>(std::lround(chosen.br().y / scale));
    chosen = cv::Rect(cv::Point(x0, y0), cv::Point(x1, y1)) & cv::Rect(0, 0, image.cols, image.rows);
  }
  return chosen;
}

RoiLocator make_roi_locator(const cv::Mat& reference_bgr, const cv::Rect& rect, const RoiOptions& options,
                            const std::string& reference_name) {
  RoiOptions checked = options;  // the ranges; the rect itself is checked against the image below
  checked.interactive = false;
  checked.rect.reset();
  checked.image.clear();
  validate_roi_options(checked);
  const cv::Rect image(0, 0, reference_bgr.cols, reference_bgr.rows);
  if (rect.width <= 0 || rect.height <= 0)
    throw UserError("ROI " + rect_text(rect) + " has a zero or negative size; W and H must be at least 1");
  if ((rect & image) != rect)
    throw UserError("--roi-rect " + rect_text(rect) + " lies outside " + reference_name + " (" +
                    std::to_string(image.width) + " x " + std::to_string(image.height) +
                    " pixels); X, Y >= 0, X + W <= width and Y + H <= height");
  RoiSettings s;
  s.rect = rect;
  s.context = options.context;
  s.template_rect = cv::Rect(rect.x - options.context, rect.y - options.context, rect.width + 2 * options.context,
                             rect.height + 2 * options.context) &
                    image;
  s.reference_size = image.size();
  s.search_margin = options.search_margin;
  s.threshold = options.threshold;
  s.reference_image = reference_name;
  cv::Mat template_image = reference_bgr(s.template_rect).clone();
  cv::Scalar mean, stddev;
  cv::meanStdDev(RoiLocator::to_gray(template_image), mean, stddev);
  if (stddev[0] < 1.0)
    throw UserError("the ROI " + rect_text(rect) + " of " + reference_name +
                    " is uniform (no structure to match); choose a region that includes part edges or texture, "
                    "or add context with --roi-context PIXELS");
  return RoiLocator(std::move(s), std::move(template_image));
}

void check_image_fits_template(const RoiLocator& locator, cv::Size size, const std::string& image_name) {
  const cv::Size t = locator.settings().template_rect.size();
  if (t.width > size.width || t.height > size.height)
    throw UserError("the ROI template (" + std::to_string(t.width) + " x " + std::to_string(t.height) +
                    " pixels, with context) is larger than " + image_name + " (" + std::to_string(size.width) +
                    " x " + std::to_string(size.height) + "); choose a smaller ROI or remove that image");
}

cv::Size suggested_image_size(cv::Size content, int height, int width) {
  const double ratio = static_cast<double>(content.width) / std::max(content.height, 1);
  const double pixels = static_cast<double>(height) * width;
  auto round16 = [](double v) { return std::max(32, static_cast<int>(std::lround(v / 16.0)) * 16); };
  const int h = round16(std::sqrt(pixels / ratio));
  const int w = round16(std::sqrt(pixels * ratio));
  return cv::Size(w, h);
}

std::string aspect_ratio_advice(cv::Size content, int height, int width) {
  if (content.width <= 0 || content.height <= 0) return "";
  const double content_ratio = static_cast<double>(content.width) / content.height;
  const double model_ratio = static_cast<double>(width) / height;
  const double mismatch = std::max(content_ratio / model_ratio, model_ratio / content_ratio);
  if (mismatch <= 1.5) return "";
  const cv::Size s = suggested_image_size(content, height, width);
  return "the images the model sees are " + std::to_string(content.width) + " x " + std::to_string(content.height) +
         " pixels (aspect ratio " + fixed(content_ratio) + ") but --image-size " + std::to_string(height) + " " +
         std::to_string(width) + " has aspect ratio " + fixed(model_ratio) + ": they are squashed " +
         fixed(mismatch, 1) + "x, which can hide thin defects. Consider --image-size " + std::to_string(s.height) +
         " " + std::to_string(s.width) + " (same aspect ratio, about the same number of pixels)";
}

cv::Mat contact_sheet(const std::vector<cv::Mat>& crops, const std::vector<std::string>& labels, int thumb_height,
                      int columns) {
  if (crops.empty()) return cv::Mat(thumb_height, thumb_height, CV_8UC3, cv::Scalar(0, 0, 0));
  const int label_height = 14, pad = 4;
  int max_width = 1;
  std::vector<cv::Mat> thumbs;
  for (const auto& crop : crops) {
    cv::Mat bgr = crop.channels() == 3 ? crop : cv::Mat();
    if (bgr.empty()) cv::cvtColor(crop, bgr, crop.channels() == 4 ? cv::COLOR_BGRA2BGR : cv::COLOR_GRAY2BGR);
    const double s = static_cast<double>(thumb_height) / bgr.rows;
    cv::Mat thumb;
    cv::resize(bgr, thumb, cv::Size(std::max(1, static_cast<int>(std::lround(bgr.cols * s))), thumb_height), 0, 0,
               cv::INTER_AREA);
    max_width = std::max(max_width, std::min(thumb.cols, 4 * thumb_height));
    thumbs.push_back(thumb);
  }
  const int n = static_cast<int>(thumbs.size());
  const int cols = std::min(columns, n), rows = (n + cols - 1) / cols;
  const int cell_w = max_width + pad, cell_h = thumb_height + label_height + pad;
  cv::Mat sheet(rows * cell_h + pad, cols * cell_w + pad, CV_8UC3, cv::Scalar(32, 32, 32));
  for (int i = 0; i < n; ++i) {
    const int x = pad + (i % cols) * cell_w, y = pad + (i / cols) * cell_h;
    cv::Mat thumb = thumbs[static_cast<size_t>(i)];
    if (thumb.cols > max_width) thumb = thumb(cv::Rect(0, 0, max_width, thumb.rows));
    thumb.copyTo(sheet(cv::Rect(x, y, thumb.cols, thumb.rows)));
    std::string label = i < static_cast<int>(labels.size()) ? labels[static_cast<size_t>(i)] : "";
    if (label.size() > 24) label = label.substr(0, 10) + ".." + label.substr(label.size() - 12);
    cv::putText(sheet, label, cv::Point(x, y + thumb_height + label_height - 3), cv::FONT_HERSHEY_PLAIN, 0.8,
                cv::Scalar(230, 230, 230), 1, cv::LINE_AA);
  }
  return sheet;
}

std::string roi_json(const RoiLocator& locator) {
  const auto& s = locator.settings();
  auto rect = [](const cv::Rect& r) { return nlohmann::json::array({r.x, r.y, r.width, r.height}); };
  nlohmann::json j = {
      {"reference_image", s.reference_image},
      {"reference_size", {s.reference_size.width, s.reference_size.height}},
      {"rect", rect(s.rect)},
      {"template_rect", rect(s.template_rect)},
      {"template_size", {s.template_rect.width, s.template_rect.height}},
      {"context", s.context},
      {"search_margin", s.search_margin},
      {"threshold", s.threshold},
      {"method", RoiLocator::kMethod},
      {"notes",
       "rect and template_rect are [x, y, width, height] in reference-image pixels; the template (template.png) is "
       "searched within +-search_margin x image width/height of template_rect's position"},
  };
  return j.dump(2) + "\n";
}

RoiLocator roi_from_json(const std::string& json, cv::Mat template_image, const std::string& where) {
  try {
    const auto j = nlohmann::json::parse(json);
    auto rect = [&](const char* key) {
      const auto v = j.at(key).get<std::vector<int>>();
      if (v.size() != 4) throw UserError(where + ": ROI '" + key + "' must be [x, y, w, h]");
      return cv::Rect(v[0], v[1], v[2], v[3]);
    };
    RoiSettings s;
    s.rect = rect("rect");
    s.template_rect = rect("template_rect");
    const auto size = j.at("reference_size").get<std::vector<int>>();
    if (size.size() != 2) throw UserError(where + ": ROI reference_size must be [w, h]");
    s.reference_size = cv::Size(size[0], size[1]);
    s.context = j.at("context").get<int>();
    s.search_margin = j.at("search_margin").get<double>();
    s.threshold = j.at("threshold").get<double>();
    s.reference_image = j.value("reference_image", "");
    if (template_image.size() != s.template_rect.size())
      throw UserError(where + ": the ROI template is " + std::to_string(template_image.cols) + " x " +
                      std::to_string(template_image.rows) + " pixels but template_rect says " +
                      std::to_string(s.template_rect.width) + " x " + std::to_string(s.template_rect.height));
    return RoiLocator(std::move(s), std::move(template_image));
  } catch (const nlohmann::json::exception& e) {
    throw UserError(where + ": corrupt ROI settings (" + e.what() + "); retrain the model");
  }
}

}  // namespace patchcore
