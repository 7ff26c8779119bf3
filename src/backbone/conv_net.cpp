#include "backbone/conv_net.h"

#include <oneapi/dnnl/dnnl.hpp>

#include <cstring>
#include <map>
#include <mutex>
#include <tuple>
#include <stdexcept>
#include <string>

namespace patchcore {

using dnnl::memory;
using Tag = memory::format_tag;
constexpr auto kF32 = memory::data_type::f32;

// Everything that depends on the input shape: primitives, weights in their layouts, the
// layout of every value and when it is last read (so that run() frees it early).
struct ConvNet::Plan {
  struct Step {
    dnnl::primitive primitive;
    int input = 0, output = 0, residual = -1;
    bool residual_in_place = false;     // the output overwrites the residual's buffer
    dnnl::primitive residual_copy;      // else: copies the residual into the output first
    dnnl::primitive input_reorder;      // when the step reads its input in another layout
    memory::desc input_desc;            // ... this one
    memory weights, bias;               // convolutions
    memory::desc scratchpad;
  };
  dnnl::engine engine;
  std::vector<memory::desc> values;     // per value id
  std::vector<Step> steps;
  std::vector<int> last_read;           // step index; -1 when never read
  std::vector<bool> keep;               // requested outputs
  std::vector<dnnl::primitive> to_channels_last;  // per requested output
};

namespace {

memory::dims dims_of(c10::IntArrayRef sizes) { return memory::dims(sizes.begin(), sizes.end()); }

int input_of(const ConvNet::Layer& layer) {
  return std::visit([](const auto& op) { return op.input; }, layer);
}

dnnl::post_ops post_ops_of(const ConvNet::Conv& c) {
  dnnl::post_ops ops;
  if (c.residual >= 0) ops.append_sum(1.0f);
  if (c.activation == ConvNet::Activation::relu) ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
  if (c.activation == ConvNet::Activation::relu6) ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_clip, 0.0f, 6.0f);
  return ops;
}

// The weights as oneDNN reads a plain OIHW (or grouped GOIHW) tensor.
memory::desc plain_weights_desc(const ConvNet::Conv& c) {
  const auto& w = c.weight;
  if (c.groups == 1) return {dims_of(w.sizes()), kF32, Tag::oihw};
  return {{c.groups, w.size(0) / c.groups, w.size(1), w.size(2), w.size(3)}, kF32, Tag::goihw};
}

memory::desc any_weights_desc(const ConvNet::Conv& c) {
  const auto& w = c.weight;
  if (c.groups == 1) return {dims_of(w.sizes()), kF32, Tag::any};
  return {{c.groups, w.size(0) / c.groups, w.size(1), w.size(2), w.size(3)}, kF32, Tag::any};
}

dnnl::primitive_attr attr_with(const dnnl::post_ops& ops = {}) {
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);
  // Each run brings its own scratchpad: concurrent runs of one primitive are then safe.
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

}  // namespace

struct ConvNet::State {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  std::mutex mutex;  // guards the two maps
  std::map<std::tuple<std::vector<int64_t>, std::vector<int>>, std::unique_ptr<Plan>> plans;
  std::map<size_t, std::vector<memory>> packed_weights;  // per layer: one copy per layout

  // Plans for other batch sizes mostly want the same weight layouts: packed once per layout.
  memory packed(const Conv& conv, size_t index, const memory::desc& desc, dnnl::stream& stream);
};

ConvNet::Span ConvNet::output_span(int64_t in, int64_t kernel, int64_t stride, int64_t padding,
                                   bool tf_same_padding) {
  if (tf_same_padding) {  // TensorFlow "same": ceil(in / stride) outputs, the odd pixel padded after
    const int64_t out = (in + stride - 1) / stride;
    const int64_t total = std::max<int64_t>((out - 1) * stride + kernel - in, 0);
    return {out, total / 2, total - total / 2};
  }
  return {(in + 2 * padding - kernel) / stride + 1, padding, padding};
}

ConvNet::ConvNet() : state_(std::make_unique<State>()) {}
ConvNet::~ConvNet() = default;
ConvNet::ConvNet(ConvNet&&) noexcept = default;

int ConvNet::add_conv(Conv conv) {
  const int next = static_cast<int>(layers_.size()) + 1;
  if (conv.input < 0 || conv.input >= next || conv.residual >= next)
    throw std::invalid_argument("ConvNet::add_conv: unknown input or residual value");
  if (conv.weight.dim() != 4 || conv.bias.dim() != 1 || conv.bias.size(0) != conv.weight.size(0) ||
      conv.groups < 1 || conv.weight.size(0) % conv.groups != 0)
    throw std::invalid_argument("ConvNet::add_conv: weight must be [O, I/groups, kh, kw] and bias [O]");
  conv.weight = conv.weight.to(torch::kFloat).contiguous();
  conv.bias = conv.bias.to(torch::kFloat).contiguous();
  layers_.emplace_back(std::move(conv));
  return next;
}

int ConvNet::add_max_pool(MaxPool pool) {
  const int next = static_cast<int>(layers_.size()) + 1;
  if (pool.input < 0 || pool.input >= next) throw std::invalid_argument("ConvNet::add_max_pool: unknown input value");
  layers_.emplace_back(std::move(pool));
  return next;
}

memory ConvNet::State::packed(const Conv& conv, size_t index, const memory::desc& desc, dnnl::stream& stream) {
  auto& copies = packed_weights[index];
  for (const auto& m : copies)
    if (m.get_desc() == desc) return m;
  memory plain(plain_weights_desc(conv), engine, conv.weight.data_ptr());
  memory packed(desc, engine);
  dnnl::reorder(plain, packed).execute(stream, plain, packed);
  copies.push_back(packed);
  return packed;
}

const ConvNet::Plan& ConvNet::plan_for(const std::vector<int64_t>& input_shape, const std::vector<int>& outputs) const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  auto& slot = state_->plans[{input_shape, outputs}];
  if (slot) return *slot;

  auto plan = std::make_unique<Plan>();
  plan->engine = state_->engine;
  const auto& engine = plan->engine;
  dnnl::stream stream(engine);
  const int num_values = static_cast<int>(layers_.size()) + 1;
  plan->values.push_back(memory::desc(input_shape, kF32, Tag::nhwc));
  plan->last_read.assign(num_values, -1);
  plan->keep.assign(num_values, false);
  for (int v : outputs) {
    if (v < 0 || v >= num_values) throw std::invalid_argument("ConvNet::run: unknown output value");
    plan->keep[v] = true;
  }
  for (size_t i = 0; i < layers_.size(); ++i) {
    const Layer& layer = layers_[i];
    Plan::Step step;
    step.input = input_of(layer);
    step.output = static_cast<int>(i) + 1;
    const memory::desc& src = plan->values[step.input];
    const auto in = src.dims();
    if (const auto* conv = std::get_if<Conv>(&layer)) {
      const Conv& c = *conv;
      if (in[1] != c.weight.size(1) * c.groups)
        throw std::invalid_argument("ConvNet: layer " + std::to_string(i) + " expects " +
                                    std::to_string(c.weight.size(1) * c.groups) + " input channels, got " +
                                    std::to_string(in[1]));
      const Span y = output_span(in[2], c.weight.size(2), c.stride, c.padding, c.tf_same_padding);
      const Span x = output_span(in[3], c.weight.size(3), c.stride, c.padding, c.tf_same_padding);
      const memory::desc dst({in[0], c.weight.size(0), y.size, x.size}, kF32, Tag::any);
      const memory::desc bias({c.weight.size(0)}, kF32, Tag::x);
      auto make_pd = [&](const memory::desc& src_desc) {
        dnnl::convolution_forward::desc op(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                           src_desc, any_weights_desc(c), bias, dst, {c.stride, c.stride},
                                           {y.before, x.before}, {y.after, x.after});
        return dnnl::convolution_forward::primitive_desc(op, attr_with(post_ops_of(c)), engine);
      };
      // The input as it is, unless only oneDNN's slow reference code takes that layout (seen
      // with a blocked input layout: depthwise after the stem ran 5x slower): then the layout
      // oneDNN prefers, reordered. With channels-last input no layer needs it on AVX-512.
      auto pd = make_pd(src);
      if (std::string(pd.impl_info_str()).rfind("ref", 0) == 0) {
        pd = make_pd(memory::desc(in, kF32, Tag::any));
        step.input_desc = pd.src_desc();
        step.input_reorder = dnnl::reorder(dnnl::reorder::primitive_desc(engine, src, engine, pd.src_desc()));
      }
      step.primitive = dnnl::convolution_forward(pd);
      step.scratchpad = pd.scratchpad_desc();
      step.weights = state_->packed(c, i, pd.weights_desc(), stream);
      step.bias = memory(pd.bias_desc(), engine);
      std::memcpy(step.bias.get_data_handle(), c.bias.data_ptr(), pd.bias_desc().get_size());
      plan->values.push_back(pd.dst_desc());
      if (c.residual >= 0) {
        step.residual = c.residual;
        if (plan->values[c.residual].dims() != pd.dst_desc().dims())
          throw std::invalid_argument("ConvNet: layer " + std::to_string(i) + " adds a residual of another shape");
        plan->last_read[c.residual] = static_cast<int>(i);
      }
    } else {
      const MaxPool& p = std::get<MaxPool>(layer);
      const Span y = output_span(in[2], p.kernel, p.stride, p.padding, false);
      const Span x = output_span(in[3], p.kernel, p.stride, p.padding, false);
      const memory::desc dst({in[0], in[1], y.size, x.size}, kF32, Tag::any);
      dnnl::pooling_v2_forward::desc op(dnnl::prop_kind::forward_inference, dnnl::algorithm::pooling_max, src, dst,
                                        {p.stride, p.stride}, {p.kernel, p.kernel}, {0, 0},
                                        {p.padding, p.padding}, {p.padding, p.padding});
      dnnl::pooling_v2_forward::primitive_desc pd(op, attr_with(), engine);
      step.primitive = dnnl::pooling_v2_forward(pd);
      step.scratchpad = pd.scratchpad_desc();
      plan->values.push_back(pd.dst_desc());
    }
    plan->last_read[step.input] = static_cast<int>(i);
    plan->steps.push_back(std::move(step));
  }
  // A residual's buffer becomes the output when nothing reads it afterwards; otherwise
  // (it is an output, the network input, or read later) it is copied first.
  for (size_t i = 0; i < plan->steps.size(); ++i) {
    auto& step = plan->steps[i];
    if (step.residual < 0) continue;
    const int r = step.residual;
    const auto& out = plan->values[step.output];
    step.residual_in_place = r != kInput && !plan->keep[r] && r != step.input &&
                             plan->last_read[r] == static_cast<int>(i) && plan->values[r] == out;
    if (!step.residual_in_place)
      step.residual_copy = dnnl::reorder(dnnl::reorder::primitive_desc(engine, plan->values[r], engine, out));
  }
  for (int v : outputs) {
    const auto& from = plan->values[v];
    const memory::desc nhwc(from.dims(), kF32, Tag::nhwc);
    plan->to_channels_last.push_back(dnnl::reorder(dnnl::reorder::primitive_desc(engine, from, engine, nhwc)));
  }
  stream.wait();
  slot = std::move(plan);
  return *slot;
}

std::vector<torch::Tensor> ConvNet::run(const torch::Tensor& input, const std::vector<int>& outputs) const {
  if (input.dim() != 4) throw std::invalid_argument("ConvNet::run: input must be [B, C, H, W]");
  // Channels-last input: oneDNN then picks its brgemm convolutions (nhwc) throughout, which were
  // as fast as the blocked nChw16c ones at batch 1 and 16% faster for wide_resnet50_2 at batch
  // 32 (bench/ab.sh, BM_Backbone); an NCHW input would make it choose the blocked ones.
  const torch::Tensor x = input.to(torch::kFloat).contiguous(at::MemoryFormat::ChannelsLast);
  const Plan& plan = plan_for(x.sizes().vec(), outputs);
  dnnl::stream stream(plan.engine);

  const auto bytes = [](const memory::desc& d) {
    return at::empty({static_cast<int64_t>(d.get_size())}, at::TensorOptions().dtype(torch::kByte));
  };
  std::vector<torch::Tensor> storage(plan.values.size());
  std::vector<memory> values(plan.values.size());
  values[kInput] = memory(plan.values[kInput], plan.engine, x.data_ptr());
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const auto& step = plan.steps[i];
    const auto& out_desc = plan.values[step.output];
    if (step.residual_in_place) {
      storage[step.output] = storage[step.residual];
      values[step.output] = values[step.residual];
    } else {
      storage[step.output] = bytes(out_desc);
      values[step.output] = memory(out_desc, plan.engine, storage[step.output].data_ptr());
      if (step.residual >= 0)
        step.residual_copy.execute(stream, {{DNNL_ARG_FROM, values[step.residual]}, {DNNL_ARG_TO, values[step.output]}});
    }
    memory input = values[step.input];
    torch::Tensor reordered_input;
    if (step.input_reorder) {
      reordered_input = bytes(step.input_desc);
      input = memory(step.input_desc, plan.engine, reordered_input.data_ptr());
      step.input_reorder.execute(stream, {{DNNL_ARG_FROM, values[step.input]}, {DNNL_ARG_TO, input}});
    }
    const auto scratch = bytes(step.scratchpad);
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, input},
        {DNNL_ARG_DST, values[step.output]},
        {DNNL_ARG_SCRATCHPAD, memory(step.scratchpad, plan.engine, scratch.data_ptr())}};
    if (step.weights) {
      args.emplace(DNNL_ARG_WEIGHTS, step.weights);
      args.emplace(DNNL_ARG_BIAS, step.bias);
    }
    step.primitive.execute(stream, args);
    // Free what no later step reads (the in-place output keeps the residual's buffer alive).
    for (int v : {step.input, step.residual})
      if (v > kInput && plan.last_read[v] == static_cast<int>(i) && !plan.keep[v]) {
        storage[v] = torch::Tensor();
        values[v] = memory();
      }
  }
  std::vector<torch::Tensor> result;
  for (size_t k = 0; k < outputs.size(); ++k) {
    const auto dims = plan.values[outputs[k]].dims();
    auto t = at::empty(dims, at::TensorOptions().dtype(torch::kFloat).memory_format(at::MemoryFormat::ChannelsLast));
    memory to({dims, kF32, Tag::nhwc}, plan.engine, t.data_ptr());
    plan.to_channels_last[k].execute(stream, {{DNNL_ARG_FROM, values[outputs[k]]}, {DNNL_ARG_TO, to}});
    result.push_back(std::move(t));
  }
  stream.wait();
  return result;
}

}  // namespace patchcore
