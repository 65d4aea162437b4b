// libFuzzer target over the YAML configuration loaders (the three roles), fed from bytes
// through a memfd so the loaders read it exactly as they read a file. The only exception a
// loader may throw is ConfigError (the services turn it into a message and exit status 2);
// anything else escaping, a crash or a hang is a bug. The first byte picks the role.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "ferry/config/config.h"

namespace {

int memfd() {
  static int fd = memfd_create("ferry-fuzz-config", MFD_CLOEXEC);
  return fd;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  const int fd = memfd();
  if (fd < 0 || ftruncate(fd, 0) != 0) __builtin_trap();
  if (size > 1 && pwrite(fd, data + 1, size - 1, 0) != static_cast<ssize_t>(size - 1))
    __builtin_trap();
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  try {
    switch (data[0] % 3) {
      case 0:
        (void)ferry::config::load_dataplane(path);
        break;
      case 1:
        (void)ferry::config::load_device_node(path);
        break;
      default:
        (void)ferry::config::load_guest(path);
        break;
    }
  } catch (const ferry::config::ConfigError &e) {
    // The message names the file; a line, when there is one, is inside the input.
    if (std::string(e.what()).rfind(path, 0) != 0) __builtin_trap();
    if (e.line() < 0) __builtin_trap();
  }
  return 0;
}
