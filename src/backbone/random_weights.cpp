// random_weights: seeded, machine-independent random backbone weights.
#include <ATen/ATen.h>

#include <cmath>

#include "backbone/random_weights.h"
#include "backbone/backbone_common.h"
#include "backbone/mobilenet.h"
#include "backbone/resnet.h"

namespace patchcore {
namespace backbone_detail {

SeededRandom::SeededRandom(uint64_t seed)
    : generator_(at::detail::createCPUGenerator(seed)),
      impl_(generator_.get<at::CPUGeneratorImpl>()) {}

double SeededRandom::uniform() {
  // 53 random bits -> [0, 1)
  return static_cast<double>(impl_->random64() >> 11) * (1.0 / 9007199254740992.0);
}

double SeededRandom::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  const double u1 = 1.0 - uniform();  // (0, 1]
  const double u2 = uniform();
  const double r = std::sqrt(-2.0 * std::log(u1));
  const double theta = 2.0 * M_PI * u2;
  spare_ = r * std::sin(theta);
  has_spare_ = true;
  return r * std::cos(theta);
}

torch::Tensor SeededRandom::uniform(const std::vector<int64_t>& shape, double low, double high) {
  auto t = torch::empty(shape, torch::kFloat);
  float* p = t.data_ptr<float>();
  for (int64_t i = 0, n = t.numel(); i < n; ++i)
    p[i] = static_cast<float>(low + (high - low) * uniform());
  return t;
}

torch::Tensor SeededRandom::normal(const std::vector<int64_t>& shape, double mean, double stddev) {
  auto t = torch::empty(shape, torch::kFloat);
  float* p = t.data_ptr<float>();
  for (int64_t i = 0, n = t.numel(); i < n; ++i)
    p[i] = static_cast<float>(mean + stddev * normal());
  return t;
}

}  // namespace backbone_detail

WeightMap random_weights(const std::string& name, uint64_t seed) {
  const BackboneInfo& info = backbone_info(name);  // throws for unknown names
  if (info.family == BackboneFamily::kMobileNetV1) return random_mobilenet_weights(seed);
  return random_resnet_weights(info.name, seed);
}

}  // namespace patchcore
