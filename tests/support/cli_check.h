// The command line every ferry binary shares, checked as a user meets it: --help prints the
// usage to stdout and exits 0, --version prints "NAME VERSION" (meson's project version), an
// unknown option prints the usage to stderr and exits 2. The binary runs as a real process.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

extern char **environ;

namespace ferry::testing {

struct CommandResult {
  int status = -1;  // exit status, -1 when it did not exit normally
  std::string out, err;
};

// Runs argv[0] with argv, stdin from /dev/null, and collects stdout and stderr apart.
inline CommandResult run_command(const std::vector<std::string> &argv) {
  char dir[] = "/tmp/ferry-cli-XXXXXX";
  CommandResult r;
  if (mkdtemp(dir) == nullptr) return r;
  const std::string out = std::string(dir) + "/out", err = std::string(dir) + "/err";
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<char *> args;
  for (const std::string &a : argv) args.push_back(const_cast<char *>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ) == 0) {
    int st = 0;
    waitpid(pid, &st, 0);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }
  posix_spawn_file_actions_destroy(&fa);
  auto slurp = [](const std::string &p) {
    std::ifstream f(p);
    std::stringstream ss;
    ss << f.rdbuf();
    std::remove(p.c_str());
    return ss.str();
  };
  r.out = slurp(out);
  r.err = slurp(err);
  rmdir(dir);
  return r;
}

// --help, -h, --version, -V, an unknown long and short option, and no argument at all.
inline void expect_standard_command_line(const std::string &exe) {
  const std::string name = exe.substr(exe.rfind('/') + 1);
  SCOPED_TRACE(name);
  for (const char *help : {"--help", "-h"}) {
    const CommandResult r = run_command({exe, help});
    EXPECT_EQ(r.status, 0) << help << ": " << r.err;
    EXPECT_EQ(r.out.rfind("usage: " + name + " ", 0), 0u) << help << " printed: " << r.out;
    EXPECT_EQ(r.err, "") << help;
  }
  for (const char *version : {"--version", "-V"}) {
    const CommandResult r = run_command({exe, version});
    EXPECT_EQ(r.status, 0) << version << ": " << r.err;
    EXPECT_EQ(r.out, name + " " + FERRY_VERSION + "\n") << version;
  }
  for (const std::vector<std::string> &bad : std::vector<std::vector<std::string>>{
           {exe, "--no-such-option"}, {exe, "-Z"}, {exe, "--no-such-option", "x.yaml"}, {exe}}) {
    const CommandResult r = run_command(bad);
    EXPECT_EQ(r.status, 2) << bad.size() << " args: " << r.out << r.err;
    EXPECT_NE(r.err.find("usage: " + name + " "), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
  }
}

}  // namespace ferry::testing
