#include "io/file_bytes.h"

#include <fstream>
#include <iterator>

#include "io/error.h"

namespace patchcore {

std::string read_file_bytes(const std::filesystem::path& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError(path.string() + ": cannot open " + what + " (does the file exist and is it readable?)");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw UserError(path.string() + ": read error");
  return bytes;
}

}  // namespace patchcore
