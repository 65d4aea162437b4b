// The YAML the end-to-end suites give the services and guests (tests/support/
// service_configs.h) loads with the real loaders and says what its options say: a wrong key
// there fails here, in milliseconds, rather than as a service that will not start.
#include <gtest/gtest.h>

#include <string>

#include "config_file.h"
#include "ferry/config/config.h"
#include "service_configs.h"

namespace ferry::testing {
namespace {

using config::IdlePolicy;

TEST(ServiceConfigs, the_default_data_plane_file_loads_with_the_shared_lab_settings) {
  DataplaneYaml o;
  o.file_prefix = "fe-test-dp";
  o.guests = {{"/dev/hugepages/r1", 1, 2, -1}};
  o.ready_file = "/tmp/dp.ready";
  const TempYaml y(dataplane_yaml(o));
  const config::DataplaneConfig c = config::load_dataplane(y.path());
  EXPECT_EQ(c.eal.lcores, std::vector<unsigned>{0});
  EXPECT_TRUE(c.eal.no_huge);
  EXPECT_EQ(c.eal.memory_mb, 64u);
  EXPECT_EQ(c.eal.file_prefix, "fe-test-dp");
  EXPECT_TRUE(c.eal.vdevs.empty());
  EXPECT_EQ(c.transport.kind, config::TransportConfig::Kind::kKernelUdp);
  EXPECT_EQ(c.transport.local.ip, "198.18.0.1");
  EXPECT_EQ(c.transport.peer.ip, "198.18.0.2");
  EXPECT_EQ(c.transport.local.port, 7000);
  EXPECT_EQ(c.transport.peer.port, 7000);
  EXPECT_EQ(c.transport.retransmit_us, 5000u);
  EXPECT_EQ(c.idle.mode, IdlePolicy::Mode::kSpinThenSleep);
  EXPECT_EQ(c.idle.spin_polls, 200u);
  EXPECT_EQ(c.idle.sleep_us, 20u);
  EXPECT_EQ(c.lanes, 1u);
  EXPECT_FALSE(c.faults.enabled());
  ASSERT_EQ(c.guests.size(), 1u);
  EXPECT_EQ(c.guests[0].path, "/dev/hugepages/r1");
  EXPECT_EQ(c.guests[0].n_queues, 2);
  EXPECT_EQ(c.ready_file, "/tmp/dp.ready");
}

TEST(ServiceConfigs, a_data_plane_on_dpdk_with_lanes_and_faults_says_so) {
  DataplaneYaml o;
  o.file_prefix = "fe-test-dp";
  o.lcores = {0, 1, 2};
  o.cpus = {0, 1, 0};
  o.vdevs = {"net_af_packet0,iface=veth0"};
  o.kind = "dpdk";
  o.port = "net_af_packet0";
  o.udp_port = 7100;
  o.max_retransmit_us = 20000;
  o.lanes = 2;
  o.housekeeping_every = 64;
  o.fault_seed = 11;
  o.faults_tx = "{drop: 5%, delay: 1%, delay_us: 2000}";
  o.faults_rx = "{corrupt: 0.1%}";
  o.guests = {{"/dev/hugepages/r1", 1, 1, 0}, {"/dev/hugepages/r2", 2, 1, 1}};
  const TempYaml y(dataplane_yaml(o));
  const config::DataplaneConfig c = config::load_dataplane(y.path());
  EXPECT_EQ(c.eal.cpus, (std::vector<unsigned>{0, 1, 0}));
  EXPECT_EQ(c.eal.vdevs, std::vector<std::string>{"net_af_packet0,iface=veth0"});
  EXPECT_EQ(c.transport.kind, config::TransportConfig::Kind::kDpdk);
  EXPECT_EQ(c.transport.port, "net_af_packet0");
  EXPECT_EQ(c.transport.local.port, 7100);
  EXPECT_EQ(c.transport.max_retransmit_us, 20000u);
  EXPECT_EQ(c.lanes, 2u);
  EXPECT_EQ(c.housekeeping_every, 64u);
  EXPECT_EQ(c.faults.seed, 11u);
  EXPECT_EQ(c.faults.tx.drop_ppm, 50000u);
  EXPECT_EQ(c.faults.tx.delay_us, 2000u);
  EXPECT_EQ(c.faults.rx.corrupt_ppm, 1000u);
  ASSERT_EQ(c.guests.size(), 2u);
  EXPECT_EQ(c.guests[1].lane, 1u);
  EXPECT_EQ(c.guests[1].channel, 2u);
}

TEST(ServiceConfigs, a_device_node_file_carries_its_devices_models_and_guest_keys) {
  DeviceNodeYaml o;
  o.file_prefix = "fe-test-dn";
  o.lcores = {1};
  o.kind = "kernel-tcp";
  o.devices = {{1, {{1, "/tmp/psk1"}, {2, "/tmp/psk2"}}, "edu", {{"dma_buffer_size", 1048576}}},
               {2, {{3, "/tmp/psk3"}}, "accel", {}}};
  o.dma_timeout_ms = 2000;
  o.ready_file = "/tmp/dn.ready";
  const TempYaml y(device_node_yaml(o));
  const config::DeviceNodeConfig c = config::load_device_node(y.path());
  EXPECT_EQ(c.eal.lcores, std::vector<unsigned>{1});
  EXPECT_EQ(c.transport.kind, config::TransportConfig::Kind::kKernelTcp);
  EXPECT_EQ(c.transport.local.ip, "198.18.0.2");
  EXPECT_EQ(c.transport.peer.ip, "198.18.0.1");
  EXPECT_EQ(c.dma_timeout_ms, 2000u);
  EXPECT_EQ(c.ready_file, "/tmp/dn.ready");
  ASSERT_EQ(c.devices.size(), 2u);
  EXPECT_EQ(c.devices[0].model, "edu");
  EXPECT_EQ(c.devices[0].params.at("dma_buffer_size"), 1048576u);
  ASSERT_EQ(c.devices[0].guests.size(), 2u);
  EXPECT_EQ(c.devices[0].guests[1].guest_id, 2u);
  EXPECT_EQ(c.devices[0].guests[1].psk_file, "/tmp/psk2");
  EXPECT_EQ(c.devices[1].device_id, 2u);
  EXPECT_EQ(c.devices[1].model, "accel");
  EXPECT_TRUE(c.devices[1].params.empty());
}

TEST(ServiceConfigs, a_guest_file_carries_its_region_keys_timeouts_and_idle_policy) {
  GuestYaml o;
  o.region = "/dev/hugepages/r2";
  o.queues = 2;
  o.queue = 1;
  o.psk_file = "/tmp/psk2";
  o.guest_id = 2;
  o.security = "integrity";
  o.rekey_after_messages = 200;
  const TempYaml y(guest_yaml(o));
  const config::GuestConfig c = config::load_guest(y.path());
  EXPECT_EQ(c.region_path, "/dev/hugepages/r2");
  EXPECT_EQ(c.n_queues, 2);
  EXPECT_EQ(c.queue, 1);
  EXPECT_EQ(c.psk_file, "/tmp/psk2");
  EXPECT_EQ(c.device_id, 1u);
  EXPECT_EQ(c.guest_id, 2u);
  EXPECT_EQ(c.security, proto::Security::kIntegrity);
  EXPECT_EQ(c.mmio_timeout_ms, 2000u);
  EXPECT_EQ(c.handshake_timeout_ms, 5000u);
  EXPECT_EQ(c.rekey_after_messages, 200u);
  EXPECT_EQ(c.rekey_after_ms, 0u);
  EXPECT_EQ(c.idle.mode, IdlePolicy::Mode::kSpinThenSleep);
  EXPECT_EQ(c.idle.spin_polls, 50u);
  EXPECT_EQ(c.idle.sleep_us, 5u);
}

}  // namespace
}  // namespace ferry::testing
