#pragma once
// A feed-forward convolutional network run with oneDNN primitives, for inference only:
// convolutions (BatchNorm folded in) with their activation and residual add fused into
// the convolution, and max pooling. Activations stay in the layouts oneDNN picks for this
// CPU from the input to the requested outputs, and weights are reordered into the
// convolution's layout once per input shape, which is what makes it faster than calling
// ATen convolution by convolution.
//
// Layers are added in execution order; each returns the id of the value it produces,
// which later layers (and `run`'s outputs) refer to. Value kInput is the network input.
//
// The layer list is also the backbone's one model definition: the export graph
// (export/graph.cpp) lowers these same layers, weights and paddings to ONNX / OpenVINO ops.
#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace patchcore {

class ConvNet {
 public:
  static constexpr int kInput = 0;
  enum class Activation { none, relu, relu6 };

  struct Conv {
    std::string name;      // e.g. "layer2.0.conv1", "conv_dw_3": names the exported node
    int input = kInput;
    torch::Tensor weight;  // float32 [O, I/groups, kh, kw]
    torch::Tensor bias;    // float32 [O]
    int64_t stride = 1;
    int64_t padding = 0;   // on every side; ignored when tf_same_padding
    bool tf_same_padding = false;  // TensorFlow "same": output = ceil(input / stride), extra pad after
    int64_t groups = 1;
    int residual = -1;     // a value of the output's shape added before the activation
    Activation activation = Activation::none;
  };

  struct MaxPool {
    std::string name;
    int input = kInput;
    int64_t kernel = 0, stride = 0, padding = 0;  // padding on every side
  };

  // Layer i produces value i + 1.
  using Layer = std::variant<Conv, MaxPool>;

  // Output length and padding before/after along one axis of a convolution or pooling:
  // the one definition of both padding styles.
  struct Span {
    int64_t size, before, after;
  };
  static Span output_span(int64_t in, int64_t kernel, int64_t stride, int64_t padding, bool tf_same_padding);

  ConvNet();
  ~ConvNet();
  ConvNet(ConvNet&&) noexcept;

  int add_conv(Conv conv);
  int add_max_pool(MaxPool pool);

  // The layers in execution order, weights folded, as run() executes them.
  const std::vector<Layer>& layers() const { return layers_; }

  // input: float [B, C, H, W] (any layout). Returns the requested values as float
  // [B, C, h, w] tensors in channels-last memory. Thread-safe.
  std::vector<torch::Tensor> run(const torch::Tensor& input, const std::vector<int>& outputs) const;

 private:
  struct Plan;
  struct State;  // the oneDNN engine and what run() creates lazily: plans, packed weights
  const Plan& plan_for(const std::vector<int64_t>& input_shape, const std::vector<int>& outputs) const;

  std::vector<Layer> layers_;
  std::unique_ptr<State> state_;
};

}  // namespace patchcore
