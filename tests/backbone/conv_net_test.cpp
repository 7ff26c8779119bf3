// ConvNet (oneDNN primitives, fused activations and residuals) against ATen's own
// convolution, pooling and activation ops as the independent reference.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <thread>

#include "backbone/conv_net.h"

namespace patchcore {
namespace {

at::Tensor random(std::vector<int64_t> shape, uint64_t seed, double std = 1.0) {
  auto gen = at::detail::createCPUGenerator(seed);
  return at::normal(0.0, std, shape, gen);
}

ConvNet::Conv make_conv(int input, int64_t out, int64_t in, int64_t k, int64_t stride, int64_t padding, uint64_t seed,
                        int64_t groups = 1) {
  ConvNet::Conv c;
  c.input = input;
  c.weight = random({out, in / groups, k, k}, seed, 1.0 / std::sqrt(double(in / groups * k * k)));
  c.bias = random({out}, seed + 1000, 0.1);
  c.stride = stride;
  c.padding = padding;
  c.groups = groups;
  return c;
}

// Largest |a - b| relative to the largest |b|.
double relative_error(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<double>() / std::max(b.abs().max().item<double>(), 1e-30);
}

// A ResNet-like block: stem conv + relu, max pool, then relu(conv(relu(conv(x))) + shortcut)
// twice: once with a strided 1x1 shortcut, once with the identity (which is also an output,
// so the residual must be copied, not overwritten).
TEST(ConvNet, ResidualBlocksMatchATen) {
  ConvNet net;
  auto stem = make_conv(ConvNet::kInput, 24, 3, 7, 2, 3, 1);
  stem.activation = ConvNet::Activation::relu;
  const int s = net.add_conv(stem);
  const int pool = net.add_max_pool({"pool", s, 3, 2, 1});
  auto a1 = make_conv(pool, 40, 24, 3, 2, 1, 2);
  a1.activation = ConvNet::Activation::relu;
  const int y1 = net.add_conv(a1);
  const auto down = make_conv(pool, 40, 24, 1, 2, 0, 3);
  const int d = net.add_conv(down);
  auto a2 = make_conv(y1, 40, 40, 3, 1, 1, 4);
  a2.residual = d;
  a2.activation = ConvNet::Activation::relu;
  const int block1 = net.add_conv(a2);
  auto b1 = make_conv(block1, 40, 40, 3, 1, 1, 5);
  b1.activation = ConvNet::Activation::relu;
  const int z1 = net.add_conv(b1);
  auto b2 = make_conv(z1, 40, 40, 3, 1, 1, 6);
  b2.residual = block1;
  b2.activation = ConvNet::Activation::relu;
  const int block2 = net.add_conv(b2);

  const auto x = random({2, 3, 45, 37}, 7);
  const auto out = net.run(x, {block2, block1, pool});

  auto conv = [](const at::Tensor& in, const ConvNet::Conv& c) {
    return at::conv2d(in, c.weight, c.bias, at::IntArrayRef{c.stride, c.stride}, at::IntArrayRef{c.padding, c.padding},
                      at::IntArrayRef{1, 1}, c.groups);
  };
  const auto r_stem = at::relu(conv(x, stem));
  const auto r_pool = at::max_pool2d(r_stem, {3, 3}, {2, 2}, {1, 1});
  const auto r_block1 = at::relu(conv(at::relu(conv(r_pool, a1)), a2) + conv(r_pool, down));
  const auto r_block2 = at::relu(conv(at::relu(conv(r_block1, b1)), b2) + r_block1);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].sizes(), r_block2.sizes());
  EXPECT_EQ(out[1].sizes(), r_block1.sizes());
  EXPECT_EQ(out[2].sizes(), r_pool.sizes());
  EXPECT_LT(relative_error(out[0], r_block2), 1e-5);
  EXPECT_LT(relative_error(out[1], r_block1), 1e-5);
  EXPECT_LT(relative_error(out[2], r_pool), 1e-6);
  EXPECT_TRUE(out[0].is_contiguous(at::MemoryFormat::ChannelsLast));
}

// TensorFlow "same" padding (asymmetric for even sizes and stride 2), depthwise
// convolutions and ReLU6, as in MobileNet v1.
TEST(ConvNet, TfSamePaddingDepthwiseAndRelu6MatchATen) {
  for (const int64_t size : {16, 15}) {
    ConvNet net;
    auto c1 = make_conv(ConvNet::kInput, 20, 3, 3, 2, 0, 11);
    c1.tf_same_padding = true;
    c1.activation = ConvNet::Activation::relu6;
    const int v1 = net.add_conv(c1);
    auto dw = make_conv(v1, 20, 20, 3, 2, 0, 12, /*groups=*/20);
    dw.tf_same_padding = true;
    dw.activation = ConvNet::Activation::relu6;
    const int v2 = net.add_conv(dw);
    auto pw = make_conv(v2, 36, 20, 1, 1, 0, 13);
    pw.tf_same_padding = true;
    pw.activation = ConvNet::Activation::relu6;
    const int v3 = net.add_conv(pw);
    const auto x = random({1, 3, size, size + 3}, 14, 3.0);
    const auto out = net.run(x, {v3, v1});

    // "same": out = ceil(in / stride), total padding split with the extra pixel after.
    auto same = [](const at::Tensor& in, const ConvNet::Conv& c) {
      auto pad = [&](int64_t n) {
        const int64_t o = (n + c.stride - 1) / c.stride;
        const int64_t total = std::max<int64_t>((o - 1) * c.stride + c.weight.size(2) - n, 0);
        return std::pair<int64_t, int64_t>{total / 2, total - total / 2};
      };
      const auto [top, bottom] = pad(in.size(2));
      const auto [left, right] = pad(in.size(3));
      const auto padded = at::constant_pad_nd(in, {left, right, top, bottom}, 0);
      return at::conv2d(padded, c.weight, c.bias, at::IntArrayRef{c.stride, c.stride}, at::IntArrayRef{0, 0}, at::IntArrayRef{1, 1}, c.groups).clamp(0, 6);
    };
    const auto r1 = same(x, c1);
    const auto r3 = same(same(r1, dw), pw);
    EXPECT_EQ(out[0].sizes(), r3.sizes()) << size;
    EXPECT_LT(relative_error(out[0], r3), 1e-5) << size;
    EXPECT_LT(relative_error(out[1], r1), 1e-5) << size;
    const int64_t clipped = (r1 == 6).sum().item().toLong();
    EXPECT_GT(clipped, 0) << "ReLU6 must clip something";
  }
}

// Plans are per input shape; several threads may run one net at once.
TEST(ConvNet, ShapesAndThreadsGiveConsistentResults) {
  ConvNet net;
  auto c = make_conv(ConvNet::kInput, 16, 3, 3, 1, 1, 21);
  c.activation = ConvNet::Activation::relu;
  const int v = net.add_conv(c);
  const auto small = random({1, 3, 9, 9}, 22), big = random({3, 3, 20, 12}, 23);
  const auto ref_small = net.run(small, {v})[0], ref_big = net.run(big, {v})[0];
  EXPECT_EQ(ref_big.sizes(), (std::vector<int64_t>{3, 16, 20, 12}));
  std::vector<std::thread> threads;
  std::vector<bool> same(4, false);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      bool ok = true;
      for (int i = 0; i < 5; ++i) ok = ok && at::equal(net.run(t % 2 ? big : small, {v})[0], t % 2 ? ref_big : ref_small);
      same[t] = ok;
    });
  for (auto& t : threads) t.join();
  for (int t = 0; t < 4; ++t) EXPECT_TRUE(same[t]) << "thread " << t;
}

TEST(ConvNet, RejectsMismatchedShapes) {
  ConvNet net;
  const int v = net.add_conv(make_conv(ConvNet::kInput, 8, 3, 3, 1, 1, 31));
  EXPECT_THROW(net.run(random({1, 4, 8, 8}, 32), {v}), std::invalid_argument);  // 4 channels, expects 3
  EXPECT_THROW(net.run(random({1, 3, 8, 8}, 32), {v + 1}), std::invalid_argument);
  auto bad_residual = make_conv(v, 8, 8, 3, 2, 1, 33);
  bad_residual.residual = v;  // stride 2: not the output's shape
  const int w = net.add_conv(bad_residual);
  EXPECT_THROW(net.run(random({1, 3, 8, 8}, 32), {w}), std::invalid_argument);
  EXPECT_THROW(net.add_conv(make_conv(w + 5, 8, 8, 1, 1, 0, 34)), std::invalid_argument);
}

}  // namespace
}  // namespace patchcore
