/* Built by pkgconfig_consumer.sh against the build tree: includes only ferry/guest.h and links
 * with `pkg-config --libs ferry-guest`. Exits 0 when the library answers as documented. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <ferry/guest.h>

int main(void) {
  ferry_dev *dev = ferry_open("/nonexistent/ferry-guest.yaml");
  if (dev != NULL) return 1;
  if (strstr(ferry_open_error(), "/nonexistent/ferry-guest.yaml") == NULL) return 2;
  if (ferry_last_error(NULL) != -EINVAL) return 3;
  if (ferry_ioread32(NULL, 0, 0) != 0xffffffffu) return 4;
  printf("c consumer: %s\n", ferry_open_error());
  return 0;
}
