// The example drivers, run as separate processes (linked with libferry-guest.so, using only
// the C API) against an in-process responder serving the region they map.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "cli_check.h"
#include "responder.h"

namespace ferry {
namespace {

using testing::Responder;
using testing::ResponderOptions;

// Runs `exe yaml`, returns its exit status (or -1 if it had to be killed after 60 s).
int run_driver(const std::string &exe, const std::string &yaml) {
  pid_t pid = fork();
  if (pid == 0) {
    execl(exe.c_str(), exe.c_str(), yaml.c_str(), static_cast<char *>(nullptr));
    _exit(127);
  }
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > until) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(Examples, the_edu_driver_passes_every_check) {
  Responder r;
  std::string yaml = r.write_guest_yaml(5000);
  EXPECT_EQ(run_driver(FERRY_EDU_EXAMPLE, yaml), 0);
  std::remove(yaml.c_str());
}

TEST(Examples, the_accel_driver_passes_every_check) {
  ResponderOptions o;
  o.model = "accel";
  Responder r(o);
  std::string yaml = r.write_guest_yaml(5000);
  EXPECT_EQ(run_driver(FERRY_ACCEL_EXAMPLE, yaml), 0);
  std::remove(yaml.c_str());
}

TEST(Examples, the_pointer_access_edu_driver_passes_every_check) {
  Responder r;
  std::string yaml = r.write_guest_yaml(5000);
  EXPECT_EQ(run_driver(FERRY_EDU_MAPPED_EXAMPLE, yaml), 0);
  std::remove(yaml.c_str());
}

TEST(Examples, a_driver_reports_failure_when_it_cannot_open_the_device) {
  EXPECT_EQ(run_driver(FERRY_EDU_EXAMPLE, "/nonexistent/guest.yaml"), 1);
  EXPECT_EQ(run_driver(FERRY_ACCEL_EXAMPLE, "/nonexistent/guest.yaml"), 1);
  EXPECT_EQ(run_driver(FERRY_EDU_MAPPED_EXAMPLE, "/nonexistent/guest.yaml"), 1);
}

TEST(Examples, the_edu_drivers_fail_against_a_device_that_is_not_edu) {
  ResponderOptions o;
  o.model = "accel";
  Responder r(o);
  std::string yaml = r.write_guest_yaml(500);
  EXPECT_EQ(run_driver(FERRY_EDU_EXAMPLE, yaml), 1);
  // BAR0 maps with the default 1 MiB; the accel model answers edu's ID read with its own.
  EXPECT_EQ(run_driver(FERRY_EDU_MAPPED_EXAMPLE, yaml), 1);
  std::remove(yaml.c_str());
}

TEST(Examples, every_driver_answers_help_and_version_and_exits_2_on_a_bad_command_line) {
  for (const char *exe : {FERRY_EDU_EXAMPLE, FERRY_ACCEL_EXAMPLE, FERRY_EDU_MAPPED_EXAMPLE}) {
    testing::expect_standard_command_line(exe);
    // Two configuration files are one too many.
    EXPECT_EQ(testing::run_command({exe, "a.yaml", "b.yaml"}).status, 2);
  }
}

}  // namespace
}  // namespace ferry
