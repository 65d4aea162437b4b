// The `faults` section of the data plane's and the device node's YAML: values parse into
// FaultConfig (fractions and percentages), every mistake names file, key and line, and
// kernel-tcp refuses faults.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "config_file.h"
#include "ferry/config/config.h"

namespace ferry::config {
namespace {

using testing::TempYaml;

const std::string kDataplane =
    "transport: {kind: kernel-udp, local: {ip: 10.0.0.1, port: 7000}, peer: {ip: 10.0.0.2, "
    "port: 7000}}\nguests:\n  - {path: /dev/shm/x}\n";
const std::string kDeviceNode =
    "transport: {kind: kernel-udp, local: {ip: 10.0.0.2, port: 7000}, peer: {ip: 10.0.0.1, "
    "port: 7000}}\ndevices:\n  - {id: 1, guests: [{id: 1, psk_file: /nonexistent}]}\n";

TEST(FaultConfig, absent_means_no_faults) {
  TempYaml y(kDataplane);
  EXPECT_FALSE(load_dataplane(y.path()).faults.enabled());
}

TEST(FaultConfig, fractions_and_percentages_parse_per_direction_with_the_seed) {
  TempYaml y(kDataplane +
             "faults:\n  seed: 77\n  tx: {drop: 0.05, duplicate: 2%, reorder: 5%, "
             "reorder_distance: 3, corrupt: 0.1%, corrupt_bytes: 2}\n  rx: {delay: 0.5, "
             "delay_us: 250}\n");
  const FaultConfig f = load_dataplane(y.path()).faults;
  EXPECT_TRUE(f.enabled());
  EXPECT_EQ(f.seed, 77u);
  EXPECT_EQ(f.tx.drop_ppm, 50000u);
  EXPECT_EQ(f.tx.duplicate_ppm, 20000u);
  EXPECT_EQ(f.tx.reorder_ppm, 50000u);
  EXPECT_EQ(f.tx.reorder_distance, 3u);
  EXPECT_EQ(f.tx.corrupt_ppm, 1000u);
  EXPECT_EQ(f.tx.corrupt_bytes, 2u);
  EXPECT_EQ(f.tx.delay_ppm, 0u);
  EXPECT_EQ(f.rx.delay_ppm, 500000u);
  EXPECT_EQ(f.rx.delay_us, 250u);
  EXPECT_EQ(f.rx.drop_ppm, 0u);
}

TEST(FaultConfig, the_device_node_takes_the_same_section) {
  TempYaml y(kDeviceNode + "faults: {rx: {drop: 1%}}\n");
  const FaultConfig f = load_device_node(y.path()).faults;
  EXPECT_EQ(f.rx.drop_ppm, 10000u);
  EXPECT_FALSE(f.tx.any());
}

// Each bad value: the error names the file, the key's full path and its line.
void expect_error(const std::string &faults, const std::string &key, int line,
                  const std::string &what) {
  TempYaml y(kDataplane + faults);
  try {
    load_dataplane(y.path());
    ADD_FAILURE() << "no error for: " << faults;
  } catch (const ConfigError &e) {
    const std::string msg = e.what();
    EXPECT_EQ(e.file(), y.path()) << msg;
    EXPECT_EQ(e.key(), key) << msg;
    EXPECT_EQ(e.line(), line) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << msg;
  }
}

TEST(FaultConfig, each_mistake_names_file_key_and_line) {
  // kDataplane has 3 lines: `faults:` is line 4.
  expect_error("faults:\n  tx: {drop: 1.5}\n", "faults.tx.drop", 5, "[0, 1]");
  expect_error("faults:\n  tx: {drop: 150%}\n", "faults.tx.drop", 5, "[0, 1]");
  expect_error("faults:\n  rx:\n    duplicate: lots\n", "faults.rx.duplicate", 6, "probability");
  expect_error("faults:\n  rx: {reorder: -1%}\n", "faults.rx.reorder", 5, "[0, 1]");
  expect_error("faults:\n  tx: {reorder_distance: 0}\n", "faults.tx.reorder_distance", 5,
               "[1, 32]");
  expect_error("faults:\n  tx: {delay_us: 0}\n", "faults.tx.delay_us", 5, "[1, 1000000]");
  expect_error("faults:\n  tx: {corrupt_bytes: 65}\n", "faults.tx.corrupt_bytes", 5, "[1, 64]");
  expect_error("faults:\n  tx: {lose: 1%}\n", "faults.tx.lose", 5, "unknown key");
  expect_error("faults:\n  both: {drop: 1%}\n", "faults.both", 5, "unknown key");
  expect_error("faults:\n  seed: x\n", "faults.seed", 5, "unsigned integer");
  expect_error("faults: 5%\n", "faults", 4, "mapping");
}

// How long the device node waits for a guest memory chunk (DMA under faults may need more
// than the 200 ms default).
TEST(FaultConfig, the_device_node_dma_timeout_is_configurable_within_its_range) {
  TempYaml ok(kDeviceNode + "dma_timeout_ms: 2000\n");
  EXPECT_EQ(load_device_node(ok.path()).dma_timeout_ms, 2000u);
  TempYaml dflt(kDeviceNode);
  EXPECT_EQ(load_device_node(dflt.path()).dma_timeout_ms, 200u);
  TempYaml bad(kDeviceNode + "dma_timeout_ms: 0\n");
  try {
    load_device_node(bad.path());
    ADD_FAILURE() << "dma_timeout_ms 0 accepted";
  } catch (const ConfigError &e) {
    EXPECT_EQ(e.key(), "dma_timeout_ms") << e.what();
    EXPECT_EQ(e.line(), 4) << e.what();
  }
}

TEST(FaultConfig, kernel_tcp_refuses_faults) {
  TempYaml y(
      "transport: {kind: kernel-tcp, local: {ip: 10.0.0.1, port: 7000}, peer: {ip: 10.0.0.2, "
      "port: 7000}}\nguests:\n  - {path: /dev/shm/x}\nfaults: {tx: {drop: 1%}}\n");
  try {
    load_dataplane(y.path());
    ADD_FAILURE() << "kernel-tcp accepted faults";
  } catch (const ConfigError &e) {
    EXPECT_EQ(e.key(), "faults") << e.what();
    EXPECT_EQ(e.line(), 4) << e.what();
    EXPECT_NE(std::string(e.what()).find("datagram"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ferry::config
