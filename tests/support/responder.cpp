#include "responder.h"

#include <sched.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <random>
#include <stdexcept>

#include "ferry/proto/shm_layout.h"

namespace ferry::testing {

namespace {

std::atomic<uint64_t> g_serial{0};

uint64_t mono_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

std::string scratch_path(const std::string &tag) {
  const char *tmp = std::getenv("TMPDIR");
  std::string dir = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  return dir + "/ferry-guest-" + std::to_string(getpid()) + "-" +
         std::to_string(g_serial.fetch_add(1)) + "-" + tag;
}

std::string write_psk_file(const std::string &tag) {
  std::string path = scratch_path(tag + ".psk");
  std::random_device rd;
  std::ofstream f(path);
  const char *hex = "0123456789abcdef";
  for (int i = 0; i < 64; ++i) f << hex[rd() % 16];
  f << "\n";
  if (!f) throw std::runtime_error("cannot write " + path);
  return path;
}

Responder::Responder(ResponderOptions opts) : opts_(std::move(opts)) {
  if (opts_.region.path.empty()) {
    proto::ShmGeometry g;
    g.n_queues = opts_.region.n_queues;
    g.ring_slots = opts_.region.ring_slots;
    g.chunk_size = opts_.region.chunk_size;
    g.n_chunks = opts_.region.n_chunks;
    opts_.region.path = dataplane::HostRegion::default_path(
        "ferry-guest-" + std::to_string(getpid()) + "-" + std::to_string(g_serial.fetch_add(1)),
        proto::shm_region_size(g));
  }
  psk_file_ = write_psk_file("responder");
  aead_ = proto::Aead::create_best();
  region_ = std::make_unique<dataplane::HostRegion>(opts_.region);
  relay_ = std::make_unique<dataplane::HostRelay>(*region_, opts_.max_piece);

  config::DeviceNodeConfig cfg;
  config::DeviceConfig dev;
  dev.device_id = opts_.device_id;
  dev.guests.push_back({opts_.guest_id, psk_file_});
  dev.model = opts_.model;
  dev.params = opts_.params;
  cfg.devices.push_back(dev);
  // No DMA geometry here: the guest's Hello carries its region's.
  node_ = std::make_unique<device::DeviceNode>(cfg, *aead_);
  if (opts_.start_thread) start();
}

Responder::~Responder() {
  stop();
  node_.reset();
  relay_.reset();
  region_.reset();
  std::remove(psk_file_.c_str());
}

config::GuestConfig Responder::guest_config(uint32_t mmio_timeout_ms) const {
  config::GuestConfig c;
  c.file = "(test)";
  c.region_path = opts_.region.path;
  c.psk_file = psk_file_;
  c.device_id = opts_.device_id;
  c.guest_id = opts_.guest_id;
  c.mmio_timeout_ms = mmio_timeout_ms;
  c.handshake_timeout_ms = 5000;
  return c;
}

std::string Responder::write_guest_yaml(uint32_t mmio_timeout_ms, uint16_t queues) const {
  std::string path = scratch_path("guest.yaml");
  std::ofstream f(path);
  f << "region: " << opts_.region.path << "\n"
    << "queues: " << queues << "\n"
    << "queue: 0\n"
    << "psk_file: " << psk_file_ << "\n"
    << "device_id: " << opts_.device_id << "\n"
    << "guest_id: " << opts_.guest_id << "\n"
    << "security: confidential\n"
    << "mmio_timeout_ms: " << mmio_timeout_ms << "\n"
    << "handshake_timeout_ms: 5000\n"
    << "idle:\n  mode: spin-then-yield\n  spin_polls: 20\n";
  if (!f) throw std::runtime_error("cannot write " + path);
  return path;
}

void Responder::start() {
  if (running_.exchange(true)) return;
  thread_ = std::thread([this] { run(); });
}

void Responder::stop() {
  if (!running_.exchange(false)) return;
  thread_.join();
}

void Responder::run() {
  uint32_t idle = 0;
  while (running_.load(std::memory_order_relaxed)) {
    int n;
    {
      std::lock_guard<std::mutex> lk(mu_);
      n = pump_locked();
    }
    if (n > 0) {
      idle = 0;
    } else if (++idle > 50) {
      sched_yield();
    }
  }
}

int Responder::pump() {
  std::lock_guard<std::mutex> lk(mu_);
  return pump_locked();
}

int Responder::pump_locked() {
  int n = 0;
  if (relay_) n += relay_->poll_submissions(to_device_, 64);
  n += static_cast<int>(to_device_.drain(
      [&](const proto::RecordView &r) {
        node_->on_record(to_host_, r);
        return true;
      },
      256));
  node_->poll(mono_ns());
  if (relay_) {
    n += static_cast<int>(to_host_.drain(
        [&](const proto::RecordView &r) { return relay_->on_record(r, to_device_); }, 256));
    if (passes_.load(std::memory_order_relaxed) % 16 == 0) relay_->housekeeping();
  }
  passes_.fetch_add(1, std::memory_order_relaxed);
  if (tamper_) tamper_(*this);
  return n;
}

void Responder::paused(const std::function<void()> &f) {
  std::lock_guard<std::mutex> lk(mu_);
  f();
}

void Responder::set_tamper(std::function<void(Responder &)> f) {
  std::lock_guard<std::mutex> lk(mu_);
  tamper_ = std::move(f);
}

void Responder::kill_relay() {
  std::lock_guard<std::mutex> lk(mu_);
  relay_.reset();
}

device::DeviceModel *Responder::model() {
  return node_->model(to_host_, opts_.region.channel);
}

}  // namespace ferry::testing
