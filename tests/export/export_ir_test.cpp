// The OpenVINO IR export, checked three ways (OpenVINO itself cannot be installed here):
//  1. structural validation against the OpenVINO operation specifications;
//  2. the written .xml/.bin read back, turned into ONNX op by op, run in ONNX Runtime
//     and compared with the native pipeline;
//  3. a golden comparison with the layout OpenVINO's own serializer writes.
#include <gtest/gtest.h>

#include <onnx/onnx_pb.h>
#include <pugixml.hpp>

#include <algorithm>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "export/graph.h"
#include "export/openvino_writer.h"
#include "export_test_support.h"
#include "test_support.h"

namespace patchcore {
namespace {

using testing::relative_error;
using testing::TempDir;

// ---- reading an IR back --------------------------------------------------------------

struct IrPort {
  int id;
  std::string precision, names;
  std::vector<int64_t> dims;
};
struct IrLayer {
  int id;
  std::string name, type, version;
  std::map<std::string, std::string> data;
  std::vector<IrPort> inputs, outputs;
  bool decompression = false;
};
struct IrModel {
  int version = 0;
  std::vector<IrLayer> layers;
  std::map<int, size_t> index;                                     // layer id -> position
  std::map<std::pair<int, int>, std::pair<int, int>> edge_to_src;  // (to layer, port) -> (from layer, port)
  std::vector<std::tuple<int, int, int, int>> edges;
  std::string bin;
  const IrLayer& layer(int id) const { return layers.at(index.at(id)); }
};

std::vector<int64_t> parse_ints(const std::string& s) {
  std::vector<int64_t> v;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    item.erase(std::remove(item.begin(), item.end(), ' '), item.end());
    if (!item.empty()) v.push_back(item == "?" ? -1 : std::stoll(item));
  }
  return v;
}

IrModel read_ir(const std::filesystem::path& xml, const std::filesystem::path& bin) {
  pugi::xml_document doc;
  const auto ok = doc.load_file(xml.c_str());
  if (!ok) throw std::runtime_error("bad XML: " + std::string(ok.description()));
  IrModel m;
  const auto net = doc.child("net");
  m.version = net.attribute("version").as_int();
  for (auto l : net.child("layers").children("layer")) {
    IrLayer layer;
    layer.id = l.attribute("id").as_int();
    layer.name = l.attribute("name").value();
    layer.type = l.attribute("type").value();
    layer.version = l.attribute("version").value();
    for (auto a : l.child("data").attributes()) layer.data[a.name()] = a.value();
    for (auto a : l.child("rt_info").children("attribute"))
      layer.decompression |= std::string(a.attribute("name").value()) == "decompression";
    auto ports = [](pugi::xml_node group, std::vector<IrPort>& out) {
      for (auto p : group.children("port")) {
        IrPort port{p.attribute("id").as_int(), p.attribute("precision").value(), p.attribute("names").value(), {}};
        for (auto d : p.children("dim")) port.dims.push_back(std::stoll(d.text().get()));
        out.push_back(port);
      }
    };
    ports(l.child("input"), layer.inputs);
    ports(l.child("output"), layer.outputs);
    m.index[layer.id] = m.layers.size();
    m.layers.push_back(layer);
  }
  for (auto e : net.child("edges").children("edge")) {
    const int fl = e.attribute("from-layer").as_int(), fp = e.attribute("from-port").as_int();
    const int tl = e.attribute("to-layer").as_int(), tp = e.attribute("to-port").as_int();
    m.edges.emplace_back(fl, fp, tl, tp);
    m.edge_to_src[{tl, tp}] = {fl, fp};
  }
  m.bin = testing::read_file(bin);
  return m;
}

int64_t element_size(const std::string& et) {
  if (et == "f32" || et == "i32") return 4;
  if (et == "f16") return 2;
  if (et == "i64") return 8;
  return -1;
}
std::string precision_of(const std::string& et) {
  return et == "f32" ? "FP32" : et == "f16" ? "FP16" : et == "i64" ? "I64" : "?";
}

// Values of an i64 Const layer.
std::vector<int64_t> const_longs(const IrModel& m, const IrLayer& c) {
  EXPECT_EQ(c.type, "Const");
  EXPECT_EQ(c.data.at("element_type"), "i64");
  const int64_t offset = std::stoll(c.data.at("offset")), size = std::stoll(c.data.at("size"));
  std::vector<int64_t> v(static_cast<size_t>(size / 8));
  std::memcpy(v.data(), m.bin.data() + offset, static_cast<size_t>(size));
  return v;
}

// ---- 1. structural validation against the specification -----------------------------

struct OpSpec {
  std::string version;
  int min_inputs, max_inputs, outputs;
  std::vector<std::string> attributes;                    // exactly these (all required here)
  std::map<std::string, std::set<std::string>> enums;     // allowed values
};

const std::map<std::string, OpSpec>& op_specs() {
  const std::set<std::string> boolean = {"true", "false"};
  const std::set<std::string> auto_pad = {"explicit", "same_upper", "same_lower", "valid"};
  const std::set<std::string> broadcast = {"none", "numpy", "pdpd"};
  static const std::map<std::string, OpSpec> specs = {
      {"Parameter", {"opset1", 0, 0, 1, {"shape", "element_type"}, {}}},
      {"Const", {"opset1", 0, 0, 1, {"element_type", "shape", "offset", "size"}, {{"element_type", {"f32", "f16", "i64"}}}}},
      {"Convert", {"opset1", 1, 1, 1, {"destination_type"}, {{"destination_type", {"f32"}}}}},
      {"Convolution", {"opset1", 2, 2, 1, {"strides", "dilations", "pads_begin", "pads_end", "auto_pad"}, {{"auto_pad", auto_pad}}}},
      {"GroupConvolution", {"opset1", 2, 2, 1, {"strides", "dilations", "pads_begin", "pads_end", "auto_pad"}, {{"auto_pad", auto_pad}}}},
      {"Add", {"opset1", 2, 2, 1, {"auto_broadcast"}, {{"auto_broadcast", broadcast}}}},
      {"Subtract", {"opset1", 2, 2, 1, {"auto_broadcast"}, {{"auto_broadcast", broadcast}}}},
      {"Multiply", {"opset1", 2, 2, 1, {"auto_broadcast"}, {{"auto_broadcast", broadcast}}}},
      {"Sqrt", {"opset1", 1, 1, 1, {}, {}}},
      {"ReLU", {"opset1", 1, 1, 1, {}, {}}},
      {"Clamp", {"opset1", 1, 1, 1, {"min", "max"}, {}}},
      {"MaxPool", {"opset1", 1, 1, 1, {"strides", "pads_begin", "pads_end", "kernel", "rounding_type", "auto_pad"},
                   {{"rounding_type", {"floor", "ceil"}}, {"auto_pad", auto_pad}}}},
      {"AvgPool", {"opset1", 1, 1, 1, {"strides", "pads_begin", "pads_end", "kernel", "exclude-pad", "rounding_type", "auto_pad"},
                   {{"rounding_type", {"floor", "ceil"}}, {"auto_pad", auto_pad}, {"exclude-pad", boolean}}}},
      {"Pad", {"opset1", 3, 4, 1, {"pad_mode"}, {{"pad_mode", {"constant", "edge", "reflect", "symmetric"}}}}},
      {"MatMul", {"opset1", 2, 2, 1, {"transpose_a", "transpose_b"}, {{"transpose_a", boolean}, {"transpose_b", boolean}}}},
      {"Interpolate", {"opset11", 2, 3, 1,
                       {"mode", "shape_calculation_mode", "coordinate_transformation_mode", "nearest_mode", "antialias",
                        "pads_begin", "pads_end", "cube_coeff"},
                       {{"mode", {"nearest", "linear", "linear_onnx", "cubic", "bilinear_pillow", "bicubic_pillow"}},
                        {"shape_calculation_mode", {"sizes", "scales"}},
                        {"coordinate_transformation_mode",
                         {"half_pixel", "pytorch_half_pixel", "asymmetric", "tf_half_pixel_for_nn", "align_corners"}},
                        {"nearest_mode", {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil", "simple"}},
                        {"antialias", boolean}}}},
      {"Concat", {"opset1", 1, 1000, 1, {"axis"}, {}}},
      {"Transpose", {"opset1", 2, 2, 1, {}, {}}},
      {"Reshape", {"opset1", 2, 2, 1, {"special_zero"}, {{"special_zero", boolean}}}},
      {"ReduceSum", {"opset1", 2, 2, 1, {"keep_dims"}, {{"keep_dims", boolean}}}},
      {"TopK", {"opset11", 2, 2, 2, {"axis", "mode", "sort", "index_element_type", "stable"},
                {{"mode", {"min", "max"}}, {"sort", {"value", "index", "none"}}, {"index_element_type", {"i32", "i64"}},
                 {"stable", boolean}}}},
      {"Gather", {"opset8", 3, 3, 1, {"batch_dims"}, {}}},
      {"GatherND", {"opset8", 2, 2, 1, {"batch_dims"}, {}}},
      {"GatherElements", {"opset6", 2, 2, 1, {"axis"}, {}}},
      {"SoftMax", {"opset8", 1, 1, 1, {"axis"}, {}}},
      {"Result", {"opset1", 1, 1, 0, {}, {}}},
  };
  return specs;
}

int64_t conv_out(int64_t in, int64_t k, int64_t s, int64_t p0, int64_t p1) { return (in + p0 + p1 - k) / s + 1; }

// Returns every violation found (empty = valid).
std::vector<std::string> validate_ir(const IrModel& m) {
  std::vector<std::string> errors;
  auto fail = [&](const IrLayer& l, const std::string& what) {
    errors.push_back("layer " + std::to_string(l.id) + " (" + l.type + " " + l.name + "): " + what);
  };
  if (m.version != 11) errors.push_back("net version is not 11");
  std::set<std::string> precisions = {"FP32", "FP16", "I64"};
  std::map<std::pair<int, int>, const IrPort*> out_ports, in_ports;
  for (const auto& l : m.layers) {
    auto it = op_specs().find(l.type);
    if (it == op_specs().end()) {
      fail(l, "type not in the specification table");
      continue;
    }
    const OpSpec& spec = it->second;
    if (l.version != spec.version) fail(l, "version " + l.version + ", spec " + spec.version);
    for (const auto& a : spec.attributes)
      if (!l.data.count(a)) fail(l, "missing attribute " + a);
    for (const auto& [k, v] : l.data) {
      if (std::find(spec.attributes.begin(), spec.attributes.end(), k) == spec.attributes.end())
        fail(l, "unknown attribute " + k);
      auto e = spec.enums.find(k);
      if (e != spec.enums.end() && !e->second.count(v)) fail(l, "attribute " + k + "=\"" + v + "\" not allowed");
    }
    if (static_cast<int>(l.inputs.size()) < spec.min_inputs || static_cast<int>(l.inputs.size()) > spec.max_inputs)
      fail(l, "has " + std::to_string(l.inputs.size()) + " inputs");
    if (static_cast<int>(l.outputs.size()) != spec.outputs) fail(l, "has " + std::to_string(l.outputs.size()) + " outputs");
    int expected_id = 0;
    for (const auto* group : {&l.inputs, &l.outputs})
      for (const auto& p : *group) {
        if (p.id != expected_id++) fail(l, "port ids are not consecutive");
        if (!precisions.count(p.precision)) fail(l, "port precision " + p.precision);
        for (int64_t d : p.dims)
          if (d == 0 || d < -1) fail(l, "bad dim");
      }
    for (const auto& p : l.inputs) in_ports[{l.id, p.id}] = &p;
    for (const auto& p : l.outputs) out_ports[{l.id, p.id}] = &p;

    auto in_dims = [&](size_t i) { return l.inputs.at(i).dims; };
    auto out_dims = [&](size_t i) { return l.outputs.at(i).dims; };
    if (l.type == "Const" && l.data.count("size")) {
      const auto shape = parse_ints(l.data.at("shape"));
      int64_t numel = 1;
      for (int64_t d : shape) numel *= d;
      const int64_t offset = std::stoll(l.data.at("offset")), size = std::stoll(l.data.at("size"));
      if (size != numel * element_size(l.data.at("element_type"))) fail(l, "size does not match shape");
      if (offset % kOpenVinoBinAlignment) fail(l, "offset not aligned");
      if (offset < 0 || offset + size > static_cast<int64_t>(m.bin.size())) fail(l, "offset/size outside the .bin");
      if (out_dims(0) != shape) fail(l, "port dims differ from shape");
      if (l.outputs[0].precision != precision_of(l.data.at("element_type"))) fail(l, "port precision differs");
    }
    if (l.type == "Parameter" && !l.outputs.empty()) {
      if (parse_ints(l.data.at("shape")) != out_dims(0)) fail(l, "port dims differ from shape");
      if (l.outputs[0].precision != precision_of(l.data.at("element_type"))) fail(l, "port precision differs");
    }
    if (l.type == "Convert" && !l.inputs.empty()) {
      if (l.inputs[0].precision != "FP16" || l.outputs[0].precision != "FP32" || !l.decompression)
        fail(l, "not an f16 -> f32 decompression Convert");
      if (in_dims(0) != out_dims(0)) fail(l, "changes the shape");
    }
    if ((l.type == "Convolution" || l.type == "GroupConvolution") && l.inputs.size() == 2) {
      const auto x = in_dims(0), w = in_dims(1), y = out_dims(0);
      const auto s = parse_ints(l.data.at("strides")), pb = parse_ints(l.data.at("pads_begin")),
                 pe = parse_ints(l.data.at("pads_end"));
      const bool group = l.type == "GroupConvolution";
      const size_t k = group ? 3 : 2;
      if (w.size() != (group ? 5u : 4u)) fail(l, "weights rank");
      else {
        const int64_t out_c = group ? w[0] * w[1] : w[0], in_c = group ? w[0] * w[2] : w[1];
        if (x[1] != in_c || y[1] != out_c) fail(l, "channels");
        if (y[2] != conv_out(x[2], w[k], s[0], pb[0], pe[0]) || y[3] != conv_out(x[3], w[k + 1], s[1], pb[1], pe[1]))
          fail(l, "spatial output dims");
        if (y[0] != x[0]) fail(l, "batch");
      }
    }
    if ((l.type == "MaxPool" || l.type == "AvgPool") && !l.inputs.empty()) {
      const auto x = in_dims(0), y = out_dims(0), kk = parse_ints(l.data.at("kernel")),
                 s = parse_ints(l.data.at("strides")), pb = parse_ints(l.data.at("pads_begin")),
                 pe = parse_ints(l.data.at("pads_end"));
      if (y[2] != conv_out(x[2], kk[0], s[0], pb[0], pe[0]) || y[3] != conv_out(x[3], kk[1], s[1], pb[1], pe[1]) ||
          y[1] != x[1])
        fail(l, "output dims");
    }
    if (l.type == "TopK" && l.outputs.size() == 2) {
      if (l.outputs[1].precision != "I64") fail(l, "indices precision");
      if (l.outputs[0].dims != l.outputs[1].dims) fail(l, "values/indices dims differ");
      if (!l.inputs[1].dims.empty()) fail(l, "k must be a scalar");
    }
    if (l.type == "MatMul" && l.inputs.size() == 2) {
      const auto a = in_dims(0), b = in_dims(1), y = out_dims(0);
      if (a.back() != b[b.size() - 2] || y[y.size() - 2] != a[a.size() - 2] || y.back() != b.back())
        fail(l, "matrix dims");
    }
    if ((l.type == "Add" || l.type == "Subtract" || l.type == "Multiply") && l.inputs.size() == 2) {
      const auto a = in_dims(0), b = in_dims(1), y = out_dims(0);
      for (size_t i = 0; i < y.size(); ++i) {
        const int64_t da = i + a.size() >= y.size() ? a[i + a.size() - y.size()] : 1;
        const int64_t db = i + b.size() >= y.size() ? b[i + b.size() - y.size()] : 1;
        const int64_t expect = da == 1 ? db : da;
        if (y[i] != expect || (da != db && da != 1 && db != 1)) fail(l, "broadcast dims");
      }
    }
  }
  // Edges: real ports, same precision and dims on both ends, one producer per input.
  std::map<std::pair<int, int>, int> fan_in;
  for (const auto& [fl, fp, tl, tp] : m.edges) {
    auto src = out_ports.find({fl, fp});
    auto dst = in_ports.find({tl, tp});
    if (src == out_ports.end() || dst == in_ports.end()) {
      errors.push_back("edge " + std::to_string(fl) + ":" + std::to_string(fp) + " -> " + std::to_string(tl) + ":" +
                       std::to_string(tp) + " names a missing port");
      continue;
    }
    if (src->second->precision != dst->second->precision || src->second->dims != dst->second->dims)
      errors.push_back("edge into layer " + std::to_string(tl) + " port " + std::to_string(tp) + ": mismatched port");
    ++fan_in[{tl, tp}];
  }
  for (const auto& [key, port] : in_ports)
    if (fan_in[key] != 1) errors.push_back("input port " + std::to_string(key.first) + ":" + std::to_string(key.second) + " has " + std::to_string(fan_in[key]) + " producers");
  // Acyclic (Kahn).
  std::map<int, int> indegree;
  std::map<int, std::vector<int>> next;
  for (const auto& l : m.layers) indegree[l.id] = 0;
  for (const auto& [fl, fp, tl, tp] : m.edges) {
    ++indegree[tl];
    next[fl].push_back(tl);
  }
  std::vector<int> ready;
  for (const auto& [id, d] : indegree)
    if (!d) ready.push_back(id);
  size_t visited = 0;
  while (!ready.empty()) {
    const int id = ready.back();
    ready.pop_back();
    ++visited;
    for (int n : next[id])
      if (--indegree[n] == 0) ready.push_back(n);
  }
  if (visited != m.layers.size()) errors.push_back("the graph has a cycle");
  return errors;
}

// ---- 2. IR -> ONNX, op by op ---------------------------------------------------------

class IrToOnnx {
 public:
  explicit IrToOnnx(const IrModel& m) : m_(m) {}

  onnx::ModelProto convert() {
    onnx::ModelProto model;
    model.set_ir_version(8);
    auto* opset = model.add_opset_import();
    opset->set_domain("");
    opset->set_version(17);
    g_ = model.mutable_graph();
    g_->set_name("from_openvino_ir");
    for (int id : topological_order()) lower(m_.layer(id));
    return model;
  }

 private:
  const IrModel& m_;
  onnx::GraphProto* g_ = nullptr;
  int helper_ = 0;

  std::vector<int> topological_order() const {
    std::map<int, int> indegree;
    std::map<int, std::vector<int>> next;
    for (const auto& l : m_.layers) indegree[l.id] = 0;
    for (const auto& [fl, fp, tl, tp] : m_.edges) {
      ++indegree[tl];
      next[fl].push_back(tl);
    }
    std::vector<int> ready, order;
    for (const auto& [id, d] : indegree)
      if (!d) ready.push_back(id);
    while (!ready.empty()) {
      const int id = ready.front();
      ready.erase(ready.begin());
      order.push_back(id);
      for (int n : next[id])
        if (--indegree[n] == 0) ready.push_back(n);
    }
    return order;
  }

  std::string out_name(int layer, int port) const {
    const auto& l = m_.layer(layer);
    for (const auto& p : l.outputs)
      if (p.id == port && !p.names.empty()) return p.names;
    return "L" + std::to_string(layer) + "_" + std::to_string(port);
  }
  std::string in_name(const IrLayer& l, size_t i) const {
    const auto src = m_.edge_to_src.at({l.id, l.inputs.at(i).id});
    return out_name(src.first, src.second);
  }
  const IrLayer& in_layer(const IrLayer& l, size_t i) const {
    return m_.layer(m_.edge_to_src.at({l.id, l.inputs.at(i).id}).first);
  }
  std::vector<int64_t> in_const(const IrLayer& l, size_t i) const { return const_longs(m_, in_layer(l, i)); }
  std::string out0(const IrLayer& l) const { return out_name(l.id, l.outputs.at(0).id); }

  onnx::NodeProto* node(const std::string& op, std::vector<std::string> in, std::vector<std::string> out) {
    auto* n = g_->add_node();
    n->set_op_type(op);
    n->set_name(out.at(0) + "/" + op);
    for (auto& s : in) n->add_input(s);
    for (auto& s : out) n->add_output(s);
    return n;
  }
  static void attr_i(onnx::NodeProto* n, const char* k, int64_t v) {
    auto* a = n->add_attribute();
    a->set_name(k);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  static void attr_is(onnx::NodeProto* n, const char* k, const std::vector<int64_t>& v) {
    auto* a = n->add_attribute();
    a->set_name(k);
    a->set_type(onnx::AttributeProto::INTS);
    for (auto x : v) a->add_ints(x);
  }
  static void attr_s(onnx::NodeProto* n, const char* k, const std::string& v) {
    auto* a = n->add_attribute();
    a->set_name(k);
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s(v);
  }
  std::string longs(const std::vector<int64_t>& v) {
    const std::string name = "helper_" + std::to_string(helper_++);
    auto* t = g_->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(static_cast<int64_t>(v.size()));
    t->set_raw_data(v.data(), v.size() * 8);
    return name;
  }
  std::string float_scalar(double v) {
    const std::string name = "helper_" + std::to_string(helper_++);
    auto* t = g_->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    const float f = static_cast<float>(v);
    t->set_raw_data(&f, 4);
    return name;
  }
  static std::vector<int64_t> concat(std::vector<int64_t> a, const std::vector<int64_t>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  }
  void value_info(onnx::ValueInfoProto* vi, const std::string& name, const IrPort& p) {
    vi->set_name(name);
    auto* t = vi->mutable_type()->mutable_tensor_type();
    t->set_elem_type(p.precision == "I64" ? onnx::TensorProto::INT64 : onnx::TensorProto::FLOAT);
    for (auto d : p.dims) {
      auto* dim = t->mutable_shape()->add_dim();
      if (d < 0) dim->set_dim_param("batch");
      else dim->set_dim_value(d);
    }
  }

  void lower(const IrLayer& l) {
    const auto& t = l.type;
    auto in = [&](size_t i) { return in_name(l, i); };
    const std::string y = l.outputs.empty() ? "" : out0(l);
    if (t == "Parameter") {
      value_info(g_->add_input(), y, l.outputs[0]);
    } else if (t == "Const") {
      auto* c = g_->add_initializer();
      c->set_name(y);
      const auto& et = l.data.at("element_type");
      c->set_data_type(et == "f32" ? onnx::TensorProto::FLOAT : et == "f16" ? onnx::TensorProto::FLOAT16
                                                                          : onnx::TensorProto::INT64);
      for (auto d : parse_ints(l.data.at("shape"))) c->add_dims(d);
      c->set_raw_data(m_.bin.substr(std::stoull(l.data.at("offset")), std::stoull(l.data.at("size"))));
    } else if (t == "Convert") {
      attr_i(node("Cast", {in(0)}, {y}), "to", onnx::TensorProto::FLOAT);
    } else if (t == "Convolution" || t == "GroupConvolution") {
      std::string w = in(1);
      auto wd = l.inputs[1].dims;
      int64_t group = 1;
      if (t == "GroupConvolution") {
        group = wd[0];
        const std::vector<int64_t> shape = {wd[0] * wd[1], wd[2], wd[3], wd[4]};
        const std::string r = y + "/weights";
        node("Reshape", {w, longs(shape)}, {r});
        w = r;
        wd = shape;
      }
      auto* n = node("Conv", {in(0), w}, {y});
      attr_is(n, "kernel_shape", {wd[2], wd[3]});
      attr_is(n, "strides", parse_ints(l.data.at("strides")));
      attr_is(n, "dilations", parse_ints(l.data.at("dilations")));
      attr_is(n, "pads", concat(parse_ints(l.data.at("pads_begin")), parse_ints(l.data.at("pads_end"))));
      attr_i(n, "group", group);
    } else if (t == "Add" || t == "Subtract" || t == "Multiply") {
      EXPECT_EQ(l.data.at("auto_broadcast"), "numpy");
      node(t == "Add" ? "Add" : t == "Subtract" ? "Sub" : "Mul", {in(0), in(1)}, {y});
    } else if (t == "Sqrt") {
      node("Sqrt", {in(0)}, {y});
    } else if (t == "ReLU") {
      node("Relu", {in(0)}, {y});
    } else if (t == "Clamp") {
      node("Clip", {in(0), float_scalar(std::stod(l.data.at("min"))), float_scalar(std::stod(l.data.at("max")))}, {y});
    } else if (t == "MaxPool" || t == "AvgPool") {
      auto* n = node(t == "MaxPool" ? "MaxPool" : "AveragePool", {in(0)}, {y});
      attr_is(n, "kernel_shape", parse_ints(l.data.at("kernel")));
      attr_is(n, "strides", parse_ints(l.data.at("strides")));
      attr_is(n, "pads", concat(parse_ints(l.data.at("pads_begin")), parse_ints(l.data.at("pads_end"))));
      EXPECT_EQ(l.data.at("rounding_type"), "floor");
      if (t == "AvgPool") attr_i(n, "count_include_pad", l.data.at("exclude-pad") == "false");
    } else if (t == "Pad") {
      const std::string pads = y + "/pads";
      attr_i(node("Concat", {in(1), in(2)}, {pads}), "axis", 0);
      attr_s(node("Pad", {in(0), pads}, {y}), "mode", l.data.at("pad_mode"));
    } else if (t == "MatMul") {
      EXPECT_EQ(l.data.at("transpose_a"), "false");
      EXPECT_EQ(l.data.at("transpose_b"), "false");
      node("MatMul", {in(0), in(1)}, {y});
    } else if (t == "Interpolate") {
      EXPECT_EQ(l.data.at("shape_calculation_mode"), "sizes");
      EXPECT_EQ(in_const(l, 2), (std::vector<int64_t>{2, 3}));
      const std::string nc = y + "/nc", sizes = y + "/sizes";
      auto* s = node("Shape", {in(0)}, {nc});
      attr_i(s, "start", 0);
      attr_i(s, "end", 2);
      attr_i(node("Concat", {nc, in(1)}, {sizes}), "axis", 0);
      auto* n = node("Resize", {in(0), "", "", sizes}, {y});
      const auto& mode = l.data.at("mode");
      attr_s(n, "mode", mode == "linear_onnx" ? "linear" : mode);
      attr_s(n, "coordinate_transformation_mode", l.data.at("coordinate_transformation_mode"));
    } else if (t == "Concat") {
      std::vector<std::string> ins;
      for (size_t i = 0; i < l.inputs.size(); ++i) ins.push_back(in(i));
      attr_i(node("Concat", ins, {y}), "axis", std::stoll(l.data.at("axis")));
    } else if (t == "Transpose") {
      attr_is(node("Transpose", {in(0)}, {y}), "perm", in_const(l, 1));
    } else if (t == "Reshape") {
      EXPECT_EQ(l.data.at("special_zero"), "true");  // ONNX Reshape's 0 = copy, allowzero=0
      node("Reshape", {in(0), in(1)}, {y});
    } else if (t == "ReduceSum") {
      attr_i(node("ReduceSum", {in(0), in(1)}, {y}), "keepdims", l.data.at("keep_dims") == "true");
    } else if (t == "TopK") {
      auto* n = node("TopK", {in(0), longs(in_const(l, 1))}, {y, out_name(l.id, l.outputs[1].id)});
      attr_i(n, "axis", std::stoll(l.data.at("axis")));
      attr_i(n, "largest", l.data.at("mode") == "max");
      attr_i(n, "sorted", l.data.at("sort") != "none");
    } else if (t == "Gather") {
      EXPECT_EQ(l.data.at("batch_dims"), "0");
      attr_i(node("Gather", {in(0), in(1)}, {y}), "axis", in_const(l, 2).at(0));
    } else if (t == "GatherND") {
      attr_i(node("GatherND", {in(0), in(1)}, {y}), "batch_dims", std::stoll(l.data.at("batch_dims")));
    } else if (t == "GatherElements") {
      attr_i(node("GatherElements", {in(0), in(1)}, {y}), "axis", std::stoll(l.data.at("axis")));
    } else if (t == "SoftMax") {
      attr_i(node("Softmax", {in(0)}, {y}), "axis", std::stoll(l.data.at("axis")));
    } else if (t == "Result") {
      value_info(g_->add_output(), in(0), l.inputs[0]);
    } else {
      ADD_FAILURE() << "IR -> ONNX: no translation for " << t;
    }
  }
};

using export_testing::RuntimeCase;

class IrExport : public ::testing::TestWithParam<RuntimeCase> {};

TEST_P(IrExport, IsValidAndComputesLikeNative) {
  const RuntimeCase c = GetParam();
  const auto model = export_testing::make_model(c, 9);
  TempDir dir;
  const auto xml = dir.path() / "model.xml", bin = dir.path() / "model.bin";
  write_openvino_ir(build_export_graph(model.source), xml, bin, {c.fp16});
  std::cout << "[ ir ] " << c.backbone << (c.fp16 ? " f16" : " f32") << ": .xml "
            << std::filesystem::file_size(xml) << " bytes, .bin " << std::filesystem::file_size(bin) << " bytes\n";
  const IrModel ir = read_ir(xml, bin);

  // 1. structure
  const auto errors = validate_ir(ir);
  for (const auto& e : errors) ADD_FAILURE() << e;
  EXPECT_TRUE(errors.empty());
  std::vector<std::string> results, names;
  for (const auto& l : ir.layers) {
    if (l.type == "Parameter") names.push_back(l.outputs[0].names);
    if (l.type == "Result") {
      const auto src = ir.edge_to_src.at({l.id, 0});
      for (const auto& p : ir.layer(src.first).outputs)
        if (p.id == src.second) results.push_back(p.names);
    }
    if (c.fp16 && l.type == "Const") EXPECT_NE(l.data.at("element_type"), "f32") << l.name;
  }
  EXPECT_EQ(names, std::vector<std::string>{"input"});
  EXPECT_EQ(results, (std::vector<std::string>{"anomaly_map", "pred_score"}));

  // 2. IR -> ONNX -> ONNX Runtime vs native
  if (!export_testing::onnxruntime_available())
    GTEST_SKIP() << "skipped the ONNX Runtime half: tests/runtime/node_modules is absent; run "
                    "scripts/install-onnxruntime.sh";
  const auto onnx_model = IrToOnnx(ir).convert();
  const auto onnx_path = dir.path() / "from_ir.onnx";
  {
    std::ofstream f(onnx_path, std::ios::binary);
    ASSERT_TRUE(onnx_model.SerializeToOstream(&f));
  }
  const double tolerance = c.fp16 ? 1e-2 : 1e-4;
  for (int64_t batch : {1, 3}) {
    const auto input = export_testing::test_input(batch, c.size, 300 + batch);
    const auto expected = export_testing::native_predict(model, input);
    const auto ort = export_testing::run_onnxruntime(onnx_path, input, dir.path() / ("run" + std::to_string(batch)));
    ASSERT_EQ(ort.output_names, (std::vector<std::string>{"anomaly_map", "pred_score"}));
    const double map_err = relative_error(ort.outputs.at("anomaly_map"), expected.anomaly_map);
    const double score_err = relative_error(ort.outputs.at("pred_score").view({batch}), expected.pred_score);
    std::cout << "[ ir->onnx ] " << c.backbone << (c.fp16 ? " f16" : " f32") << " batch " << batch
              << ": anomaly_map rel err " << map_err << ", pred_score rel err " << score_err << "\n";
    EXPECT_LT(map_err, tolerance);
    EXPECT_LT(score_err, tolerance);
  }
}

INSTANTIATE_TEST_SUITE_P(Backbones, IrExport, export_testing::runtime_cases(), export_testing::runtime_case_name);

TEST(IrExport, ValidatorCatchesBrokenFiles) {
  const auto model = export_testing::make_model("resnet18", {"layer2"}, 64, 9);
  TempDir dir;
  const auto xml = dir.path() / "m.xml", bin = dir.path() / "m.bin";
  write_openvino_ir(build_export_graph(model.source), xml, bin);
  IrModel ir = read_ir(xml, bin);
  ASSERT_TRUE(validate_ir(ir).empty());
  auto broken = ir;
  broken.bin.resize(broken.bin.size() / 2);  // truncated .bin
  EXPECT_FALSE(validate_ir(broken).empty());
  broken = ir;
  for (auto& l : broken.layers)
    if (l.type == "TopK") l.version = "opset1";
  EXPECT_FALSE(validate_ir(broken).empty());
  broken = ir;
  for (auto& l : broken.layers)
    if (l.type == "AvgPool") l.data["exclude_pad"] = "false";
  EXPECT_FALSE(validate_ir(broken).empty());
  broken = ir;
  broken.edges.pop_back();
  EXPECT_FALSE(validate_ir(broken).empty());
}

// ---- 3. golden layout ----------------------------------------------------------------
// What OpenVINO's serializer (ov::save_model / ov::serialize, IR v11) writes for
// Parameter [?,3,8,8] -> Convolution 3x3 (bias as Add) -> ReLU -> Result, following the
// layout in the public OpenVINO documentation ("OpenVINO IR format" and the operation
// specifications' IR examples): <net version="11">, <layers> with <data>, <input>/<output>
// ports numbered inputs first, <dim> children, port "names" for tensor names, then <edges>
// and <rt_info>. Written by hand for this test; no OpenVINO file is copied.
constexpr const char* kGoldenIr = R"(<?xml version="1.0"?>
<net name="patchcore" version="11">
	<layers>
		<layer id="0" name="input" type="Parameter" version="opset1">
			<data shape="?,3,8,8" element_type="f32" />
			<output>
				<port id="0" precision="FP32" names="input">
					<dim>-1</dim><dim>3</dim><dim>8</dim><dim>8</dim>
				</port>
			</output>
		</layer>
		<layer id="1" name="conv.weight" type="Const" version="opset1">
			<data element_type="f32" shape="4, 3, 3, 3" offset="0" size="432" />
			<output>
				<port id="0" precision="FP32"><dim>4</dim><dim>3</dim><dim>3</dim><dim>3</dim></port>
			</output>
		</layer>
		<layer id="2" name="conv" type="Convolution" version="opset1">
			<data strides="1, 1" dilations="1, 1" pads_begin="1, 1" pads_end="1, 1" auto_pad="explicit" />
			<input>
				<port id="0" precision="FP32"><dim>-1</dim><dim>3</dim><dim>8</dim><dim>8</dim></port>
				<port id="1" precision="FP32"><dim>4</dim><dim>3</dim><dim>3</dim><dim>3</dim></port>
			</input>
			<output>
				<port id="2" precision="FP32"><dim>-1</dim><dim>4</dim><dim>8</dim><dim>8</dim></port>
			</output>
		</layer>
		<layer id="3" name="conv.bias" type="Const" version="opset1">
			<data element_type="f32" shape="1, 4, 1, 1" offset="448" size="16" />
			<output>
				<port id="0" precision="FP32"><dim>1</dim><dim>4</dim><dim>1</dim><dim>1</dim></port>
			</output>
		</layer>
		<layer id="4" name="conv/bias" type="Add" version="opset1">
			<data auto_broadcast="numpy" />
			<input>
				<port id="0" precision="FP32"><dim>-1</dim><dim>4</dim><dim>8</dim><dim>8</dim></port>
				<port id="1" precision="FP32"><dim>1</dim><dim>4</dim><dim>1</dim><dim>1</dim></port>
			</input>
			<output>
				<port id="2" precision="FP32"><dim>-1</dim><dim>4</dim><dim>8</dim><dim>8</dim></port>
			</output>
		</layer>
		<layer id="5" name="relu" type="ReLU" version="opset1">
			<input>
				<port id="0" precision="FP32"><dim>-1</dim><dim>4</dim><dim>8</dim><dim>8</dim></port>
			</input>
			<output>
				<port id="1" precision="FP32" names="features"><dim>-1</dim><dim>4</dim><dim>8</dim><dim>8</dim></port>
			</output>
		</layer>
		<layer id="6" name="features/sink_port_0" type="Result" version="opset1">
			<input>
				<port id="0" precision="FP32"><dim>-1</dim><dim>4</dim><dim>8</dim><dim>8</dim></port>
			</input>
		</layer>
	</layers>
	<edges>
		<edge from-layer="0" from-port="0" to-layer="2" to-port="0" />
		<edge from-layer="1" from-port="0" to-layer="2" to-port="1" />
		<edge from-layer="2" from-port="2" to-layer="4" to-port="0" />
		<edge from-layer="3" from-port="0" to-layer="4" to-port="1" />
		<edge from-layer="4" from-port="2" to-layer="5" to-port="0" />
		<edge from-layer="5" from-port="1" to-layer="6" to-port="0" />
	</edges>
	<rt_info />
</net>
)";

// A canonical dump of an IR's structure: elements, attribute names and values, text.
// Whitespace inside attribute lists is normalised; the model-level rt_info content
// (free-form metadata) is left out.
void dump(pugi::xml_node n, std::string& out, int depth) {
  for (auto c : n.children()) {
    if (c.type() == pugi::node_pcdata) {
      out += std::string(depth, ' ') + "text " + c.value() + "\n";
      continue;
    }
    if (c.type() != pugi::node_element) continue;
    out += std::string(depth, ' ') + "<" + c.name();
    for (auto a : c.attributes()) {
      std::string v = a.value();
      v.erase(std::remove(v.begin(), v.end(), ' '), v.end());
      out += std::string(" ") + a.name() + "=" + v;
    }
    out += ">\n";
    if (std::string(c.name()) == "rt_info" && std::string(n.name()) == "net") continue;
    dump(c, out, depth + 1);
  }
}

TEST(IrExport, MatchesOpenVinoSerializerLayout) {
  // The same network as the golden file, as an ExportGraph.
  ExportGraph g;
  auto value = [&](std::string name, std::vector<int64_t> shape, torch::Tensor c = {}) {
    g.values.push_back({std::move(name), ValueType::kFloat32, std::move(shape), c});
    return static_cast<int>(g.values.size()) - 1;
  };
  g.input = value("input", {-1, 3, 8, 8});
  const int w = value("conv.weight", {4, 3, 3, 3}, torch::randn({4, 3, 3, 3}));
  const int b = value("conv.bias", {4}, torch::randn({4}));
  const int conv = value("conv", {-1, 4, 8, 8});
  const int relu = value("features", {-1, 4, 8, 8});
  g.nodes.push_back({GraphOp::kConv, "conv", {g.input, w, b}, {conv},
                     {{"strides", {1, 1}}, {"pads", {1, 1, 1, 1}}, {"group", {1}}}, {}});
  g.nodes.push_back({GraphOp::kRelu, "relu", {conv}, {relu}, {}, {}});
  g.outputs = {relu};
  TempDir dir;
  write_openvino_ir(g, dir.path() / "m.xml", dir.path() / "m.bin");

  pugi::xml_document ours, golden;
  ASSERT_TRUE(ours.load_file((dir.path() / "m.xml").c_str()));
  ASSERT_TRUE(golden.load_string(kGoldenIr));
  std::string a, e;
  dump(ours, a, 0);
  dump(golden, e, 0);
  EXPECT_EQ(a, e);
  EXPECT_EQ(std::filesystem::file_size(dir.path() / "m.bin"), 464u);
  // Our metadata travels in the model-level rt_info.
  ExportGraph meta = g;
  meta.metadata["patchcore.backbone"] = "resnet18";
  write_openvino_ir(meta, dir.path() / "n.xml", dir.path() / "n.bin");
  pugi::xml_document with_meta;
  ASSERT_TRUE(with_meta.load_file((dir.path() / "n.xml").c_str()));
  EXPECT_STREQ(with_meta.child("net").child("rt_info").child("patchcore").child("backbone").attribute("value").value(),
               "resnet18");
}

}  // namespace
}  // namespace patchcore
