#include "head/embedding.h"

#include <ATen/Parallel.h>
#include <ATen/native/UpSample.h>

#include <stdexcept>
#include <string>

#include "head/kernels/embedding_kernels.h"

namespace patchcore {
namespace {

using embedding_kernels::Lerp;
using embedding_kernels::Map;

void check_maps(const std::vector<torch::Tensor>& layer_maps) {
  if (layer_maps.empty()) throw std::invalid_argument("build_embedding: no layer maps given");
  for (size_t i = 0; i < layer_maps.size(); ++i) {
    const auto& m = layer_maps[i];
    if (m.dim() != 4)
      throw std::invalid_argument("build_embedding: layer map " + std::to_string(i) +
                                  " must be [B,C,h,w], got " + std::to_string(m.dim()) + " dims");
    if (m.size(2) == 0 || m.size(3) == 0)
      throw std::invalid_argument("build_embedding: layer map " + std::to_string(i) + " is empty (h or w = 0)");
    if (m.scalar_type() != torch::kFloat || !m.device().is_cpu())
      throw std::invalid_argument("build_embedding: layer map " + std::to_string(i) +
                                  " must be a float32 CPU tensor");
    if (m.size(0) != layer_maps[0].size(0))
      throw std::invalid_argument("build_embedding: layer maps disagree on the batch size");
  }
}

Map map_of(const torch::Tensor& channels_last) {
  return {channels_last.data_ptr<float>(), channels_last.size(1), channels_last.size(2), channels_last.size(3)};
}

torch::Tensor empty_channels_last(int64_t batch, int64_t channels, int64_t h, int64_t w) {
  return at::empty({batch, channels, h, w}, at::TensorOptions(torch::kFloat).memory_format(at::MemoryFormat::ChannelsLast));
}

// Runs f(b, y) for every image row of a [batch, *, h, *] output, rows split across threads.
template <typename F>
void for_each_row(int64_t batch, int64_t h, F f) {
  at::parallel_for(0, batch * h, 1, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) f(r / h, r % h);
  });
}

// The kernels are written for this pooling.
static_assert(FeaturePooling::kKernel == 3 && FeaturePooling::kStride == 1 && FeaturePooling::kPadding == 1 &&
              FeaturePooling::kCountIncludePad);

// anomalib's feature_pooler, AvgPool2d(3, 1, 1) with count_include_pad, of a channels-last map.
torch::Tensor average_pool(const torch::Tensor& channels_last) {
  const Map in = map_of(channels_last);
  auto out = empty_channels_last(channels_last.size(0), in.channels, in.height, in.width);
  float* data = out.data_ptr<float>();
  for_each_row(channels_last.size(0), in.height, [&](int64_t b, int64_t y) {
    for (int64_t x = 0; x < in.width; ++x)
      embedding_kernels::average_3x3(in, b, y, x, data + ((b * in.height + y) * in.width + x) * in.channels);
  });
  return out;
}

// Source indices and weights of upsample_bilinear2d(align_corners=false) along one axis,
// from ATen's own helpers so that they round as the reference does.
std::vector<Lerp> bilinear_lerps(int64_t in, int64_t out) {
  const auto scale = at::native::area_pixel_compute_scale<float>(in, out, /*align_corners=*/false, c10::nullopt);
  std::vector<Lerp> lerps(out);
  for (int64_t i = 0; i < out; ++i) {
    auto& l = lerps[i];
    at::native::compute_source_index_and_lambda(l.i0, l.i1, l.l0, l.l1, scale, i, in, out, /*align_corners=*/false);
  }
  return lerps;
}

// One layer's channels in the embedding: pooled on the fly at the first map's size, or
// (a map of another size) pooled beforehand and resized bilinearly.
struct Part {
  torch::Tensor source;  // channels-last: the layer map, or its pooled version when resized
  Map map;
  int64_t offset;        // first channel in the embedding
  std::vector<Lerp> rows, cols;  // empty when the map already has the first map's size
};

std::vector<Part> plan_parts(const std::vector<torch::Tensor>& layer_maps) {
  const int64_t h = layer_maps[0].size(2), w = layer_maps[0].size(3);
  std::vector<Part> parts;
  int64_t offset = 0;
  for (const auto& m : layer_maps) {
    Part p;
    // The backbone's maps are channels-last already (no copy then).
    p.source = m.contiguous(at::MemoryFormat::ChannelsLast);
    if (m.size(2) != h || m.size(3) != w) {
      // Pool the smaller map first, then interpolate, as the reference does.
      p.source = average_pool(p.source);
      p.rows = bilinear_lerps(m.size(2), h);
      p.cols = bilinear_lerps(m.size(3), w);
    }
    p.map = map_of(p.source);
    p.offset = offset;
    offset += m.size(1);
    parts.push_back(std::move(p));
  }
  return parts;
}

}  // namespace

torch::Tensor build_embedding(const std::vector<torch::Tensor>& layer_maps) {
  check_maps(layer_maps);
  const auto parts = plan_parts(layer_maps);
  const int64_t batch = layer_maps[0].size(0), h = layer_maps[0].size(2), w = layer_maps[0].size(3);
  const int64_t channels = parts.back().offset + parts.back().map.channels;
  auto embedding = empty_channels_last(batch, channels, h, w);
  float* data = embedding.data_ptr<float>();
  for_each_row(batch, h, [&](int64_t b, int64_t y) {
    for (int64_t x = 0; x < w; ++x) {
      float* patch = data + ((b * h + y) * w + x) * channels;
      for (const auto& p : parts) {
        if (p.rows.empty())
          embedding_kernels::average_3x3(p.map, b, y, x, patch + p.offset);
        else
          embedding_kernels::blend(p.map, b, p.rows[y], p.cols[x], patch + p.offset);
      }
    }
  });
  return embedding;
}

torch::Tensor embedding_to_patches(const torch::Tensor& embedding) {
  if (embedding.dim() != 4)
    throw std::invalid_argument("embedding_to_patches: expected [B,C,h,w]");
  return embedding.permute({0, 2, 3, 1}).reshape({-1, embedding.size(1)});
}

}  // namespace patchcore
