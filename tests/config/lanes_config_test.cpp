// Lanes in the configuration: `lanes`, guests[].lane, devices[].lane and eal.cpus parse into
// the structs, and every inconsistent value is an error naming the file, the key and the line.
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
using testing::expect_error;

// Line numbers below count from 1 in these texts.
const char *kDataplane =
    "eal:\n"                                       // 1
    "  lcores: [0, 1]\n"                           // 2
    "  no_huge: true\n"                            // 3
    "transport:\n"                                 // 4
    "  kind: kernel-udp\n"                         // 5
    "  local: {ip: 198.18.0.1, port: 7000}\n"      // 6
    "  peer: {ip: 198.18.0.2, port: 7000}\n"       // 7
    "lanes: 2\n"                                   // 8
    "guests:\n"                                    // 9
    "  - {path: /dev/hugepages/g1, channel: 1}\n"  // 10
    "  - path: /dev/hugepages/g2\n"                // 11
    "    channel: 2\n"                             // 12
    "    lane: 1\n";                               // 13

const char *kDeviceNode =
    "eal: {lcores: [0, 1]}\n"                               // 1
    "transport:\n"                                          // 2
    "  kind: kernel-udp\n"                                  // 3
    "  local: {ip: 198.18.0.2, port: 7000}\n"               // 4
    "  peer: {ip: 198.18.0.1, port: 7000}\n"                // 5
    "lanes: 2\n"                                            // 6
    "devices:\n"                                            // 7
    "  - {id: 1, guests: [{id: 1, psk_file: /tmp/psk}]}\n"  // 8
    "  - id: 2\n"                                           // 9
    "    guests: [{id: 2, psk_file: /tmp/psk}]\n"           // 10
    "    lane: 1\n";                                        // 11

std::string with(std::string text, const std::string &from, const std::string &to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return text.replace(at, from.size(), to);
}

TEST(LanesConfig, dataplane_lanes_and_guest_lanes_parse_and_default_to_one_lane_zero) {
  TempYaml y(kDataplane);
  const DataplaneConfig c = load_dataplane(y.path());
  EXPECT_EQ(c.lanes, 2u);
  ASSERT_EQ(c.guests.size(), 2u);
  EXPECT_EQ(c.guests[0].lane, 0u);
  EXPECT_EQ(c.guests[1].lane, 1u);

  TempYaml one(with(with(kDataplane, "lanes: 2\n", ""), "    lane: 1\n", ""));
  const DataplaneConfig d = load_dataplane(one.path());
  EXPECT_EQ(d.lanes, 1u);
  EXPECT_EQ(d.guests[1].lane, 0u);
}

TEST(LanesConfig, a_guest_on_a_lane_that_does_not_exist_is_named) {
  TempYaml y(with(kDataplane, "lane: 1", "lane: 2"));
  ConfigError e = expect_error([&] { load_dataplane(y.path()); });
  EXPECT_EQ(e.key(), "guests[1].lane");
  EXPECT_EQ(e.line(), 13);
  EXPECT_EQ(e.file(), y.path());
  EXPECT_NE(std::string(e.what()).find("lanes is 2"), std::string::npos) << e.what();
}

TEST(LanesConfig, more_lanes_than_lcores_is_refused_naming_what_each_transport_needs) {
  TempYaml kernel(with(kDataplane, "lanes: 2", "lanes: 3"));
  ConfigError e = expect_error([&] { load_dataplane(kernel.path()); });
  EXPECT_EQ(e.key(), "lanes");
  EXPECT_EQ(e.line(), 8);
  EXPECT_NE(std::string(e.what()).find("need 3 lcores"), std::string::npos) << e.what();

  // dpdk: the main lcore runs the port, so two lanes need three lcores.
  TempYaml dpdk(with(kDataplane, "  kind: kernel-udp\n", "  kind: dpdk\n  port: net_tap0\n"));
  e = expect_error([&] { load_dataplane(dpdk.path()); });
  EXPECT_EQ(e.key(), "lanes");
  EXPECT_NE(std::string(e.what()).find("need 3 lcores"), std::string::npos) << e.what();
  TempYaml dpdk3(with(with(kDataplane, "  kind: kernel-udp\n", "  kind: dpdk\n  port: net_tap0\n"),
                      "[0, 1]", "[0, 1, 2]"));
  EXPECT_EQ(load_dataplane(dpdk3.path()).lanes, 2u);
}

TEST(LanesConfig, lanes_out_of_range_and_ports_past_65535_are_refused) {
  TempYaml zero(with(kDataplane, "lanes: 2", "lanes: 0"));
  EXPECT_EQ(expect_error([&] { load_dataplane(zero.path()); }).key(), "lanes");
  TempYaml many(with(kDataplane, "lanes: 2", "lanes: 17"));
  EXPECT_EQ(expect_error([&] { load_dataplane(many.path()); }).key(), "lanes");
  TempYaml port(with(kDataplane, "ip: 198.18.0.2, port: 7000", "ip: 198.18.0.2, port: 65535"));
  ConfigError e = expect_error([&] { load_dataplane(port.path()); });
  EXPECT_EQ(e.key(), "lanes");
  EXPECT_NE(std::string(e.what()).find("65536"), std::string::npos) << e.what();
}

TEST(LanesConfig, device_lanes_parse_and_a_device_without_lane_is_offered_on_every_lane) {
  TempYaml y(kDeviceNode);
  const DeviceNodeConfig c = load_device_node(y.path());
  EXPECT_EQ(c.lanes, 2u);
  ASSERT_EQ(c.devices.size(), 2u);
  EXPECT_EQ(c.devices[0].lane, -1);
  EXPECT_EQ(c.devices[1].lane, 1);
}

TEST(LanesConfig, a_device_on_a_lane_that_does_not_exist_is_named) {
  TempYaml y(with(kDeviceNode, "    lane: 1", "    lane: 5"));
  ConfigError e = expect_error([&] { load_device_node(y.path()); });
  EXPECT_EQ(e.key(), "devices[1].lane");
  EXPECT_EQ(e.line(), 11);
}

TEST(LanesConfig, a_lane_that_offers_no_device_is_refused) {
  // Only device 2, on lane 1: lane 0 would answer every handshake with "unknown device".
  TempYaml y(with(kDeviceNode, "  - {id: 1, guests: [{id: 1, psk_file: /tmp/psk}]}\n", ""));
  ConfigError e = expect_error([&] { load_device_node(y.path()); });
  EXPECT_EQ(e.key(), "devices");
  EXPECT_NE(std::string(e.what()).find("lane 0 offers no device"), std::string::npos) << e.what();
}

TEST(LanesConfig, cpus_place_lcores_and_must_match_them_one_for_one) {
  TempYaml y(with(kDataplane, "  no_huge: true\n", "  no_huge: true\n  cpus: [1, 1]\n"));
  EXPECT_EQ(load_dataplane(y.path()).eal.cpus, (std::vector<unsigned>{1, 1}));
  TempYaml bad(with(kDataplane, "  no_huge: true\n", "  no_huge: true\n  cpus: [1]\n"));
  ConfigError e = expect_error([&] { load_dataplane(bad.path()); });
  EXPECT_EQ(e.key(), "eal.cpus");
  EXPECT_EQ(e.line(), 4);
}

}  // namespace
}  // namespace ferry::config
