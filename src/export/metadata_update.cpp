#include "export/metadata_update.h"

#include <onnx/onnx_pb.h>
#include <pugixml.hpp>

#include <sstream>

#include "export/openvino_writer.h"
#include "io/atomic_file.h"
#include "io/error.h"
#include "io/file_bytes.h"

namespace patchcore {
namespace {

void update_onnx(const std::filesystem::path& path, const std::map<std::string, std::string>& metadata) {
  onnx::ModelProto model;
  if (!model.ParseFromString(read_file_bytes(path, "the exported ONNX model")))
    throw UserError(path.string() + ": not a readable ONNX model; export it again with `patchcore export`");
  for (const auto& [key, value] : metadata) {
    onnx::StringStringEntryProto* entry = nullptr;
    for (auto& prop : *model.mutable_metadata_props())
      if (prop.key() == key) entry = &prop;
    if (!entry) {
      entry = model.add_metadata_props();
      entry->set_key(key);
    }
    entry->set_value(value);
  }
  std::string bytes;
  if (!model.SerializeToString(&bytes)) throw UserError("cannot serialise the ONNX model " + path.string());
  write_file_atomically(path, bytes);
}

void update_ir(const std::filesystem::path& path, const std::map<std::string, std::string>& metadata) {
  pugi::xml_document doc;
  const std::string text = read_file_bytes(path, "the exported OpenVINO IR");
  pugi::xml_node net;
  if (doc.load_buffer(text.data(), text.size(), pugi::parse_default | pugi::parse_declaration)) net = doc.child("net");
  if (!net) throw UserError(path.string() + ": not an OpenVINO IR .xml; export it again with `patchcore export`");
  pugi::xml_node rt = net.child("rt_info");
  if (!rt) rt = net.append_child("rt_info");
  for (const auto& [key, value] : metadata) {
    const IrRtInfoKey where = ir_rt_info_key(key);
    pugi::xml_node section = rt.child(where.section.c_str());
    if (!section) section = rt.append_child(where.section.c_str());
    pugi::xml_node element = section.child(where.name.c_str());
    if (!element) element = section.append_child(where.name.c_str());
    pugi::xml_attribute attribute = element.attribute("value");
    if (!attribute) attribute = element.append_attribute("value");
    attribute = value.c_str();
  }
  std::ostringstream out;
  doc.save(out, "    ", pugi::format_default, pugi::encoding_utf8);
  write_file_atomically(path, out.str());
}

}  // namespace

std::vector<std::filesystem::path> update_export_metadata(const std::filesystem::path& dir, const std::string& pattern,
                                                          const std::map<std::string, std::string>& metadata) {
  std::vector<std::filesystem::path> updated;
  std::error_code ec;
  if (const auto onnx = dir / (pattern + ".onnx"); std::filesystem::exists(onnx, ec)) {
    update_onnx(onnx, metadata);
    updated.push_back(onnx);
  }
  if (const auto xml = dir / (pattern + ".xml"); std::filesystem::exists(xml, ec)) {
    update_ir(xml, metadata);
    updated.push_back(xml);
  }
  return updated;
}

}  // namespace patchcore
