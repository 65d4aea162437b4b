// A device node with its bench, for the end-to-end tests: real crypto (ipsec-mb when the
// CPU runs it on the node, OpenSSL on the test guest), a PSK file, devices by id.
#pragma once

#include <memory>
#include <vector>

#include "ferry/device/device_node.h"
#include "ferry/device/edu.h"
#include "test_guest.h"

namespace ferry::testing {

inline std::vector<TestDevice> edu_and_accel() {
  return {{1, "edu", {{"factorial_delay_ns", 1000}}}, {2, "accel", {}}};
}

struct NodeRig {
  explicit NodeRig(std::vector<TestDevice> devices = edu_and_accel(), device::NodeOptions opts = {},
                   size_t link_capacity = 1 << 16)
      : psk(0x42),
        aead(proto::Aead::create_best()),
        node(node_config(devices, psk), *aead, opts),
        bench(node, link_capacity) {}
  TestGuest::Options guest_options(uint32_t channel, uint32_t device_id = 1) const {
    TestGuest::Options o;
    o.channel = channel;
    o.device_id = device_id;
    return o;
  }
  device::NodeCounters counters() const { return node.counters(); }
  device::EduModel *edu(const TestGuest &g) {
    return dynamic_cast<device::EduModel *>(node.model(bench.from_node, g.channel()));
  }

  TempPsk psk;
  std::unique_ptr<proto::Aead> aead;
  device::DeviceNode node;
  TestBench bench;
};

}  // namespace ferry::testing

namespace ferry::testing {

// Programs and starts an edu DMA (one posted write per register), then lets it run.
inline void edu_dma(TestGuest &g, uint64_t src, uint64_t dst, uint64_t count, uint64_t cmd) {
  using device::EduModel;
  g.post_write(0, EduModel::kRegDmaSrc, 8, src);
  g.post_write(0, EduModel::kRegDmaDst, 8, dst);
  g.post_write(0, EduModel::kRegDmaCount, 8, count);
  g.write(0, EduModel::kRegDmaCmd, 8, cmd);
}

inline std::vector<TestDevice> big_edu_and_accel() {
  return {{1, "edu", {{"factorial_delay_ns", 1000}, {"dma_buffer_size", 65536}}}, {2, "accel", {}}};
}

}  // namespace ferry::testing
