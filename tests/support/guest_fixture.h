// A guest shim opened against a fresh in-process responder, for tests that exercise the C API.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "api_internal.h"
#include "ferry/guest.h"
#include "responder.h"

namespace ferry::testing {

struct DevCloser {
  void operator()(ferry_dev *d) const { ferry_close(d); }
};
using DevPtr = std::unique_ptr<ferry_dev, DevCloser>;

// Opens the shim on `r` with `cfg` (from r.guest_config()); fails the test with
// ferry_open_error()'s text when it cannot.
inline DevPtr open_guest(const config::GuestConfig &cfg) {
  ferry_dev *d = ferry_open_config(cfg);
  EXPECT_NE(d, nullptr) << ferry_open_error();
  return DevPtr(d);
}

// Runs `f` against the responder's live model of type M (pump paused); false if none.
template <typename M, typename F>
bool with_model(Responder &r, F &&f) {
  bool found = false;
  r.paused([&] {
    if (auto *m = dynamic_cast<M *>(r.model())) {
      f(*m);
      found = true;
    }
  });
  return found;
}

}  // namespace ferry::testing
