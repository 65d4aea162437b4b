// Every configuration error names the file, the key and the line; valid files parse into the
// structs with their defaults.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "config_file.h"
#include "ferry/config/config.h"

namespace ferry::config {
namespace {

using testing::expect_error;
using testing::TempYaml;

const char *kGuest =
    "region: /dev/hugepages/ferry-guest1\n"
    "psk_file: /tmp/psk\n"
    "guest_id: 9\n"
    "queues: 2\n"
    "security: integrity\n"
    "key_bits: 128\n"
    "mmio_timeout_ms: 250\n"
    "idle:\n"
    "  mode: spin-then-sleep\n"
    "  spin_polls: 7\n";

TEST(GuestConfig, valid_file_parses_with_defaults_for_missing_keys) {
  TempYaml y(kGuest);
  GuestConfig c = load_guest(y.path());
  EXPECT_EQ(c.region_path, "/dev/hugepages/ferry-guest1");
  EXPECT_EQ(c.n_queues, 2);
  EXPECT_EQ(c.queue, 0);
  EXPECT_EQ(c.security, proto::Security::kIntegrity);
  EXPECT_EQ(c.key_bytes, 16);
  EXPECT_EQ(c.guest_id, 9u);
  EXPECT_EQ(c.mmio_timeout_ms, 250u);
  EXPECT_EQ(c.handshake_timeout_ms, 5000u);
  EXPECT_EQ(c.idle.mode, IdlePolicy::Mode::kSpinThenSleep);
  EXPECT_EQ(c.idle.spin_polls, 7u);
  EXPECT_EQ(c.device_id, 1u);
}

TEST(GuestConfig, unknown_key_names_file_key_and_line) {
  TempYaml y(std::string(kGuest) + "colour: blue\n");
  ConfigError e = expect_error([&] { load_guest(y.path()); });
  EXPECT_EQ(e.file(), y.path());
  EXPECT_EQ(e.key(), "colour");
  EXPECT_EQ(e.line(), 11);
  EXPECT_NE(std::string(e.what()).find("unknown key"), std::string::npos) << e.what();
}

TEST(GuestConfig, nested_unknown_key_names_its_path) {
  TempYaml y(std::string(kGuest) + "  bogus: 1\n");
  ConfigError e = expect_error([&] { load_guest(y.path()); });
  EXPECT_EQ(e.key(), "idle.bogus");
  EXPECT_EQ(e.line(), 11);
}

TEST(GuestConfig, a_key_written_twice_is_an_error_at_its_second_line) {
  TempYaml y("region: r\npsk_file: p\nmmio_timeout_ms: 100\nqueues: 2\nmmio_timeout_ms: 5\n");
  ConfigError e = expect_error([&] { load_guest(y.path()); });
  EXPECT_EQ(e.file(), y.path());
  EXPECT_EQ(e.key(), "mmio_timeout_ms");
  EXPECT_EQ(e.line(), 5);
  EXPECT_NE(std::string(e.what()).find("duplicate key (first at line 3)"), std::string::npos)
      << e.what();
}

TEST(DataplaneConfig, a_nested_key_written_twice_names_its_path) {
  TempYaml y("transport:\n  kind: kernel-udp\n  kind: kernel-tcp\n");
  ConfigError e = expect_error([&] { load_dataplane(y.path()); });
  EXPECT_EQ(e.key(), "transport.kind");
  EXPECT_EQ(e.line(), 3);
}

TEST(GuestConfig, out_of_range_value_names_the_allowed_range) {
  TempYaml y("region: r\npsk_file: p\nmmio_timeout_ms: 0\n");
  ConfigError e = expect_error([&] { load_guest(y.path()); });
  EXPECT_EQ(e.key(), "mmio_timeout_ms");
  EXPECT_EQ(e.line(), 3);
  EXPECT_NE(std::string(e.what()).find("[1, 600000]"), std::string::npos) << e.what();
}

TEST(GuestConfig, wrong_type_is_an_error) {
  TempYaml y("region: r\npsk_file: p\nqueues: many\n");
  ConfigError e = expect_error([&] { load_guest(y.path()); });
  EXPECT_EQ(e.key(), "queues");
  EXPECT_NE(std::string(e.what()).find("unsigned integer"), std::string::npos);
}

TEST(GuestConfig, negative_number_is_not_wrapped_into_a_huge_one) {
  TempYaml y("region: r\npsk_file: p\nreplay_window: -1\n");
  ConfigError e = expect_error([&] { load_guest(y.path()); });
  EXPECT_EQ(e.key(), "replay_window");
}

TEST(GuestConfig, bad_enum_value_lists_the_choices) {
  TempYaml y("region: r\npsk_file: p\nsecurity: secret\n");
  ConfigError e = expect_error([&] { load_guest(y.path()); });
  EXPECT_NE(std::string(e.what()).find("none, integrity, confidential"), std::string::npos);
}

TEST(GuestConfig, missing_required_key_is_named) {
  TempYaml y("psk_file: p\n");
  ConfigError e = expect_error([&] { load_guest(y.path()); });
  EXPECT_EQ(e.key(), "region");
}

TEST(GuestConfig, missing_guest_id_is_named) {
  TempYaml y("region: r\npsk_file: p\n");
  ConfigError e = expect_error([&] { load_guest(y.path()); });
  EXPECT_EQ(e.key(), "guest_id");
  TempYaml zero("region: r\npsk_file: p\nguest_id: 0\n");
  e = expect_error([&] { load_guest(zero.path()); });
  EXPECT_EQ(e.key(), "guest_id");
  EXPECT_EQ(e.line(), 3);
}

TEST(GuestConfig, missing_file_names_the_file) {
  ConfigError e = expect_error([] { load_guest("/nonexistent/ferry/guest.yaml"); });
  EXPECT_EQ(e.file(), "/nonexistent/ferry/guest.yaml");
  EXPECT_NE(std::string(e.what()).find("cannot open"), std::string::npos);
}

TEST(GuestConfig, invalid_yaml_names_the_line) {
  TempYaml y("region: r\npsk_file: [unclosed\n");
  ConfigError e = expect_error([&] { load_guest(y.path()); });
  EXPECT_GE(e.line(), 2);
  EXPECT_NE(std::string(e.what()).find("not valid YAML"), std::string::npos);
}

TEST(GuestConfig, bar_size_sets_each_bar_and_bar0_defaults_to_one_mebibyte) {
  TempYaml plain(kGuest);
  GuestConfig d = load_guest(plain.path());
  EXPECT_EQ(d.bar_sizes[0], 1u << 20);
  EXPECT_EQ(d.bar_sizes[2], 0u);
  TempYaml y(std::string(kGuest) + "bar_size:\n  0: 4096\n  2: 0x10000\n");
  GuestConfig c = load_guest(y.path());
  EXPECT_EQ(c.bar_sizes[0], 4096u);
  EXPECT_EQ(c.bar_sizes[1], 0u);
  EXPECT_EQ(c.bar_sizes[2], 65536u);
}

TEST(GuestConfig, bar_size_that_is_not_a_power_of_two_or_not_a_bar_is_named) {
  TempYaml odd(std::string(kGuest) + "bar_size: {0: 3000}\n");
  ConfigError e = expect_error([&] { load_guest(odd.path()); });
  EXPECT_EQ(e.key(), "bar_size.0");
  EXPECT_NE(std::string(e.what()).find("power of two"), std::string::npos) << e.what();
  TempYaml tiny(std::string(kGuest) + "bar_size: {1: 8}\n");
  e = expect_error([&] { load_guest(tiny.path()); });
  EXPECT_EQ(e.key(), "bar_size.1");
  EXPECT_NE(std::string(e.what()).find("[16, 1099511627776]"), std::string::npos) << e.what();
  TempYaml seventh(std::string(kGuest) + "bar_size: {6: 4096}\n");
  e = expect_error([&] { load_guest(seventh.path()); });
  EXPECT_EQ(e.key(), "bar_size.6");
}

const char *kDataplane =
    "eal:\n"
    "  lcores: [1]\n"
    "  no_huge: true\n"
    "  file_prefix: ferry-dp\n"
    "  vdevs: ['net_af_packet0,iface=ferry-cvm0']\n"
    "transport:\n"
    "  kind: dpdk\n"
    "  port: net_af_packet0\n"
    "  local: {ip: 198.18.0.1, port: 7000}\n"
    "  peer: {ip: 198.18.0.2, port: 7000, mac: 02:00:00:00:00:02}\n"
    "guests:\n"
    "  - path: /dev/hugepages/g1\n"
    "    channel: 1\n"
    "    queues: 4\n";

TEST(DataplaneConfig, valid_file_parses) {
  TempYaml y(kDataplane);
  DataplaneConfig c = load_dataplane(y.path());
  EXPECT_EQ(c.transport.kind, TransportConfig::Kind::kDpdk);
  EXPECT_EQ(c.transport.port, "net_af_packet0");
  EXPECT_EQ(c.transport.peer.mac, "02:00:00:00:00:02");
  EXPECT_EQ(c.transport.local.port, 7000);
  ASSERT_EQ(c.guests.size(), 1u);
  EXPECT_EQ(c.guests[0].n_queues, 4);
  EXPECT_TRUE(c.eal.no_huge);
  EXPECT_EQ(c.eal.lcores, std::vector<unsigned>{1});
}

TEST(DataplaneConfig, a_regions_owner_group_and_mode_are_read_by_name_or_number) {
  TempYaml y(std::string(kDataplane) + "    owner: root\n    group: 65534\n    mode: '0640'\n");
  DataplaneConfig c = load_dataplane(y.path());
  ASSERT_EQ(c.guests.size(), 1u);
  EXPECT_EQ(c.guests[0].uid, 0);
  EXPECT_EQ(c.guests[0].gid, 65534);
  EXPECT_EQ(c.guests[0].mode, 0640u);
  TempYaml defaults(kDataplane);
  c = load_dataplane(defaults.path());
  EXPECT_EQ(c.guests[0].uid, -1);
  EXPECT_EQ(c.guests[0].gid, -1);
  EXPECT_EQ(c.guests[0].mode, 0660u);
}

TEST(DataplaneConfig, an_unknown_group_or_a_bad_mode_of_a_region_is_named) {
  struct Case {
    const char *line, *key, *why;
  } cases[] = {{"    group: no-such-group-here\n", "guests[0].group", "no group"},
               {"    owner: no-such-user-here\n", "guests[0].owner", "no user"},
               {"    mode: '0966'\n", "guests[0].mode", "octal"},
               {"    mode: '0666'\n", "guests[0].mode", "everyone"}};
  for (const Case &k : cases) {
    TempYaml y(std::string(kDataplane) + k.line);
    ConfigError e = expect_error([&] { load_dataplane(y.path()); });
    EXPECT_EQ(e.key(), k.key) << e.what();
    EXPECT_EQ(e.line(), 15) << e.what();
    EXPECT_NE(std::string(e.what()).find(k.why), std::string::npos) << e.what();
  }
}

TEST(DataplaneConfig, bad_pci_address_is_named) {
  std::string text = kDataplane;
  text.insert(text.find("transport:"), "  allow: ['0000:zz:00.0']\n");
  TempYaml y2(text);
  ConfigError e = expect_error([&] { load_dataplane(y2.path()); });
  EXPECT_EQ(e.key(), "eal.allow");
  EXPECT_EQ(e.line(), 6);
  EXPECT_NE(std::string(e.what()).find("PCI address"), std::string::npos);
}

TEST(DataplaneConfig, secondary_processes_default_on_and_a_non_boolean_is_named) {
  EXPECT_TRUE(load_dataplane(TempYaml(kDataplane).path()).eal.secondary_processes);
  std::string text = kDataplane;
  text.insert(text.find("transport:"), "  secondary_processes: false\n");
  EXPECT_FALSE(load_dataplane(TempYaml(text).path()).eal.secondary_processes);
  text.replace(text.find("false"), 5, "sometimes");
  TempYaml bad(text);
  ConfigError e = expect_error([&] { load_dataplane(bad.path()); });
  EXPECT_EQ(e.key(), "eal.secondary_processes");
  EXPECT_EQ(e.line(), 6);
}

TEST(DataplaneConfig, bad_ip_and_mac_are_named) {
  std::string text = kDataplane;
  text.replace(text.find("198.18.0.2"), 10, "198.18.0.300");
  TempYaml y(text);
  ConfigError e = expect_error([&] { load_dataplane(y.path()); });
  EXPECT_EQ(e.key(), "transport.peer.ip");

  text = kDataplane;
  text.replace(text.find("02:00:00:00:00:02"), 17, "02:00:00:00:00:zz");
  TempYaml y2(text);
  e = expect_error([&] { load_dataplane(y2.path()); });
  EXPECT_EQ(e.key(), "transport.peer.mac");
}

TEST(DataplaneConfig, ring_slots_must_be_a_power_of_two) {
  TempYaml y(std::string(kDataplane) + "    ring_slots: 100\n");
  ConfigError e = expect_error([&] { load_dataplane(y.path()); });
  EXPECT_EQ(e.key(), "guests[0].ring_slots");
  EXPECT_EQ(e.line(), 15);
}

TEST(DataplaneConfig, duplicate_channel_is_refused) {
  TempYaml y(std::string(kDataplane) + "  - path: /dev/hugepages/g2\n    channel: 1\n");
  ConfigError e = expect_error([&] { load_dataplane(y.path()); });
  EXPECT_EQ(e.key(), "guests[1].channel");
}

TEST(DataplaneConfig, dpdk_without_port_is_refused) {
  std::string text = kDataplane;
  text.erase(text.find("  port: net_af_packet0\n"), 23);
  TempYaml y(text);
  ConfigError e = expect_error([&] { load_dataplane(y.path()); });
  EXPECT_EQ(e.key(), "transport.port");
}

TEST(DeviceNodeConfig, devices_and_model_params_parse) {
  TempYaml y(
      "transport: {kind: kernel-tcp, local: {ip: 198.18.0.2, port: 7000}}\n"
      "devices:\n"
      "  - id: 3\n"
      "    guests:\n"
      "      - {id: 5, psk_file: /etc/ferry/psk-guest5}\n"
      "      - {id: 6, psk_file: /etc/ferry/psk-guest6}\n"
      "    model: accel\n"
      "    params: {max_transfer: 65536}\n"
      "session_idle_timeout_ms: 0\n");
  DeviceNodeConfig c = load_device_node(y.path());
  ASSERT_EQ(c.devices.size(), 1u);
  EXPECT_EQ(c.devices[0].device_id, 3u);
  ASSERT_EQ(c.devices[0].guests.size(), 2u);
  EXPECT_EQ(c.devices[0].guests[1].guest_id, 6u);
  EXPECT_EQ(c.devices[0].guests[1].psk_file, "/etc/ferry/psk-guest6");
  EXPECT_EQ(c.session_idle_timeout_ms, 0u);
  EXPECT_EQ(c.devices[0].model, "accel");
  EXPECT_EQ(c.devices[0].params.at("max_transfer"), 65536u);
  EXPECT_EQ(c.transport.kind, TransportConfig::Kind::kKernelTcp);
}

// The loader knows no model: it carries the name and parameters as written, with their keys
// and lines, for the device node's model table to check (tests/device-node/model_config_test.cpp).
TEST(DeviceNodeConfig, model_and_params_are_carried_as_written_with_their_lines) {
  TempYaml y(
      "devices:\n"
      "  - guests: [{id: 1, psk_file: /etc/ferry/psk}]\n"
      "    model: warp-drive\n"
      "    params:\n"
      "      warp_speed: 9\n");
  DeviceNodeConfig c = load_device_node(y.path());
  ASSERT_EQ(c.devices.size(), 1u);
  EXPECT_EQ(c.devices[0].model, "warp-drive");
  EXPECT_EQ(c.devices[0].model_source.key, "devices[0].model");
  EXPECT_EQ(c.devices[0].model_source.line, 3);
  EXPECT_EQ(c.devices[0].params.at("warp_speed"), 9u);
  EXPECT_EQ(c.devices[0].param_sources.at("warp_speed").key, "devices[0].params.warp_speed");
  EXPECT_EQ(c.devices[0].param_sources.at("warp_speed").line, 5);
}

TEST(DeviceNodeConfig, a_device_without_model_leaves_the_choice_to_the_device_node) {
  TempYaml y("devices:\n  - guests: [{id: 1, psk_file: /etc/ferry/psk}]\n");
  DeviceNodeConfig c = load_device_node(y.path());
  ASSERT_EQ(c.devices.size(), 1u);
  EXPECT_EQ(c.devices[0].model, "");
}

TEST(DeviceNodeConfig, model_params_must_be_unsigned_integers_and_the_model_a_name) {
  TempYaml y(
      "devices:\n"
      "  - guests: [{id: 1, psk_file: /etc/ferry/psk}]\n"
      "    params:\n"
      "      dma_buffer_size: big\n");
  ConfigError e = expect_error([&] { load_device_node(y.path()); });
  EXPECT_EQ(e.key(), "devices[0].params.dma_buffer_size");
  EXPECT_EQ(e.line(), 4);
  TempYaml empty("devices:\n  - guests: [{id: 1, psk_file: /etc/ferry/psk}]\n    model: ''\n");
  e = expect_error([&] { load_device_node(empty.path()); });
  EXPECT_EQ(e.key(), "devices[0].model");
  EXPECT_EQ(e.line(), 3);
}

TEST(DeviceNodeConfig, a_device_wide_psk_is_refused_in_favour_of_per_guest_keys) {
  TempYaml y(
      "devices:\n"
      "  - id: 1\n"
      "    psk_file: /etc/ferry/psk\n");
  ConfigError e = expect_error([&] { load_device_node(y.path()); });
  EXPECT_EQ(e.key(), "devices[0].psk_file");
  EXPECT_EQ(e.line(), 3);
  EXPECT_NE(std::string(e.what()).find("guests"), std::string::npos) << e.what();
}

TEST(DeviceNodeConfig, guest_key_errors_name_file_key_and_line) {
  TempYaml none("devices:\n  - id: 1\n");
  ConfigError e = expect_error([&] { load_device_node(none.path()); });
  EXPECT_EQ(e.key(), "devices[0].guests");
  TempYaml twice(
      "devices:\n"
      "  - id: 1\n"
      "    guests:\n"
      "      - {id: 4, psk_file: /a}\n"
      "      - {id: 4, psk_file: /b}\n");
  e = expect_error([&] { load_device_node(twice.path()); });
  EXPECT_EQ(e.file(), twice.path());
  EXPECT_EQ(e.key(), "devices[0].guests[1].id");
  EXPECT_EQ(e.line(), 5);
  TempYaml no_key("devices:\n  - id: 1\n    guests:\n      - {id: 4}\n");
  e = expect_error([&] { load_device_node(no_key.path()); });
  EXPECT_EQ(e.key(), "devices[0].guests[0].psk_file");
  EXPECT_EQ(e.line(), 4);
  TempYaml extra("devices:\n  - id: 1\n    guests:\n      - {id: 4, psk_file: /a, colour: 1}\n");
  e = expect_error([&] { load_device_node(extra.path()); });
  EXPECT_EQ(e.key(), "devices[0].guests[0].colour");
}

}  // namespace
}  // namespace ferry::config

namespace ferry::config {
namespace {

// The configurations shipped in config/examples/ (what deploy.md tells users to copy) parse.
TEST(ShippedConfigs, deployment_examples_parse) {
  const std::string dir = FERRY_SOURCE_DIR "/config/examples/";
  DataplaneConfig dp = load_dataplane(dir + "cvm-host-dataplane.yaml");
  EXPECT_EQ(dp.transport.kind, TransportConfig::Kind::kDpdk);
  EXPECT_EQ(dp.eal.allow, std::vector<std::string>{"0000:3b:00.0"});
  DeviceNodeConfig dn = load_device_node(dir + "accel-host-device-node.yaml");
  EXPECT_EQ(dn.devices.size(), 2u);
  GuestConfig g = load_guest(dir + "cvm-guest.yaml");
  EXPECT_EQ(g.n_queues, 4);
}

}  // namespace
}  // namespace ferry::config

namespace ferry::config {
namespace {

TEST(PciAddress, accepts_what_dpdk_takes_and_refuses_the_rest) {
  for (const char *ok : {"0000:00:1f.7", "00:02.0", "10000:3a:00.1", "0:0:0.0", "ABCD:EF:1F.0"})
    EXPECT_TRUE(is_pci_address(ok)) << ok;
  for (const char *bad :
       {"0000:00:20.0", "0000:00:1f.8", "zz:00.0", " 00:01.0", "00:01.0 ", "0:0:0:0.0", "00:01", "",
        "000:0000:00.0", "123456789:00:00.0", "00:01.0.1", "+0:01.0"})
    EXPECT_FALSE(is_pci_address(bad)) << bad;
}

TEST(DeviceNodeFiles, an_unreadable_psk_names_file_key_and_line) {
  TempYaml y(
      "devices:\n"
      "  - id: 1\n"
      "    guests:\n"
      "      - {id: 1, psk_file: /nonexistent/ferry/psk}\n");
  const DeviceNodeConfig c = load_device_node(y.path());  // the loader does not open it
  try {
    check_device_node_files(c);
    ADD_FAILURE() << "no ConfigError";
  } catch (const ConfigError &e) {
    EXPECT_EQ(e.file(), y.path());
    EXPECT_EQ(e.key(), "devices[0].guests[0].psk_file");
    EXPECT_EQ(e.line(), 4);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/ferry/psk"), std::string::npos);
  }
}

TEST(DataplaneFiles, a_region_in_a_missing_directory_names_file_key_and_line) {
  TempYaml y(
      "guests:\n"
      "  - channel: 1\n"
      "    path: /nonexistent/ferry/region\n");
  const DataplaneConfig c = load_dataplane(y.path());
  try {
    check_dataplane_files(c);
    ADD_FAILURE() << "no ConfigError";
  } catch (const ConfigError &e) {
    EXPECT_EQ(e.key(), "guests[0].path");
    EXPECT_EQ(e.line(), 3);
  }
}

}  // namespace
}  // namespace ferry::config
