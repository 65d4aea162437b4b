// Captures what rte_log writes (the services' ferry.* log included) into memory while it
// lives: rte_openlog_stream on an open_memstream. Works with or without the EAL.
#pragma once

#include <rte_log.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace ferry::testing {

class LogCapture {
 public:
  LogCapture() : f_(open_memstream(&buf_, &len_)) { rte_openlog_stream(f_); }
  ~LogCapture() {
    rte_openlog_stream(nullptr);
    if (f_ != nullptr) fclose(f_);
    free(buf_);
  }
  LogCapture(const LogCapture &) = delete;
  LogCapture &operator=(const LogCapture &) = delete;

  // Everything written so far.
  std::string text() {
    if (f_ == nullptr) return {};
    fflush(f_);
    return std::string(buf_, len_);
  }
  // Lines written so far that contain `needle`.
  size_t count(const std::string &needle) {
    const std::string t = text();
    size_t n = 0;
    for (size_t at = t.find(needle); at != std::string::npos; at = t.find(needle, at + 1)) ++n;
    return n;
  }

 private:
  char *buf_ = nullptr;
  size_t len_ = 0;
  FILE *f_;
};

}  // namespace ferry::testing
