#include "backbone/download.h"

#include <curl/curl.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>

#include "io/error.h"
#include "io/progress.h"

namespace patchcore {

namespace fs = std::filesystem;

namespace {

struct TransferState {
  std::FILE* file = nullptr;
  std::string label;
  std::unique_ptr<ProgressBar> bar;
  bool write_failed = false;
};

size_t write_callback(char* data, size_t size, size_t count, void* user) {
  auto* state = static_cast<TransferState*>(user);
  const size_t bytes = size * count;
  if (std::fwrite(data, 1, bytes, state->file) != bytes) {
    state->write_failed = true;
    return 0;  // makes curl abort with CURLE_WRITE_ERROR
  }
  return bytes;
}

int progress_callback(void* user, curl_off_t total, curl_off_t done, curl_off_t, curl_off_t) {
  auto* state = static_cast<TransferState*>(user);
  if (total > 0 && !state->label.empty()) {
    if (!state->bar) state->bar = std::make_unique<ProgressBar>(state->label, total);
    state->bar->update(done);
  }
  return 0;
}

void ensure_curl_initialised() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

bool is_connectivity_error(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_PEER_FAILED_VERIFICATION:
      return true;
    default:
      return false;
  }
}

}  // namespace

void download_to(const std::string& url, const fs::path& destination, const std::string& label) {
  ensure_curl_initialised();
  TransferState state;
  state.label = label;
  state.file = std::fopen(destination.c_str(), "wb");
  if (state.file == nullptr)
    throw UserError("cannot create " + destination.string() + ": " + std::strerror(errno) +
                    " (is the weights cache folder writable? set PATCHCORE_HOME to change it)");
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) {
    std::fclose(state.file);
    throw UserError("cannot initialise libcurl to download " + url);
  }
  char error_buffer[CURL_ERROR_SIZE] = {0};
  CURL* h = curl.get();
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https,file");
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);  // abort below 1 KiB/s ...
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);     // ... sustained for a minute
  curl_easy_setopt(h, CURLOPT_USERAGENT, "patchcore-cpp/0.1 (libcurl)");
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_callback);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &state);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress_callback);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, &state);
  const CURLcode code = curl_easy_perform(h);
  long http_status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &http_status);
  const bool closed_ok = std::fclose(state.file) == 0;
  if (code != CURLE_OK) {
    if (state.write_failed || code == CURLE_WRITE_ERROR)
      throw UserError("cannot write the download of " + url + " to " + destination.string() +
                      " (disk full or not writable?)");
    std::string what = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
    if (code == CURLE_HTTP_RETURNED_ERROR && http_status > 0)
      what = "the server answered HTTP " + std::to_string(http_status);
    throw DownloadFailure{url, what, is_connectivity_error(code)};
  }
  if (!closed_ok)
    throw UserError("cannot write the download of " + url + " to " + destination.string());
  if (state.bar) state.bar->finish();
}

std::string url_directory(const std::string& url) {
  const auto slash = url.rfind('/');
  return slash == std::string::npos ? url : url.substr(0, slash + 1);
}

std::string url_file_name(const std::string& url) {
  std::string name = url;
  const auto cut = name.find_first_of("?#");
  if (cut != std::string::npos) name = name.substr(0, cut);
  const auto slash = name.rfind('/');
  return slash == std::string::npos ? name : name.substr(slash + 1);
}

}  // namespace patchcore
