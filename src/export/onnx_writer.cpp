// ONNX writer: ExportGraph -> ModelProto (opset 17), see onnx_writer.h.
#include "export/onnx_writer.h"

#include <onnx/onnx_pb.h>

#include <map>
#include <stdexcept>
#include <string>

#include "io/atomic_file.h"
#include "io/error.h"

namespace patchcore {
namespace {

using onnx::AttributeProto;
using onnx::NodeProto;
using onnx::TensorProto;

class OnnxLowering {
 public:
  OnnxLowering(const ExportGraph& g, const OnnxWriteOptions& o, std::string data_file)
      : g_(g), options_(o), data_file_(std::move(data_file)) {
    external_ = g.constant_bytes() > o.external_data_threshold;
  }

  onnx::ModelProto build() {
    onnx::ModelProto model;
    model.set_ir_version(kOnnxIrVersion);
    model.set_producer_name("patchcore-cpp");
    model.set_producer_version("0.1.0");
    model.set_doc_string(
        "PatchCore anomaly detection: input [B,3,H,W] normalised RGB -> anomaly_map [B,1,H,W], "
        "pred_score [B,1]");
    auto* opset = model.add_opset_import();
    opset->set_domain("");
    opset->set_version(kOnnxOpset);
    for (const auto& [k, v] : g_.metadata) {
      auto* p = model.add_metadata_props();
      p->set_key(k);
      p->set_value(v);
    }
    graph_ = model.mutable_graph();
    graph_->set_name("patchcore");

    // Constants -> initializers (fp16: f16 initializer + Cast).
    for (const auto& v : g_.values)
      if (v.is_constant()) add_constant(v.name, v.constant, options_.fp16);
    for (const auto& n : g_.nodes) lower(n);

    add_value_info(graph_->add_input(), g_.values[g_.input]);
    for (int id : g_.outputs) add_value_info(graph_->add_output(), g_.values[id]);
    for (const auto& n : g_.nodes)
      for (int id : n.outputs)
        if (std::find(g_.outputs.begin(), g_.outputs.end(), id) == g_.outputs.end())
          add_value_info(graph_->add_value_info(), g_.values[id]);
    return model;
  }

  std::string& external_data() { return data_; }
  bool external() const { return external_; }

 private:
  const ExportGraph& g_;
  OnnxWriteOptions options_;
  std::string data_file_;
  bool external_ = false;
  std::string data_;
  onnx::GraphProto* graph_ = nullptr;
  int helper_count_ = 0;

  const std::string& name(int id) const { return g_.values.at(id).name; }

  void add_value_info(onnx::ValueInfoProto* vi, const GraphValue& v) {
    vi->set_name(v.name);
    auto* t = vi->mutable_type()->mutable_tensor_type();
    t->set_elem_type(v.type == ValueType::kFloat32 ? TensorProto::FLOAT : TensorProto::INT64);
    auto* shape = t->mutable_shape();
    for (int64_t d : v.shape) {
      auto* dim = shape->add_dim();
      if (d < 0) dim->set_dim_param("batch");
      else dim->set_dim_value(d);
    }
  }

  void set_data(TensorProto* t, const torch::Tensor& data) {
    const auto c = data.contiguous();
    const auto bytes = static_cast<size_t>(c.numel() * c.element_size());
    const char* ptr = static_cast<const char*>(c.data_ptr());
    if (external_ && bytes >= 1024) {
      while (data_.size() % 64) data_.push_back('\0');  // aligned offsets
      t->set_data_location(TensorProto::EXTERNAL);
      auto add = [&](const char* k, const std::string& v) {
        auto* e = t->add_external_data();
        e->set_key(k);
        e->set_value(v);
      };
      add("location", data_file_);
      add("offset", std::to_string(data_.size()));
      add("length", std::to_string(bytes));
      data_.append(ptr, bytes);
    } else {
      t->set_raw_data(ptr, bytes);
    }
  }

  void add_constant(const std::string& value_name, const torch::Tensor& value, bool fp16) {
    auto* t = graph_->add_initializer();
    for (int64_t d : value.sizes()) t->add_dims(d);
    if (value.scalar_type() == torch::kLong) {
      t->set_name(value_name);
      t->set_data_type(TensorProto::INT64);
      set_data(t, value);
      return;
    }
    if (!fp16) {
      t->set_name(value_name);
      t->set_data_type(TensorProto::FLOAT);
      set_data(t, value);
      return;
    }
    t->set_name(value_name + "/f16");
    t->set_data_type(TensorProto::FLOAT16);
    set_data(t, value.to(torch::kHalf));
    auto* cast = node("Cast", value_name + "/decompress", {value_name + "/f16"}, {value_name});
    attr_int(cast, "to", TensorProto::FLOAT);
  }

  // A helper constant that only the ONNX form needs (shapes, axes, k, clip bounds).
  std::string helper_longs(const std::string& base, std::vector<int64_t> v) {
    const std::string n = base + "/" + std::to_string(helper_count_++);
    auto t = torch::tensor(v, torch::kLong);
    add_constant(n, t, false);
    return n;
  }
  std::string helper_float_scalar(const std::string& base, float v) {
    const std::string n = base + "/" + std::to_string(helper_count_++);
    add_constant(n, torch::tensor(v, torch::kFloat).reshape({}), options_.fp16);
    return n;
  }

  NodeProto* node(const std::string& op, const std::string& node_name,
                  const std::vector<std::string>& in, const std::vector<std::string>& out) {
    auto* n = graph_->add_node();
    n->set_op_type(op);
    n->set_name(node_name);
    for (const auto& s : in) n->add_input(s);
    for (const auto& s : out) n->add_output(s);
    return n;
  }
  static void attr_int(NodeProto* n, const char* key, int64_t v) {
    auto* a = n->add_attribute();
    a->set_name(key);
    a->set_type(AttributeProto::INT);
    a->set_i(v);
  }
  static void attr_ints(NodeProto* n, const char* key, const std::vector<int64_t>& v) {
    auto* a = n->add_attribute();
    a->set_name(key);
    a->set_type(AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  }
  static void attr_string(NodeProto* n, const char* key, const std::string& v) {
    auto* a = n->add_attribute();
    a->set_name(key);
    a->set_type(AttributeProto::STRING);
    a->set_s(v);
  }

  // Ops that become one ONNX node with the same inputs, their integer attributes copied.
  struct DirectOp {
    const char* type;
    std::vector<const char*> scalar_attrs;  // ints attributes of one value -> INT
    std::vector<const char*> list_attrs;    // -> INTS
  };
  static const std::map<GraphOp, DirectOp>& direct_ops() {
    static const std::map<GraphOp, DirectOp> table = {
        {GraphOp::kRelu, {"Relu", {}, {}}},
        {GraphOp::kAdd, {"Add", {}, {}}},
        {GraphOp::kSub, {"Sub", {}, {}}},
        {GraphOp::kMul, {"Mul", {}, {}}},
        {GraphOp::kSqrt, {"Sqrt", {}, {}}},
        {GraphOp::kMatMul, {"MatMul", {}, {}}},
        {GraphOp::kConcat, {"Concat", {"axis"}, {}}},
        {GraphOp::kTranspose, {"Transpose", {}, {"perm"}}},
        {GraphOp::kGather, {"Gather", {"axis"}, {}}},
        {GraphOp::kGatherND, {"GatherND", {"batch_dims"}, {}}},
        {GraphOp::kGatherElements, {"GatherElements", {"axis"}, {}}},
        {GraphOp::kSoftmax, {"Softmax", {"axis"}, {}}},
    };
    return table;
  }

  void lower(const GraphNode& n) {
    std::vector<std::string> in, out;
    for (int id : n.inputs) in.push_back(name(id));
    for (int id : n.outputs) out.push_back(name(id));
    if (const auto direct = direct_ops().find(n.op); direct != direct_ops().end()) {
      auto* p = node(direct->second.type, n.name, in, out);
      for (const char* key : direct->second.scalar_attrs) attr_int(p, key, n.int_at(key));
      for (const char* key : direct->second.list_attrs) attr_ints(p, key, n.ints_at(key));
      return;
    }
    switch (n.op) {
      case GraphOp::kConv: {
        auto* p = node("Conv", n.name, in, out);
        const auto& w = g_.values.at(n.inputs[1]).shape;
        attr_ints(p, "kernel_shape", {w[2], w[3]});
        attr_ints(p, "strides", n.ints_at("strides"));
        attr_ints(p, "pads", n.ints_at("pads"));
        attr_ints(p, "dilations", {1, 1});
        attr_int(p, "group", n.int_at("group"));
        return;
      }
      case GraphOp::kClip: {
        const auto lo = helper_float_scalar(n.name + "/min", static_cast<float>(n.float_at("min")));
        const auto hi = helper_float_scalar(n.name + "/max", static_cast<float>(n.float_at("max")));
        node("Clip", n.name, {in[0], lo, hi}, out);
        return;
      }
      case GraphOp::kMaxPool:
      case GraphOp::kAvgPool: {
        auto* p = node(n.op == GraphOp::kMaxPool ? "MaxPool" : "AveragePool", n.name, in, out);
        attr_ints(p, "kernel_shape", n.ints_at("kernel"));
        attr_ints(p, "strides", n.ints_at("strides"));
        attr_ints(p, "pads", n.ints_at("pads"));
        if (n.op == GraphOp::kAvgPool) attr_int(p, "count_include_pad", n.int_at("count_include_pad"));
        return;
      }
      case GraphOp::kPadReflect: {
        auto* p = node("Pad", n.name, {in[0], helper_longs(n.name + "/pads", n.ints_at("pads"))}, out);
        attr_string(p, "mode", "reflect");
        return;
      }
      case GraphOp::kResizeBilinear: {
        // Opset 17's Resize takes full output sizes: [N, C] of the input + static [h, w].
        const std::string nc = n.name + "/batch_channels";
        auto* shape = node("Shape", n.name + "/shape", {in[0]}, {nc});
        attr_int(shape, "start", 0);
        attr_int(shape, "end", 2);
        const std::string sizes = n.name + "/sizes";
        auto* cat = node("Concat", n.name + "/concat_sizes",
                         {nc, helper_longs(n.name + "/hw", n.ints_at("sizes"))}, {sizes});
        attr_int(cat, "axis", 0);
        auto* p = node("Resize", n.name, {in[0], "", "", sizes}, out);
        attr_string(p, "mode", "linear");
        attr_string(p, "coordinate_transformation_mode", "half_pixel");
        return;
      }
      case GraphOp::kReshape:
        node("Reshape", n.name, {in[0], helper_longs(n.name + "/shape", n.ints_at("shape"))}, out);
        return;
      case GraphOp::kReduceSum: {
        auto* p = node("ReduceSum", n.name, {in[0], helper_longs(n.name + "/axes", n.ints_at("axes"))}, out);
        attr_int(p, "keepdims", n.int_at("keepdims"));
        return;
      }
      case GraphOp::kTopK: {
        auto* p = node("TopK", n.name, {in[0], helper_longs(n.name + "/k", {n.int_at("k")})}, out);
        attr_int(p, "axis", n.int_at("axis"));
        attr_int(p, "largest", n.int_at("largest"));
        attr_int(p, "sorted", 1);
        return;
      }
      default:
        break;
    }
    throw std::logic_error("ONNX writer: unknown op");
  }
};

}  // namespace

void write_onnx(const ExportGraph& graph, const std::filesystem::path& path,
                const OnnxWriteOptions& options) {
  const std::string data_name = path.filename().string() + ".data";
  OnnxLowering lowering(graph, options, data_name);
  const onnx::ModelProto model = lowering.build();
  std::string bytes;
  if (!model.SerializeToString(&bytes))
    throw UserError("cannot serialise the ONNX model for " + path.string() +
                    " (over protobuf's 2 GB limit?)");
  try {
    if (lowering.external())
      write_file_atomically(path.parent_path() / data_name, lowering.external_data());
    write_file_atomically(path, bytes);
  } catch (const UserError&) {
    throw;
  } catch (const std::exception& e) {
    throw UserError("cannot write the ONNX model " + path.string() + ": " + e.what());
  }
}

}  // namespace patchcore
