// OpenVINO IR v11 writer: ExportGraph -> .xml (pugixml) + .bin, see openvino_writer.h.
#include "export/openvino_writer.h"

#include <pugixml.hpp>

#include <map>
#include <sstream>
#include <stdexcept>

#include "io/atomic_file.h"
#include "io/error.h"

namespace patchcore {

namespace {

using Shape = std::vector<int64_t>;
using Attrs = std::vector<std::pair<std::string, std::string>>;

// Integer lists as OpenVINO's serializer writes them: "1, 1".
std::string join_ints(const std::vector<int64_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s;
}

std::string format_float(double v) {
  std::ostringstream s;
  s.precision(9);
  s << v;
  return s.str();
}

enum class Precision { kFP32, kFP16, kI64 };
const char* precision_name(Precision p) {
  return p == Precision::kFP32 ? "FP32" : p == Precision::kFP16 ? "FP16" : "I64";
}
const char* element_type_name(Precision p) {
  return p == Precision::kFP32 ? "f32" : p == Precision::kFP16 ? "f16" : "i64";
}

struct Port {
  Precision precision;
  Shape dims;
  std::string names;  // tensor names (only on the model's input and outputs)
};

struct Layer {
  int id;
  std::string name, type, version;
  Attrs data;
  std::vector<Port> inputs, outputs;
  bool decompression = false;  // rt_info of an fp16 Convert
};

struct Endpoint {
  int layer;
  int port;  // absolute port id (inputs first, then outputs)
};

class IrLowering {
 public:
  IrLowering(const ExportGraph& g, const IrWriteOptions& o) : g_(g), options_(o) {}

  void build() {
    value_port_.assign(g_.values.size(), Endpoint{-1, -1});
    const auto& in = g_.values[g_.input];
    Attrs data = {{"shape", shape_attr(in.shape)}, {"element_type", "f32"}};
    const int p = add_layer(in.name, "Parameter", "opset1", std::move(data), {},
                            {{Precision::kFP32, in.shape, in.name}});
    value_port_[g_.input] = {p, 0};
    for (const auto& n : g_.nodes) lower(n);
    for (int id : g_.outputs) {
      const auto& v = g_.values[id];
      Endpoint src = value_port_[id];
      layers_[src.layer].outputs[src.port - layers_[src.layer].inputs.size()].names = v.name;
      const int r = add_layer(v.name + "/sink_port_0", "Result", "opset1", {},
                              {{Precision::kFP32, v.shape, ""}}, {});
      connect(src, r, 0);
    }
  }

  std::string xml() const {
    pugi::xml_document doc;
    auto decl = doc.append_child(pugi::node_declaration);
    decl.append_attribute("version") = "1.0";
    auto net = doc.append_child("net");
    net.append_attribute("name") = "patchcore";
    net.append_attribute("version") = kOpenVinoIrVersion;
    auto layers = net.append_child("layers");
    for (const auto& l : layers_) {
      auto x = layers.append_child("layer");
      x.append_attribute("id") = l.id;
      x.append_attribute("name") = l.name.c_str();
      x.append_attribute("type") = l.type.c_str();
      x.append_attribute("version") = l.version.c_str();
      if (!l.data.empty()) {
        auto d = x.append_child("data");
        for (const auto& [k, v] : l.data) d.append_attribute(k.c_str()) = v.c_str();
      }
      if (l.decompression) {
        auto rt = x.append_child("rt_info").append_child("attribute");
        rt.append_attribute("name") = "decompression";
        rt.append_attribute("version") = "0";
      }
      int port_id = 0;
      auto ports = [&](const char* tag, const std::vector<Port>& ps) {
        if (ps.empty()) return;
        auto group = x.append_child(tag);
        for (const auto& p : ps) {
          auto px = group.append_child("port");
          px.append_attribute("id") = port_id++;
          px.append_attribute("precision") = precision_name(p.precision);
          if (!p.names.empty()) px.append_attribute("names") = p.names.c_str();
          for (int64_t d : p.dims) px.append_child("dim").text().set(std::to_string(d).c_str());
        }
      };
      ports("input", l.inputs);
      ports("output", l.outputs);
    }
    auto edges = net.append_child("edges");
    for (const auto& e : edges_) {
      auto x = edges.append_child("edge");
      x.append_attribute("from-layer") = e.first.layer;
      x.append_attribute("from-port") = e.first.port;
      x.append_attribute("to-layer") = e.second.layer;
      x.append_attribute("to-port") = e.second.port;
    }
    auto rt = net.append_child("rt_info");
    rt.append_child("patchcore");  // first, also when empty
    for (const auto& [k, v] : g_.metadata) {
      const IrRtInfoKey key = ir_rt_info_key(k);
      pugi::xml_node section = rt.child(key.section.c_str());
      if (!section) section = rt.append_child(key.section.c_str());
      section.append_child(key.name.c_str()).append_attribute("value") = v.c_str();
    }
    std::ostringstream out;
    doc.save(out, "    ", pugi::format_default, pugi::encoding_utf8);
    return out.str();
  }

  const std::string& bin() const { return bin_; }

 private:
  const ExportGraph& g_;
  IrWriteOptions options_;
  std::vector<Layer> layers_;
  std::vector<std::pair<Endpoint, Endpoint>> edges_;
  std::vector<Endpoint> value_port_;
  std::string bin_;

  static std::string shape_attr(const Shape& s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + (s[i] < 0 ? "?" : std::to_string(s[i]));
    return out;
  }

  int add_layer(const std::string& name, const std::string& type, const std::string& version, Attrs data,
                std::vector<Port> inputs, std::vector<Port> outputs) {
    const int id = static_cast<int>(layers_.size());
    layers_.push_back({id, name, type, version, std::move(data), std::move(inputs), std::move(outputs), false});
    return id;
  }
  Endpoint out(int layer, int k = 0) const {
    return {layer, static_cast<int>(layers_[layer].inputs.size()) + k};
  }
  void connect(Endpoint from, int to_layer, int to_port) { edges_.push_back({from, {to_layer, to_port}}); }

  const Port& port_of(Endpoint e) const {
    const auto& l = layers_[e.layer];
    return l.outputs.at(e.port - l.inputs.size());
  }

  // A Const (fp16: f16 Const + Convert) holding `t`, returns its f32/i64 output.
  Endpoint constant(const std::string& name, const torch::Tensor& t) {
    const bool is_float = t.scalar_type() == torch::kFloat;
    const bool half = is_float && options_.fp16;
    const auto data = (half ? t.to(torch::kHalf) : t).contiguous();
    const Precision p = half ? Precision::kFP16 : is_float ? Precision::kFP32 : Precision::kI64;
    while (bin_.size() % kOpenVinoBinAlignment) bin_.push_back('\0');
    const auto offset = static_cast<int64_t>(bin_.size());
    const auto size = data.numel() * data.element_size();
    bin_.append(static_cast<const char*>(data.data_ptr()), static_cast<size_t>(size));
    const Shape shape = t.sizes().vec();
    Attrs attrs = {{"element_type", element_type_name(p)}, {"shape", join_ints(shape)},
                   {"offset", std::to_string(offset)}, {"size", std::to_string(size)}};
    const int c = add_layer(name, "Const", "opset1", std::move(attrs), {}, {{p, shape, ""}});
    if (!half) return out(c);
    const int cv = add_layer(name + "/decompression", "Convert", "opset1", {{"destination_type", "f32"}},
                             {{Precision::kFP16, shape, ""}}, {{Precision::kFP32, shape, ""}});
    layers_[cv].decompression = true;
    connect(out(c), cv, 0);
    return out(cv);
  }
  Endpoint longs(const std::string& name, const std::vector<int64_t>& v, bool scalar = false) {
    auto t = torch::tensor(v, torch::kLong);
    if (scalar) t = t.reshape({});
    return constant(name, t);
  }

  Endpoint value(int id) {
    if (value_port_[id].layer < 0) {
      const auto& v = g_.values[id];
      if (!v.is_constant()) throw std::logic_error("IR writer: value used before defined: " + v.name);
      value_port_[id] = constant(v.name, v.constant);
    }
    return value_port_[id];
  }

  // Adds an op layer whose inputs are the given endpoints and whose outputs have the
  // given shapes/precisions; returns the layer id.
  int op(const std::string& name, const std::string& type, const std::string& version, Attrs data,
         const std::vector<Endpoint>& inputs, std::vector<Port> outputs) {
    std::vector<Port> in_ports;
    for (const auto& e : inputs) {
      Port p = port_of(e);
      p.names.clear();
      in_ports.push_back(p);
    }
    const int l = add_layer(name, type, version, std::move(data), std::move(in_ports), std::move(outputs));
    for (size_t i = 0; i < inputs.size(); ++i) connect(inputs[i], l, static_cast<int>(i));
    return l;
  }

  Port out_port(int value_id) const {
    const auto& v = g_.values[value_id];
    return {v.type == ValueType::kInt64 ? Precision::kI64 : Precision::kFP32, v.shape, ""};
  }

  // Lowers a node with a 1:1 layer; graph inputs first, then `extra` constant inputs.
  void simple(const GraphNode& n, const std::string& type, const std::string& version, Attrs data,
              std::vector<Endpoint> extra = {}) {
    std::vector<Endpoint> ins;
    for (int id : n.inputs) ins.push_back(value(id));
    ins.insert(ins.end(), extra.begin(), extra.end());
    std::vector<Port> outs;
    for (int id : n.outputs) outs.push_back(out_port(id));
    const int l = op(n.name, type, version, std::move(data), ins, std::move(outs));
    for (size_t i = 0; i < n.outputs.size(); ++i) value_port_[n.outputs[i]] = out(l, static_cast<int>(i));
  }

  static Attrs numpy() { return {{"auto_broadcast", "numpy"}}; }

  // Ops that become one IR layer with the same inputs: fixed attributes, plus integer
  // attributes copied under the same name.
  struct DirectOp {
    const char* type;
    const char* version;
    Attrs fixed;
    std::vector<const char*> copied;
  };
  static const std::map<GraphOp, DirectOp>& direct_ops() {
    static const std::map<GraphOp, DirectOp> table = {
        {GraphOp::kRelu, {"ReLU", "opset1", {}, {}}},
        {GraphOp::kAdd, {"Add", "opset1", numpy(), {}}},
        {GraphOp::kSub, {"Subtract", "opset1", numpy(), {}}},
        {GraphOp::kMul, {"Multiply", "opset1", numpy(), {}}},
        {GraphOp::kSqrt, {"Sqrt", "opset1", {}, {}}},
        {GraphOp::kMatMul, {"MatMul", "opset1", {{"transpose_a", "false"}, {"transpose_b", "false"}}, {}}},
        {GraphOp::kConcat, {"Concat", "opset1", {}, {"axis"}}},
        {GraphOp::kGatherND, {"GatherND", "opset8", {}, {"batch_dims"}}},
        {GraphOp::kGatherElements, {"GatherElements", "opset6", {}, {"axis"}}},
        {GraphOp::kSoftmax, {"SoftMax", "opset8", {}, {"axis"}}},
    };
    return table;
  }

  void lower(const GraphNode& n) {
    if (const auto direct = direct_ops().find(n.op); direct != direct_ops().end()) {
      Attrs attrs = direct->second.fixed;
      for (const char* key : direct->second.copied) attrs.emplace_back(key, std::to_string(n.int_at(key)));
      simple(n, direct->second.type, direct->second.version, std::move(attrs));
      return;
    }
    switch (n.op) {
      case GraphOp::kConv: {
        const auto& s = n.ints_at("strides");
        const auto& p = n.ints_at("pads");
        Attrs attrs = {{"strides", join_ints(s)},          {"dilations", "1, 1"},
                       {"pads_begin", join_ints({p[0], p[1]})}, {"pads_end", join_ints({p[2], p[3]})},
                       {"auto_pad", "explicit"}};
        const auto& wv = g_.values.at(n.inputs[1]);
        const int64_t group = n.int_at("group");
        Endpoint w;
        std::string type = "Convolution";
        if (group == 1) {
          w = value(n.inputs[1]);
        } else {  // [O, I/g, kh, kw] -> [g, O/g, I/g, kh, kw]
          const auto& c = wv.constant;
          w = constant(wv.name, c.reshape({group, c.size(0) / group, c.size(1), c.size(2), c.size(3)}));
          type = "GroupConvolution";
        }
        const Port y = out_port(n.outputs[0]);
        const int conv = op(n.name, type, "opset1", std::move(attrs), {value(n.inputs[0]), w}, {y});
        // Bias as OpenVINO's converters emit it: Add with a [1, O, 1, 1] constant.
        const auto& bv = g_.values.at(n.inputs[2]);
        const Endpoint b = constant(bv.name, bv.constant.reshape({1, -1, 1, 1}));
        const int add = op(n.name + "/bias", "Add", "opset1", numpy(), {out(conv), b}, {y});
        value_port_[n.outputs[0]] = out(add);
        return;
      }
      case GraphOp::kClip:
        simple(n, "Clamp", "opset1", {{"min", format_float(n.float_at("min"))}, {"max", format_float(n.float_at("max"))}});
        return;
      case GraphOp::kMaxPool:
      case GraphOp::kAvgPool: {
        const auto& p = n.ints_at("pads");
        Attrs attrs = {{"strides", join_ints(n.ints_at("strides"))},
                       {"pads_begin", join_ints({p[0], p[1]})},
                       {"pads_end", join_ints({p[2], p[3]})},
                       {"kernel", join_ints(n.ints_at("kernel"))},
                       {"rounding_type", "floor"},
                       {"auto_pad", "explicit"}};
        if (n.op == GraphOp::kAvgPool) {
          attrs.insert(attrs.begin(), {"exclude-pad", n.int_at("count_include_pad") ? "false" : "true"});
          simple(n, "AvgPool", "opset1", std::move(attrs));
        } else {
          simple(n, "MaxPool", "opset1", std::move(attrs));
        }
        return;
      }
      case GraphOp::kPadReflect: {
        const auto& p = n.ints_at("pads");
        const std::vector<int64_t> begin(p.begin(), p.begin() + 4), end(p.begin() + 4, p.end());
        simple(n, "Pad", "opset1", {{"pad_mode", "reflect"}},
               {longs(n.name + "/pads_begin", begin), longs(n.name + "/pads_end", end)});
        return;
      }
      case GraphOp::kResizeBilinear:
        simple(n, "Interpolate", "opset11",
               {{"mode", "linear_onnx"},
                {"shape_calculation_mode", "sizes"},
                {"coordinate_transformation_mode", "half_pixel"},
                {"nearest_mode", "round_prefer_floor"},
                {"antialias", "false"},
                {"pads_begin", "0, 0, 0, 0"},
                {"pads_end", "0, 0, 0, 0"},
                {"cube_coeff", "-0.75"}},
               {longs(n.name + "/sizes", n.ints_at("sizes")), longs(n.name + "/axes", {2, 3})});
        return;
      case GraphOp::kTranspose:
        simple(n, "Transpose", "opset1", {}, {longs(n.name + "/order", n.ints_at("perm"))});
        return;
      case GraphOp::kReshape:
        simple(n, "Reshape", "opset1", {{"special_zero", "true"}}, {longs(n.name + "/shape", n.ints_at("shape"))});
        return;
      case GraphOp::kReduceSum:
        simple(n, "ReduceSum", "opset1", {{"keep_dims", n.int_at("keepdims") ? "true" : "false"}},
               {longs(n.name + "/axes", n.ints_at("axes"))});
        return;
      case GraphOp::kTopK:
        simple(n, "TopK", "opset11",
               {{"axis", std::to_string(n.int_at("axis"))},
                {"mode", n.int_at("largest") ? "max" : "min"},
                {"sort", "value"},
                {"index_element_type", "i64"},
                {"stable", "true"}},
               {longs(n.name + "/k", {n.int_at("k")}, /*scalar=*/true)});
        return;
      case GraphOp::kGather:
        simple(n, "Gather", "opset8", {{"batch_dims", "0"}},
               {longs(n.name + "/axis", {n.int_at("axis")}, /*scalar=*/true)});
        return;
      default:
        break;
    }
    throw std::logic_error("IR writer: unknown op");
  }
};

}  // namespace

IrRtInfoKey ir_rt_info_key(const std::string& metadata_key) {
  static const std::string kModelInfo = "model_info ", kPatchcore = "patchcore.";
  if (metadata_key.rfind(kModelInfo, 0) == 0) return {"model_info", metadata_key.substr(kModelInfo.size())};
  if (metadata_key.rfind(kPatchcore, 0) == 0) return {"patchcore", metadata_key.substr(kPatchcore.size())};
  return {"patchcore", metadata_key};
}

void write_openvino_ir(const ExportGraph& graph, const std::filesystem::path& xml_path,
                       const std::filesystem::path& bin_path, const IrWriteOptions& options) {
  IrLowering lowering(graph, options);
  lowering.build();
  const std::string xml = lowering.xml();
  try {
    write_file_atomically(bin_path, lowering.bin());
    write_file_atomically(xml_path, xml);
  } catch (const UserError&) {
    throw;
  } catch (const std::exception& e) {
    throw UserError("cannot write the OpenVINO IR " + xml_path.string() + ": " + e.what());
  }
}

}  // namespace patchcore
