// Tests that need root, hugepages or a namespace use this instead of GTEST_SKIP: under
// CI=true a missing prerequisite fails the test, elsewhere it skips with the reason.
#pragma once

#include <cstdlib>
#include <cstring>

#include <gtest/gtest.h>

namespace ferry::testing {
inline bool in_ci() {
  const char *ci = std::getenv("CI");
  return ci != nullptr && std::strcmp(ci, "true") == 0;
}
}  // namespace ferry::testing

#define FERRY_REQUIRE(cond, why)                                    \
  do {                                                              \
    if (!(cond)) {                                                  \
      if (::ferry::testing::in_ci()) {                              \
        GTEST_FAIL() << "prerequisite missing under CI=true: " << (why); \
      } else {                                                      \
        GTEST_SKIP() << (why);                                      \
      }                                                             \
    }                                                               \
  } while (0)
