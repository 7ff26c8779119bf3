#pragma once
// Downloads one URL (http, https, file) to a new file with libcurl, with a progress bar.
#include <filesystem>
#include <string>

namespace patchcore {

// A failed transfer (the caller turns it into advice for the user).
struct DownloadFailure {
  std::string url;
  std::string what;   // curl's message or the HTTP status
  bool offline_like;  // no connection at all (vs. the server answering with an error)
};

// Downloads `url` to `destination` (a new file), drawing a progress bar labelled `label`
// (none when empty). Throws DownloadFailure for transfer errors, UserError for local ones.
void download_to(const std::string& url, const std::filesystem::path& destination, const std::string& label);

// "https://h/a/b.json?x" -> "https://h/a/" and "b.json".
std::string url_directory(const std::string& url);
std::string url_file_name(const std::string& url);

}  // namespace patchcore
