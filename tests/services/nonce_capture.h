// Records every ferry frame on one end of the test veth (AF_PACKET, both directions) and
// checks, with the sessions' secrets the guest recorded (guest_workload's key log), that no
// AEAD (key, nonce) pair sealed two different descriptors: each captured sealed descriptor is
// attributed to the one (session, stream, key epoch) whose key opens it, and its nonce is that
// stream's salt with the descriptor's wire seq. DMA chunks likewise: the pieces of each sealed
// chunk (kDmaData, kDmaWrite) are put together and opened with the writer's DMA stream key;
// their nonce is the chunk version.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace ferry::testing {

class FrameCapture {
 public:
  // Starts capturing UDP frames to or from `port` on `iface` inside namespace `ns`.
  FrameCapture(const std::string &ns, const std::string &iface, uint16_t port);
  ~FrameCapture();
  bool ok() const { return ok_; }
  const std::string &error() const { return error_; }
  // Stops; the frames are then in frames().
  void stop();
  struct Frame {
    bool outgoing;  // sent by the side that owns `iface`
    std::vector<uint8_t> udp_payload;
  };
  const std::vector<Frame> &frames() const { return frames_; }

 private:
  void run(int fd);
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<Frame> frames_;
  bool ok_ = false;
  std::string error_;
};

struct NonceReport {
  uint64_t frames = 0;           // parsed ferry frames
  uint64_t sealed = 0;           // sealed descriptors seen (retransmissions included)
  uint64_t unattributed = 0;     // sealed descriptors no recorded key opens
  uint64_t distinct_nonces = 0;  // distinct (session, stream, epoch, nonce)
  uint64_t reused = 0;           // (key, nonce) pairs seen on two different descriptors
  uint64_t sessions_seen = 0;    // sessions with at least one attributed descriptor
  uint64_t max_epoch = 0;        // highest key epoch attributed
  uint64_t chunks = 0;           // whole sealed DMA chunks seen (resends included)
  uint64_t chunks_unattributed = 0;
  uint64_t distinct_chunk_nonces = 0;  // distinct (session, DMA stream, version)
  std::string detail;                  // the first problems, for the failure message
};

// `outgoing_is_guest_to_device`: frames sent from the captured end carry guest -> device
// descriptors (the capture is on the data plane's end).
NonceReport check_nonces(const std::vector<FrameCapture::Frame> &frames,
                         const std::string &keylog_path, bool outgoing_is_guest_to_device);

}  // namespace ferry::testing
