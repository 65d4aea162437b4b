/* The example drivers' command line, one parser for all three (getopt_long):
 *   DRIVER GUEST_CONFIG.yaml     run every check, exit 0 when all passed, 1 when one failed
 *   DRIVER --help | --version    usage to stdout / the version, exit 0
 * An unknown option, a missing or an extra argument prints the usage to stderr and exits 2. */
#ifndef FERRY_EXAMPLE_CLI_H
#define FERRY_EXAMPLE_CLI_H

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void example_usage(FILE *to, const char *name, const char *summary) {
  fprintf(to,
          "usage: %s GUEST_CONFIG.yaml\n"
          "       %s --help | --version\n"
          "%s\n"
          "  -h, --help     this text\n"
          "  -V, --version  the version\n"
          "Exit status: 0 when every check passed, 1 when one failed or the device did not\n"
          "open, 2 on a bad command line.\n",
          name, name, summary);
}

/* Returns the GUEST_CONFIG.yaml argv names; exits for --help, --version and usage errors. */
static const char *example_config_path(int argc, char **argv, const char *summary) {
  static const struct option options[] = {
      {"help", no_argument, NULL, 'h'}, {"version", no_argument, NULL, 'V'}, {NULL, 0, NULL, 0}};
  const char *slash = strrchr(argv[0], '/');
  const char *name = slash != NULL ? slash + 1 : argv[0];
  int o;
  while ((o = getopt_long(argc, argv, "hV", options, NULL)) != -1) {
    if (o == 'h') {
      example_usage(stdout, name, summary);
      exit(0);
    }
    if (o == 'V') {
      printf("%s %s\n", name, FERRY_VERSION);
      exit(0);
    }
    example_usage(stderr, name, summary); /* getopt_long has named the option */
    exit(2);
  }
  if (argc - optind != 1) {
    fprintf(stderr, "%s: %s\n", name,
            argc == optind ? "no GUEST_CONFIG.yaml given" : "more than one GUEST_CONFIG.yaml");
    example_usage(stderr, name, summary);
    exit(2);
  }
  return argv[optind];
}

#endif
