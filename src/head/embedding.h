#pragma once
// PatchCore's locally aware patch features (anomalib's PatchcoreModel.generate_embedding).
#include <torch/types.h>

#include <vector>

namespace patchcore {

// For each layer map: 3x3 average pooling, stride 1, padding 1 (count_include_pad=true,
// torch's default); every map after the first is upsampled bilinearly
// (align_corners=false) to the first map's size; all are concatenated on channels.
// Takes float32 CPU maps of any layout. Returns [B, C_total, h, w] in channels-last memory,
// so that its patch rows (permute to [B,h,w,C], reshape to [B*h*w, C]) are a view, not a copy.
torch::Tensor build_embedding(const std::vector<torch::Tensor>& layer_maps);

// The pooling build_embedding applies (anomalib's feature_pooler), read by the export graph.
struct FeaturePooling {
  static constexpr int64_t kKernel = 3, kStride = 1, kPadding = 1;
  static constexpr bool kCountIncludePad = true;
};

// [B, C, h, w] -> [B*h*w, C]: one row per patch, image-major, then y, then x.
torch::Tensor embedding_to_patches(const torch::Tensor& embedding);

}  // namespace patchcore
