// Rekeying under load, both services and the guest driver for real: thousands of register
// write/read pairs with a new key epoch every 200 descriptors, then with one every 100 ms;
// every read correct, every write executed exactly once (the device node's count), and the
// epochs moved on both sides.
#include <gtest/gtest.h>

#include "services_lab.h"

namespace ferry::testing {
namespace {

class RekeyUnderLoad : public ServicesLab {
 protected:
  std::map<std::string, uint64_t> device_counters() {
    const std::string app = telemetry_query(prefix_["dn"], "/ferry/app");
    std::map<std::string, uint64_t> out;
    for (const char *k : {"mmio_writes", "mmio_reads", "rekeys_tx", "rekeys_rx", "auth_failures",
                          "replays_dropped", "epoch_rejects"}) {
      long long v = json_uint(app, k);
      EXPECT_GE(v, 0) << k << " missing in " << app;
      out[k] = v < 0 ? 0 : static_cast<uint64_t>(v);
    }
    return out;
  }

  void run_and_check(uint64_t cycles, unsigned pace_us, uint64_t min_rekeys) {
    const auto before = device_counters();
    start_workload(cycles, pace_us);
    ASSERT_EQ(wl_.wait(120000), 0) << workload_log();
    const auto s = stop_workload();
    // The service publishes its counters from its loop: wait for the last reads to show.
    auto after = device_counters();
    for (int i = 0; i < 100 && after.at("mmio_reads") - before.at("mmio_reads") < s.at("reads");
         ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      after = device_counters();
    }
    const std::string log = workload_log();
    EXPECT_EQ(s.at("ok"), cycles) << log;
    EXPECT_EQ(s.at("wrong"), 0u) << log;
    EXPECT_EQ(s.at("failures"), 0u) << log;
    EXPECT_EQ(s.at("sessions"), 1u) << log;
    // Exactly once: the device executed every posted write and every read, no more.
    EXPECT_EQ(after.at("mmio_writes") - before.at("mmio_writes"), s.at("writes"));
    EXPECT_EQ(after.at("mmio_reads") - before.at("mmio_reads"), s.at("reads"));
    EXPECT_EQ(after.at("auth_failures"), before.at("auth_failures"));
    EXPECT_EQ(after.at("replays_dropped"), before.at("replays_dropped"));
    EXPECT_EQ(after.at("epoch_rejects"), before.at("epoch_rejects"));
    // Both directions moved through the epochs.
    EXPECT_GE(s.at("tx_rekeys"), min_rekeys) << log;
    EXPECT_GE(s.at("rx_rekeys"), min_rekeys) << log;
    EXPECT_GE(after.at("rekeys_rx") - before.at("rekeys_rx"), min_rekeys);
    EXPECT_GE(after.at("rekeys_tx") - before.at("rekeys_tx"), min_rekeys);
    EXPECT_EQ(s.at("epoch_rejects"), 0u) << log;
    std::printf(
        "[ rekey    ] %llu pairs in %llu ms: guest %llu/%llu epochs (tx/rx), %llu old "
        "keys wiped\n",
        static_cast<unsigned long long>(s.at("ok")),
        static_cast<unsigned long long>(s.at("elapsed_ms")),
        static_cast<unsigned long long>(s.at("tx_rekeys")),
        static_cast<unsigned long long>(s.at("rx_rekeys")),
        static_cast<unsigned long long>(s.at("old_keys_wiped")));
  }
};

TEST_F(RekeyUnderLoad, every_200_messages_no_operation_is_lost_or_repeated) {
  GuestYaml guest;
  guest.rekey_after_messages = 200;
  up(guest);
  if (HasFatalFailure() || IsSkipped()) return;
  // 3000 pairs: 6000 guest -> device descriptors, 30 epochs.
  run_and_check(3000, 0, 3000 * 2 / 200 - 1);
}

TEST_F(RekeyUnderLoad, every_100_ms_no_operation_is_lost_or_repeated) {
  GuestYaml guest;
  guest.rekey_after_ms = 100;
  up(guest);
  if (HasFatalFailure() || IsSkipped()) return;
  // Paced to last well over a second: at least 5 epochs by time alone.
  run_and_check(2000, 600, 5);
}

}  // namespace
}  // namespace ferry::testing
