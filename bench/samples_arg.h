// The optional argument of the benchmarks that print percentiles: how many samples to take.
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstdlib>

// Reads argv[1], if any, into `samples` (1..max); false, with the usage printed, if it is not a
// whole number in that range.
inline bool samples_arg(int argc, char **argv, unsigned long max, unsigned &samples) {
  if (argc < 2) return true;
  char *end = nullptr;
  errno = 0;
  const unsigned long v = std::strtoul(argv[1], &end, 10);
  if (errno != 0 || *end != '\0' || v == 0 || v > max) {
    std::fprintf(stderr, "usage: %s [samples 1..%lu]\n", argv[0], max);
    return false;
  }
  samples = static_cast<unsigned>(v);
  return true;
}
