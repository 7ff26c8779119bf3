#include "io/atomic_file.h"

#include <fstream>
#include <unistd.h>

#include "io/error.h"

namespace patchcore {

void write_file_atomically(const std::filesystem::path& path, const std::string& contents) {
  namespace fs = std::filesystem;
  fs::path tmp = path;
  tmp += ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw UserError("cannot write " + tmp.string() + ": check that the folder exists and is writable");
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    out.flush();
    if (!out) {
      std::error_code ec;
      fs::remove(tmp, ec);
      throw UserError("failed writing " + path.string() + " (disk full?)");
    }
  }
  fs::rename(tmp, path);
}

}  // namespace patchcore
