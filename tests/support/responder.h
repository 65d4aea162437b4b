// The in-process responder the guest shim's tests run against: the host side (HostRegion +
// HostRelay, the data plane's real shared-memory code) and the accelerator side (a real
// DeviceNode with a real model), joined by two FakeLinks as the engine would join them.
// Nothing is mocked: the shim talks to real rings, real crypto, a real device model.
//
// By default a thread pumps everything (the shim under test blocks in its own calls); the
// pump can be paused, and a tamper hook run on every pass plays a hostile host.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "fake_link.h"
#include "ferry/config/config.h"
#include "ferry/device/device_node.h"
#include "ferry/device/model.h"
#include "relay/host_region.h"
#include "relay/host_relay.h"

namespace ferry::testing {

struct ResponderOptions {
  config::GuestRegion region;  // path: left empty, a fresh one is chosen
  std::string model = "edu";
  device::ModelParams params;
  uint32_t device_id = 1;
  uint32_t guest_id = 1;
  size_t max_piece = 1024;
  bool start_thread = true;
};

class Responder {
 public:
  explicit Responder(ResponderOptions opts = {});
  ~Responder();
  Responder(const Responder &) = delete;
  Responder &operator=(const Responder &) = delete;

  // A guest config for this responder (region, PSK, device id; short timeouts for tests).
  config::GuestConfig guest_config(uint32_t mmio_timeout_ms = 2000) const;
  // The same as a YAML file (for ferry_open and the example drivers); returns its path.
  std::string write_guest_yaml(uint32_t mmio_timeout_ms = 2000, uint16_t queues = 1) const;
  const std::string &psk_file() const { return psk_file_; }

  void start();  // starts the pump thread (idempotent)
  void stop();   // stops and joins it; the region stays
  // One pass of everything; returns work done. Only when the thread is not running.
  int pump();
  // Runs f with the pump paused (f may touch region, relay, links, node).
  void paused(const std::function<void()> &f);
  // Runs on every pass of the pump, after the regular work (hostile host).
  void set_tamper(std::function<void(Responder &)> f);
  // Destroys the relay (the region is marked not ready, as when the data plane exits).
  void kill_relay();

  dataplane::HostRegion &region() { return *region_; }
  dataplane::HostRelay &relay() { return *relay_; }
  device::DeviceNode &node() { return *node_; }
  FakeLink &to_device() { return to_device_; }
  FakeLink &to_host() { return to_host_; }
  // The live session's model (nullptr before the handshake).
  device::DeviceModel *model();
  uint64_t passes() const { return passes_.load(); }

 private:
  int pump_locked();
  void run();

  ResponderOptions opts_;
  std::string psk_file_;
  std::unique_ptr<proto::Aead> aead_;
  std::unique_ptr<dataplane::HostRegion> region_;
  std::unique_ptr<dataplane::HostRelay> relay_;
  std::unique_ptr<device::DeviceNode> node_;
  FakeLink to_device_{1 << 16};  // relay -> device node
  FakeLink to_host_{1 << 16};    // device node -> relay
  std::function<void(Responder &)> tamper_;
  std::mutex mu_;
  std::thread thread_;
  std::atomic<bool> running_{false};
  std::atomic<uint64_t> passes_{0};
};

// A fresh 32-byte PSK in a new file (hex); returns its path.
std::string write_psk_file(const std::string &tag);
// A path for a scratch file that does not exist yet (under $TMPDIR or /tmp).
std::string scratch_path(const std::string &tag);

}  // namespace ferry::testing
