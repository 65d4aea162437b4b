// Configuration files for the config tests: YAML written to a fresh temporary file (removed
// with the object), and the ConfigError a loader throws on it.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "ferry/config/config.h"

namespace ferry::testing {

class TempYaml {
 public:
  explicit TempYaml(const std::string &text) {
    char tmpl[] = "/tmp/ferry-config-test-XXXXXX";
    const int fd = mkstemp(tmpl);
    EXPECT_GE(fd, 0);
    close(fd);
    path_ = tmpl;
    std::ofstream(path_) << text;
  }
  ~TempYaml() { std::remove(path_.c_str()); }
  TempYaml(const TempYaml &) = delete;
  TempYaml &operator=(const TempYaml &) = delete;
  const std::string &path() const { return path_; }

 private:
  std::string path_;
};

// The ConfigError `load()` throws; fails the test (and returns an empty one) if it throws none.
template <typename F>
config::ConfigError expect_error(F load) {
  try {
    load();
  } catch (const config::ConfigError &e) {
    return e;
  }
  ADD_FAILURE() << "no ConfigError thrown";
  return config::ConfigError("", 0, "", "");
}

}  // namespace ferry::testing
