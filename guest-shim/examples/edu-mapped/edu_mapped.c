/* ferry-edu-mapped-example: the edu driver written the way a UIO/VFIO driver is, with BAR0 as
 * a pointer and registers touched by plain loads and stores. The only ferry-specific step is
 * where BAR0 comes from: ferry_map_bar() instead of mmap() of the PCI resource file.
 *   ferry-edu-mapped-example GUEST_CONFIG.yaml      (--help, --version: example_cli.h) */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "edu_exercise.h"
#include "example_cli.h"
#include "ferry/guest.h"

int main(int argc, char **argv) {
  const char *config = example_config_path(
      argc, argv,
      "The edu driver with BAR0 as a pointer (ferry_map_bar): plain loads and stores, every\n"
      "result checked.");
  ferry_dev *dev = ferry_open(config);
  if (dev == NULL) {
    fprintf(stderr, "ferry_open: %s\n", ferry_open_error());
    return 1;
  }
  volatile void *bar = NULL;
  size_t len = 0;
  int rc = ferry_map_bar(dev, 0, &bar, &len);
  if (rc != 0) {
    fprintf(stderr, "ferry_map_bar: %s\n", strerror(-rc));
    ferry_close(dev);
    return 1;
  }
  printf("edu: BAR0 mapped at %p, %zu bytes\n", (void *)bar, len);
  rc = edu_exercise(dev, (volatile uint8_t *)bar, 4096, stdout);
  ferry_close(dev);
  printf("edu-mapped: %s\n", rc == 0 ? "PASS" : "FAIL");
  return rc == 0 ? 0 : 1;
}
