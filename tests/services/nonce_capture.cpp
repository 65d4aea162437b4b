#include "nonce_capture.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <tuple>

#include "ferry/proto/aead.h"
#include "ferry/proto/descriptor.h"
#include "ferry/proto/frame.h"
#include "ferry/proto/session.h"
#include "lab.h"

namespace ferry::testing {

FrameCapture::FrameCapture(const std::string &ns, const std::string &iface, uint16_t port) {
  int fd = -1;
  {
    InNetns in(ns);
    if (!in.ok()) {
      error_ = "cannot enter namespace " + ns;
      return;
    }
    // ETH_P_ALL: only "all protocols" taps see the frames the interface sends.
    fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ALL));
    if (fd < 0) {
      error_ = std::string("AF_PACKET socket: ") + std::strerror(errno);
      return;
    }
    int buf = 64 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf));
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = static_cast<int>(if_nametoindex(iface.c_str()));
    if (sll.sll_ifindex == 0 || bind(fd, reinterpret_cast<sockaddr *>(&sll), sizeof(sll)) != 0) {
      error_ = "cannot bind AF_PACKET to " + iface;
      close(fd);
      return;
    }
  }
  (void)port;
  ok_ = true;
  thread_ = std::thread([this, fd, port] {
    std::vector<uint8_t> buf(65536);
    for (;;) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) {
        if (stop_.load()) break;
        continue;
      }
      sockaddr_ll from{};
      socklen_t len = sizeof(from);
      ssize_t n =
          recvfrom(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr *>(&from), &len);
      if (from.sll_protocol != htons(ETH_P_IP) ||
          n < static_cast<ssize_t>(sizeof(iphdr) + sizeof(udphdr)))
        continue;
      iphdr ip;
      std::memcpy(&ip, buf.data(), sizeof(ip));
      const size_t ihl = ip.ihl * 4u;
      if (ip.protocol != IPPROTO_UDP || static_cast<size_t>(n) < ihl + sizeof(udphdr)) continue;
      udphdr udp;
      std::memcpy(&udp, buf.data() + ihl, sizeof(udp));
      if (ntohs(udp.source) != port && ntohs(udp.dest) != port) continue;
      const size_t off = ihl + sizeof(udphdr);
      frames_.push_back(
          Frame{from.sll_pkttype == PACKET_OUTGOING,
                std::vector<uint8_t>(buf.begin() + static_cast<long>(off), buf.begin() + n)});
    }
    close(fd);
  });
}

FrameCapture::~FrameCapture() {
  stop();
}

void FrameCapture::stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

namespace {

struct LoggedSession {
  uint32_t id = 0, channel = 0, n_queues = 0, key_bytes = 0;
  std::vector<proto::StreamSecret> streams;
};

std::vector<uint8_t> unhex(const std::string &s) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < s.size(); i += 2)
    out.push_back(static_cast<uint8_t>(std::stoul(s.substr(i, 2), nullptr, 16)));
  return out;
}

std::vector<LoggedSession> read_keylog(const std::string &path) {
  std::vector<LoggedSession> out;
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string what;
    in >> what;
    if (what == "session") {
      LoggedSession s;
      unsigned sec = 0;
      in >> s.id >> s.channel >> s.n_queues >> s.key_bytes >> sec;
      out.push_back(std::move(s));
    } else if (what == "stream" && !out.empty()) {
      size_t idx = 0;
      std::string key, chain;
      proto::StreamSecret ss;
      in >> idx >> ss.salt >> key >> chain;
      const auto k = unhex(key), c = unhex(chain);
      if (k.size() != 32 || c.size() != 32) continue;
      std::memcpy(ss.key.data(), k.data(), 32);
      std::memcpy(ss.chain.data(), c.data(), 32);
      out.back().streams.push_back(ss);
    }
  }
  return out;
}

// Expanded keys per (session, stream, epoch), derived from epoch 0 by the ratchet.
class KeyCache {
 public:
  KeyCache(proto::Aead &aead, const std::vector<LoggedSession> &s) : aead_(aead), sessions_(s) {}
  const std::pair<std::unique_ptr<proto::AeadKey>, uint32_t> &get(size_t session, size_t stream,
                                                                  uint64_t epoch) {
    auto key = std::make_tuple(session, stream, epoch);
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second;
    const LoggedSession &ls = sessions_[session];
    proto::StreamSecret cur = ls.streams[stream];
    for (uint64_t e = 1; e <= epoch; ++e) {
      proto::StreamSecret next;
      proto::rekey_step(cur.chain, e, next);
      cur = next;
    }
    auto &slot = cache_[key];
    slot.first = aead_.expand({cur.key.data(), ls.key_bytes});
    slot.second = cur.salt;
    return slot;
  }

 private:
  proto::Aead &aead_;
  const std::vector<LoggedSession> &sessions_;
  std::map<std::tuple<size_t, size_t, uint64_t>,
           std::pair<std::unique_ptr<proto::AeadKey>, uint32_t>>
      cache_;
};

}  // namespace

namespace {

// The pieces of one sealed chunk as they arrive, by (channel, addr, version, writer, tag).
struct ChunkParts {
  uint32_t len = 0;
  std::vector<uint8_t> bytes;
  std::vector<bool> have;
  size_t got = 0;
};
using ChunkKey = std::tuple<uint32_t, uint64_t, uint64_t, uint8_t, std::vector<uint8_t>>;

void check_chunk(const ChunkKey &k, const ChunkParts &c, const std::vector<LoggedSession> &sessions,
                 proto::Aead &aead, KeyCache &keys,
                 std::map<std::tuple<uint32_t, size_t, uint64_t>, std::vector<uint8_t>> &seen,
                 NonceReport &r) {
  const auto &[channel, addr, version, writer, tag] = k;
  ++r.chunks;
  std::vector<uint8_t> plain(c.len);
  for (size_t s = 0; s < sessions.size(); ++s) {
    const LoggedSession &ls = sessions[s];
    if (ls.channel != channel) continue;
    const size_t stream = (writer == 0 ? 0 : 1) * (ls.n_queues + 1u) + ls.n_queues;
    if (stream >= ls.streams.size()) continue;
    const auto &[key, salt] = keys.get(s, stream, 0);  // chunk streams are not rekeyed
    const proto::ChunkAad aad = proto::make_chunk_aad(
        channel, addr, c.len, writer == 0 ? proto::Writer::kGuest : proto::Writer::kDevice,
        version);
    if (!aead.open(*key, proto::Nonce::make(salt, version),
                   {reinterpret_cast<const uint8_t *>(&aad), sizeof(aad)}, c.bytes.data(),
                   plain.data(), c.len, tag.data()))
      continue;
    std::vector<uint8_t> sealed(c.bytes);
    sealed.insert(sealed.end(), tag.begin(), tag.end());
    auto [it, fresh] = seen.try_emplace(std::make_tuple(ls.id, stream, version), sealed);
    if (!fresh && it->second != sealed) {
      ++r.reused;
      if (r.detail.size() < 2000)
        r.detail += "chunk nonce reused: session " + std::to_string(ls.id) + " stream " +
                    std::to_string(stream) + " version " + std::to_string(version) + "\n";
    }
    return;
  }
  ++r.chunks_unattributed;
  if (r.detail.size() < 2000)
    r.detail += "no recorded key opens a chunk: addr " + std::to_string(addr) + " version " +
                std::to_string(version) + " writer " + std::to_string(writer) + "\n";
}

}  // namespace

NonceReport check_nonces(const std::vector<FrameCapture::Frame> &frames,
                         const std::string &keylog_path, bool outgoing_is_guest_to_device) {
  NonceReport r;
  const std::vector<LoggedSession> sessions = read_keylog(keylog_path);
  auto aead = proto::Aead::create(proto::AeadImpl::kOpenSsl);
  KeyCache keys(*aead, sessions);
  // (session, stream, epoch, wire seq) -> the sealed descriptor's bytes.
  std::map<std::tuple<uint32_t, size_t, uint64_t, uint64_t>, std::vector<uint8_t>> seen;
  std::map<uint32_t, bool> sessions_seen;
  std::map<ChunkKey, ChunkParts> parts;
  std::map<std::tuple<uint32_t, size_t, uint64_t>, std::vector<uint8_t>> chunk_seen;
  for (const FrameCapture::Frame &f : frames) {
    std::span<const uint8_t> frame = proto::frame_check_fcs(f.udp_payload);
    proto::FrameReader reader;
    if (frame.empty() || reader.parse(frame) != proto::Status::kOk) continue;
    ++r.frames;
    const bool g2d = f.outgoing == outgoing_is_guest_to_device;
    proto::RecordView rec;
    while (reader.next(rec)) {
      if ((rec.type == proto::RecordType::kDmaData || rec.type == proto::RecordType::kDmaWrite) &&
          rec.payload.size() >= sizeof(proto::DmaPiece)) {
        proto::DmaPiece p;
        std::memcpy(&p, rec.payload.data(), sizeof(p));
        const uint32_t len = p.chunk_len.get(), off = p.piece_off.get(), n = p.piece_len.get();
        if (p.status != 0 || off + uint64_t{n} > len || rec.payload.size() != sizeof(p) + n)
          continue;
        ChunkKey key{rec.channel, p.addr.get(), p.version.get(), p.writer,
                     std::vector<uint8_t>(p.tag, p.tag + sizeof(p.tag))};
        ChunkParts &c = parts[key];
        if (c.len == 0) {
          c.len = len;
          c.bytes.assign(len, 0);
          c.have.assign(len, false);
        }
        if (c.len != len) continue;
        for (uint32_t i = 0; i < n; ++i) {
          c.bytes[off + i] = rec.payload[sizeof(p) + i];
          if (!c.have[off + i]) {
            c.have[off + i] = true;
            ++c.got;
          }
        }
        if (c.got == c.len) {  // whole: check it, and start again for a resend
          check_chunk(key, c, sessions, *aead, keys, chunk_seen, r);
          parts.erase(key);
        }
        continue;
      }
      if (rec.type != proto::RecordType::kDescriptor ||
          rec.payload.size() != sizeof(proto::Descriptor))
        continue;
      proto::Descriptor d;
      std::memcpy(&d, rec.payload.data(), sizeof(d));
      if (d.hdr.kind == static_cast<uint8_t>(proto::Kind::kHandshake)) continue;
      ++r.sealed;
      const uint64_t wire = d.hdr.seq.get();
      const uint64_t epoch = proto::seq_key_epoch(wire);
      const uint16_t q = d.hdr.queue.get();
      bool found = false;
      for (size_t s = 0; s < sessions.size() && !found; ++s) {
        const LoggedSession &ls = sessions[s];
        if (ls.channel != d.hdr.channel.get() || q >= ls.n_queues) continue;
        const size_t stream = (g2d ? 0 : 1) * (ls.n_queues + 1u) + q;
        if (stream >= ls.streams.size()) continue;
        const auto &[key, salt] = keys.get(s, stream, epoch);
        proto::Descriptor copy = d;
        auto *raw = reinterpret_cast<uint8_t *>(&copy);
        uint8_t *body = raw + offsetof(proto::Descriptor, body);
        if (!aead->open(*key, proto::Nonce::make(salt, wire), {raw, sizeof(proto::DescHeader)},
                        body, body, sizeof(proto::DescBody), copy.tag))
          continue;
        found = true;
        sessions_seen[ls.id] = true;
        if (epoch > r.max_epoch) r.max_epoch = epoch;
        std::vector<uint8_t> bytes(rec.payload.begin(), rec.payload.end());
        auto [it, fresh] = seen.try_emplace(std::make_tuple(ls.id, stream, epoch, wire), bytes);
        if (!fresh && it->second != bytes) {
          ++r.reused;
          if (r.detail.size() < 2000)
            r.detail += "nonce reused: session " + std::to_string(ls.id) + " stream " +
                        std::to_string(stream) + " epoch " + std::to_string(epoch) + " seq " +
                        std::to_string(proto::seq_counter(wire)) + "\n";
        }
      }
      if (!found) {
        ++r.unattributed;
        if (r.detail.size() < 2000)
          r.detail += "no recorded key opens a descriptor: channel " +
                      std::to_string(d.hdr.channel.get()) + " queue " + std::to_string(q) +
                      " kind " + std::to_string(d.hdr.kind) + " epoch " + std::to_string(epoch) +
                      " seq " + std::to_string(proto::seq_counter(wire)) + "\n";
      }
    }
  }
  r.distinct_nonces = seen.size();
  r.distinct_chunk_nonces = chunk_seen.size();
  r.sessions_seen = sessions_seen.size();
  return r;
}

}  // namespace ferry::testing
