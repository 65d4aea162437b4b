// A hostile host PROCESS against a running data plane: ferry-hostile-host maps the region file
// ferry-dataplane created for the guest and rewrites ring indices, replays old completions,
// rolls back, swaps and flips DMA chunks and their metadata, while the test process runs the
// guest against both real services. Where the attack needs the data plane to hold still the
// test stops it with SIGSTOP (the host owns that process too). The guest must detect each
// attack, the driver must get an error, never forged data, and no service may crash.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <thread>
#include <vector>

#include "api_internal.h"
#include "require.h"
#include "service_lab.h"

extern char **environ;

namespace ferry::testing {
namespace {

constexpr uint64_t kLiveness = 0x04, kDmaSrc = 0x80, kDmaDst = 0x88, kDmaCount = 0x90,
                   kDmaCmd = 0x98, kEduBuffer = 0x40000;
constexpr uint64_t kDmaStart = 0x1, kDmaToRam = 0x2;
constexpr size_t kChunk = 4096;
constexpr uint8_t kSentinel = 0xee;

// ferry-hostile-host as a child process spoken to through pipes.
class HostileHost {
 public:
  explicit HostileHost(const std::string &region) {
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0) return;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, in[1]);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    const std::string exe = build_root() + "/tests/attacks/ferry-hostile-host";
    char *argv[] = {const_cast<char *>(exe.c_str()), const_cast<char *>(region.c_str()), nullptr};
    if (posix_spawn(&pid_, exe.c_str(), &fa, nullptr, argv, environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    to_ = fdopen(in[1], "w");
    from_ = fdopen(out[0], "r");
  }
  ~HostileHost() {
    if (to_) {
      std::fputs("quit\n", to_);
      std::fclose(to_);
    }
    if (from_) std::fclose(from_);
    if (pid_ > 0) waitpid(pid_, nullptr, 0);
  }
  // Sends one command; returns the reply without "ok " (or "error ..." as is).
  std::string cmd(const std::string &c) {
    if (!to_ || !from_) return "error no process";
    std::fprintf(to_, "%s\n", c.c_str());
    std::fflush(to_);
    char line[512];
    if (!std::fgets(line, sizeof(line), from_)) return "error no answer";
    std::string s(line);
    while (!s.empty() && s.back() == '\n') s.pop_back();
    return s.rfind("ok", 0) == 0 ? s.substr(std::min<size_t>(3, s.size())) : s;
  }
  uint64_t num(const std::string &c) { return std::stoull("0" + cmd(c)); }

 private:
  pid_t pid_ = -1;
  FILE *to_ = nullptr;
  FILE *from_ = nullptr;
};

class HostileHostProcess : public ::testing::Test {
 protected:
  void SetUp() override {
    ServiceLabOptions o;
    o.mmio_timeout_ms = 600;
    lab_ = std::make_unique<ServiceLab>(o);
    FERRY_REQUIRE(!lab_->skip(), lab_->error());
    ASSERT_TRUE(lab_->ok()) << lab_->error();
    dev_ = lab_->open_guest();
    ASSERT_NE(dev_, nullptr) << lab_->error() << lab_->logs();
    host_ = std::make_unique<HostileHost>(lab_->region_path());
    std::istringstream g(host_->cmd("geometry"));
    g >> dma_base_ >> chunk_size_;
    ASSERT_EQ(chunk_size_, kChunk) << "hostile host: " << g.str();
    for (uint32_t i = 0; i < 8; ++i) write_and_check(0x4d000000u + i);
  }
  void TearDown() override {
    if (lab_ && lab_->ok()) {
      kill(lab_->dataplane_pid(), SIGCONT);
      EXPECT_TRUE(lab_->services_running()) << "a service died under the attack\n" << lab_->logs();
    }
    host_.reset();
  }

  // A liveness write and read: the read returns ~v, or fails with all-ones and an error.
  // Anything else is forged.
  bool write_and_check(uint32_t v) {
    ferry_iowrite32(dev_, 0, kLiveness, v);
    const uint32_t back = ferry_ioread32(dev_, 0, kLiveness);
    const int err = ferry_last_error(dev_);
    if (err == 0 && back == ~v) {
      last_ = v;
      return true;
    }
    EXPECT_NE(err, 0) << "a read returned 0x" << std::hex << back << " without an error";
    EXPECT_EQ(back, 0xffffffffu) << "a failed read returned data";
    return false;
  }
  uint64_t suspicious() {
    const guest::DeviceStats s = dev_->impl->stats();
    return s.auth_failed + s.replayed + s.malformed + s.bad_index;
  }

  int edu_dma(uint64_t src, uint64_t dst, uint64_t dir) {
    ferry_iowrite64(dev_, 0, kDmaSrc, src);
    ferry_iowrite64(dev_, 0, kDmaDst, dst);
    ferry_iowrite64(dev_, 0, kDmaCount, kChunk);
    ferry_iowrite64(dev_, 0, kDmaCmd, kDmaStart | dir);
    for (int i = 0; i < 10000; ++i) {
      const uint64_t cmd = ferry_ioread64(dev_, 0, kDmaCmd);
      if (ferry_last_error(dev_) != 0) return -1;
      if ((cmd & kDmaStart) == 0) return 0;
    }
    return -1;
  }
  // Puts `fill` into the device buffer (RAM -> device).
  void load_device(uint8_t fill) {
    uint64_t dma = 0;
    auto *src = static_cast<uint8_t *>(ferry_dma_alloc(dev_, kChunk, &dma));
    ASSERT_NE(src, nullptr);
    std::memset(src, fill, kChunk);
    ASSERT_EQ(ferry_dma_sync_for_device(dev_, dma, kChunk), 0);
    ASSERT_EQ(edu_dma(dma, kEduBuffer, 0), 0);
    ferry_dma_free(dev_, src, kChunk);
  }
  // The device buffer's first byte value, read through a fresh buffer (device -> RAM).
  std::vector<uint8_t> read_device() {
    uint64_t dma = 0;
    auto *dst = static_cast<uint8_t *>(ferry_dma_alloc(dev_, kChunk, &dma));
    EXPECT_NE(dst, nullptr);
    if (!dst) return {};
    EXPECT_EQ(edu_dma(kEduBuffer, dma, kDmaToRam), 0);
    EXPECT_EQ(ferry_dma_sync_for_cpu(dev_, dma, kChunk), 0);
    std::vector<uint8_t> out(dst, dst + kChunk);
    ferry_dma_free(dev_, dst, kChunk);
    return out;
  }
  uint32_t chunk_of(uint64_t dma) const {
    return static_cast<uint32_t>((dma - dma_base_) / kChunk);
  }
  static bool all(const uint8_t *p, uint8_t v) {
    return std::all_of(p, p + kChunk, [v](uint8_t b) { return b == v; });
  }

  std::unique_ptr<ServiceLab> lab_;
  std::unique_ptr<HostileHost> host_;
  ferry_dev *dev_ = nullptr;
  uint64_t dma_base_ = 0, chunk_size_ = 0;
  uint32_t last_ = 0;
};

// A read issued while the data plane is stopped, joined later.
struct PendingRead {
  explicit PendingRead(ferry_dev *dev)
      : t([this, dev] {
          value = ferry_ioread32(dev, 0, kLiveness);
          error = ferry_last_error(dev);
        }) {
    std::this_thread::sleep_for(std::chrono::milliseconds(60));
  }
  uint32_t value = 0;
  int error = 0;
  std::thread t;
};

TEST_F(HostileHostProcess, an_impossible_completion_producer_index_is_refused_until_repaired) {
  const uint64_t bad0 = dev_->impl->stats().bad_index;
  const std::string good = host_->cmd("get cq.prod");
  ASSERT_EQ(kill(lab_->dataplane_pid(), SIGSTOP), 0);
  PendingRead read(dev_);
  const uint32_t g = static_cast<uint32_t>(std::stoul(good));
  EXPECT_EQ(host_->cmd("set cq.prod " + std::to_string(g + 100000)), "");
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  EXPECT_EQ(host_->cmd("set cq.prod " + std::to_string(g - 1)), "");
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  EXPECT_EQ(host_->cmd("set cq.prod " + good), "");
  ASSERT_EQ(kill(lab_->dataplane_pid(), SIGCONT), 0);
  read.t.join();
  EXPECT_EQ(read.error, 0);
  EXPECT_EQ(read.value, ~last_);
  EXPECT_GT(dev_->impl->stats().bad_index, bad0);
}

TEST_F(HostileHostProcess,
       replayed_completions_are_dropped_as_replays_and_later_calls_fail_never_forged) {
  const uint64_t replayed0 = dev_->impl->stats().replayed;
  ASSERT_GE(host_->num("save-cq"), 8u);
  ASSERT_EQ(kill(lab_->dataplane_pid(), SIGSTOP), 0);
  PendingRead read(dev_);
  EXPECT_NE(host_->cmd("replay-cq 4").rfind("error", 0), 0u);
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  ASSERT_EQ(kill(lab_->dataplane_pid(), SIGCONT), 0);
  read.t.join();
  // The four old completions were taken and dropped as replays; the genuine answer then lands
  // behind the guest's consumer index: the call fails, or (if it raced ahead) is genuine.
  EXPECT_GE(dev_->impl->stats().replayed - replayed0, 4u);
  if (read.error != 0) {
    EXPECT_EQ(read.value, 0xffffffffu);
  } else {
    EXPECT_EQ(read.value, ~last_);
  }
  // The guest's consumer index is now ahead of the data plane's producer index, which the data
  // plane refuses (cq_bad_index) from then on: the host denied service, which a host always
  // can. Later calls fail with an error, never with data.
  for (uint32_t i = 0; i < 3; ++i) write_and_check(0x4f000000u + i);
  EXPECT_TRUE(lab_->wait_counter("dp", "/ferry/app", "cq_bad_index", 1));
}

TEST_F(HostileHostProcess, ring_indices_scribbled_while_traffic_flows_never_yield_forged_data) {
  const uint64_t s0 = suspicious();
  uint32_t ok = 0, failed = 0;
  std::thread attacker([&] { EXPECT_GT(host_->num("scribble 1500 17"), 100u); });
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(1400);
  for (uint32_t i = 0; std::chrono::steady_clock::now() < end; ++i) {
    (write_and_check(0x5c000000u + i) ? ok : failed)++;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  attacker.join();
  EXPECT_GT(failed, 0u) << "the attack went unnoticed";
  EXPECT_GT(suspicious(), s0);
  std::printf("[ scribble ] %u calls returned the truth, %u failed with an error\n", ok, failed);
}

TEST_F(HostileHostProcess, a_device_chunk_rolled_back_to_an_older_version_fails_the_sync) {
  uint64_t dma = 0;
  auto *buf = static_cast<uint8_t *>(ferry_dma_alloc(dev_, kChunk, &dma));
  ASSERT_NE(buf, nullptr);
  const uint32_t c = chunk_of(dma);
  load_device(0x11);
  ASSERT_EQ(edu_dma(kEduBuffer, dma, kDmaToRam), 0);
  ASSERT_EQ(ferry_dma_sync_for_cpu(dev_, dma, kChunk), 0);
  ASSERT_TRUE(all(buf, 0x11));
  ASSERT_EQ(host_->cmd("save-chunk " + std::to_string(c) + " old"), "");
  load_device(0x22);
  ASSERT_EQ(edu_dma(kEduBuffer, dma, kDmaToRam), 0);
  ASSERT_EQ(host_->cmd("save-chunk " + std::to_string(c) + " new"), "");
  ASSERT_EQ(host_->cmd("restore-chunk " + std::to_string(c) + " old"), "");
  std::memset(buf, kSentinel, kChunk);
  EXPECT_EQ(ferry_dma_sync_for_cpu(dev_, dma, kChunk), -EBADMSG);
  EXPECT_EQ(ferry_last_error(dev_), -EBADMSG);
  EXPECT_TRUE(all(buf, kSentinel)) << "bytes were copied from a rolled-back chunk";
  // The genuine chunk back: the same sync works.
  ASSERT_EQ(host_->cmd("restore-chunk " + std::to_string(c) + " new"), "");
  ASSERT_EQ(ferry_dma_sync_for_cpu(dev_, dma, kChunk), 0);
  EXPECT_TRUE(all(buf, 0x22));
}

TEST_F(HostileHostProcess, swapped_device_chunks_and_metadata_fail_the_sync_and_copy_nothing) {
  uint64_t da = 0, db = 0;
  auto *a = static_cast<uint8_t *>(ferry_dma_alloc(dev_, kChunk, &da));
  auto *b = static_cast<uint8_t *>(ferry_dma_alloc(dev_, kChunk, &db));
  ASSERT_TRUE(a && b);
  load_device(0x33);
  ASSERT_EQ(edu_dma(kEduBuffer, da, kDmaToRam), 0);
  load_device(0x44);
  ASSERT_EQ(edu_dma(kEduBuffer, db, kDmaToRam), 0);
  const std::string ca = std::to_string(chunk_of(da)), cb = std::to_string(chunk_of(db));
  ASSERT_EQ(host_->cmd("save-chunk " + ca + " a"), "");
  ASSERT_EQ(host_->cmd("save-chunk " + cb + " b"), "");
  ASSERT_EQ(host_->cmd("restore-chunk " + ca + " b"), "");
  ASSERT_EQ(host_->cmd("restore-chunk " + cb + " a"), "");
  std::memset(a, kSentinel, kChunk);
  std::memset(b, kSentinel, kChunk);
  EXPECT_EQ(ferry_dma_sync_for_cpu(dev_, da, kChunk), -EBADMSG);
  EXPECT_EQ(ferry_dma_sync_for_cpu(dev_, db, kChunk), -EBADMSG);
  EXPECT_TRUE(all(a, kSentinel) && all(b, kSentinel)) << "a swapped chunk was copied";
  ASSERT_EQ(host_->cmd("restore-chunk " + ca + " a"), "");
  ASSERT_EQ(host_->cmd("restore-chunk " + cb + " b"), "");
  ASSERT_EQ(ferry_dma_sync_for_cpu(dev_, da, kChunk), 0);
  ASSERT_EQ(ferry_dma_sync_for_cpu(dev_, db, kChunk), 0);
  EXPECT_TRUE(all(a, 0x33) && all(b, 0x44));
}

TEST_F(HostileHostProcess, guest_chunks_flipped_or_rolled_back_are_refused_by_the_device_node) {
  load_device(0x55);  // what the device buffer holds before the attacks
  const long long failures0 = lab_->counter("dn", "/ferry/app", "dma_chunk_auth_failures");
  ASSERT_GE(failures0, 0);
  uint64_t dma = 0;
  auto *src = static_cast<uint8_t *>(ferry_dma_alloc(dev_, kChunk, &dma));
  ASSERT_NE(src, nullptr);
  const std::string c = std::to_string(chunk_of(dma));
  // A bit flipped in the sealed chunk after sync_for_device.
  std::memset(src, 0x66, kChunk);
  ASSERT_EQ(ferry_dma_sync_for_device(dev_, dma, kChunk), 0);
  ASSERT_EQ(host_->cmd("save-chunk " + c + " v1"), "");
  ASSERT_EQ(host_->cmd("flip-chunk " + c + " 7"), "");
  ASSERT_EQ(edu_dma(dma, kEduBuffer, 0), 0);
  // A rolled-back chunk: the guest writes newer contents, the host serves the old ones.
  std::memset(src, 0x77, kChunk);
  ASSERT_EQ(ferry_dma_sync_for_device(dev_, dma, kChunk), 0);
  ASSERT_EQ(host_->cmd("restore-chunk " + c + " v1"), "");
  ASSERT_EQ(edu_dma(dma, kEduBuffer, 0), 0);
  EXPECT_TRUE(lab_->wait_counter("dn", "/ferry/app", "dma_chunk_auth_failures", failures0 + 2))
      << lab_->counter("dn", "/ferry/app", "dma_chunk_auth_failures");
  const std::vector<uint8_t> now = read_device();
  ASSERT_EQ(now.size(), kChunk);
  EXPECT_TRUE(all(now.data(), 0x55)) << "the device took bytes the guest did not seal last";
}

}  // namespace
}  // namespace ferry::testing
