#pragma once
// Changing the metadata of already exported files (e.g. the thresholds after
// `patchcore eval --write-threshold`) without exporting the model again: the graph and the
// weights stay byte for byte, only ONNX metadata_props / the IR's rt_info change.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace patchcore {

// Sets each key of `metadata` (adding it where missing) in `dir`/`pattern`.onnx and
// `dir`/`pattern`.xml, laid out as the writers lay them out; each file is rewritten
// atomically. Files that do not exist are skipped. Returns the files rewritten. Throws
// UserError naming a file that cannot be read, parsed or written.
std::vector<std::filesystem::path> update_export_metadata(const std::filesystem::path& dir, const std::string& pattern,
                                                          const std::map<std::string, std::string>& metadata);

}  // namespace patchcore
