#pragma once
// The ROI of a checkpoint (ROI mode, data/roi.h): its settings as the safetensors
// metadata entry "patchcore.roi" (the JSON of roi/roi.json) and the template pixels as
// the uint8 tensor "roi.template" [h, w, 3] (BGR). Absent both = a whole-image model.
#include <optional>
#include <string>

#include "io/safetensors.h"
#include "patchcore/roi.h"

namespace patchcore {

void save_roi(const std::optional<RoiLocator>& roi, SafetensorsFile& file);
// Throws UserError naming `where` when only one of the two parts is present or they disagree.
std::optional<RoiLocator> load_roi(const SafetensorsFile& file, const std::string& where);

}  // namespace patchcore
