// kernel-tcp on loopback (framing, reassembly, bounds, reconnect) and both kernel transports
// across a veth pair between two network namespaces.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "engine_test_util.h"
#include "ferry/proto/frame.h"
#include "require.h"
#include "seq_handlers.h"

namespace ferry::testing {
namespace {

using Kind = engine::TransportOptions::Kind;

struct TcpPair {
  uint16_t port = free_port(SOCK_STREAM);
  TestLink listen_cfg = kernel_cfg(Kind::kKernelTcp, "127.0.0.1", port, "", 0);
  TestLink connect_cfg = kernel_cfg(Kind::kKernelTcp, "127.0.0.1", 0, "127.0.0.1", port);
};

TEST(KernelTcp, records_arrive_in_order_and_echo_back) {
  TcpPair p;
  SeqSink echo(true);
  engine::Engine dn(engine::make_transport(p.listen_cfg, engine::Role::kListen), echo,
                    opts(p.listen_cfg));
  SeqSource src(20000, 1);
  engine::Engine dp(engine::make_transport(p.connect_cfg, engine::Role::kConnect), src,
                    opts(p.connect_cfg));
  ASSERT_TRUE(drive(dp, dn, [&] { return src.echoes.received == 20000; }));
  EXPECT_TRUE(echo.seq.clean());
  EXPECT_TRUE(src.echoes.clean());
  EXPECT_EQ(dp.counters().ack_frames_tx.get(), 0u);  // TCP needs no engine acks
  EXPECT_EQ(dp.counters().retransmits.get(), 0u);
  EXPECT_EQ(dn.transport().counters().connects.get(), 1u);
}

TEST(KernelTcp, the_connecting_side_reconnects_after_a_drop_and_both_sides_learn_of_it) {
  TcpPair p;
  SeqSink echo(true);
  engine::Engine dn(engine::make_transport(p.listen_cfg, engine::Role::kListen), echo,
                    opts(p.listen_cfg));
  SeqSource src(UINT32_MAX, 1);
  engine::Engine dp(engine::make_transport(p.connect_cfg, engine::Role::kConnect), src,
                    opts(p.connect_cfg));
  ASSERT_TRUE(drive(dp, dn, [&] { return src.echoes.received >= 2000; }));
  dp.transport().set_test_drops(1, 0, 0);  // the next frame "loses" the connection
  ASSERT_TRUE(drive(dp, dn, [&] {
    return dn.counters().link_resets.get() == 1 && dp.counters().link_resets.get() == 1;
  }));
  const uint64_t before = src.echoes.received;
  ASSERT_TRUE(drive(dp, dn, [&] { return src.echoes.received >= before + 2000; }));
  EXPECT_EQ(dp.transport().counters().connects.get(), 2u);
  EXPECT_EQ(dn.transport().counters().connects.get(), 2u);
  EXPECT_EQ(dp.transport().counters().disconnects.get(), 1u);
}

TEST(KernelUdp, busy_polling_sockets_carry_records) {
  FERRY_REQUIRE(running_as_root(), "SO_BUSY_POLL needs CAP_NET_ADMIN");
  const uint16_t pa = free_port(SOCK_DGRAM), pb = free_port(SOCK_DGRAM);
  auto ca = kernel_cfg(Kind::kKernelUdp, "127.0.0.1", pa, "127.0.0.1", pb);
  auto cb = kernel_cfg(Kind::kKernelUdp, "127.0.0.1", pb, "127.0.0.1", pa);
  ca.busy_poll_us = cb.busy_poll_us = 50;
  SeqSource src(5000, 2);
  SeqSink echo(true);
  engine::Engine a(engine::make_transport(ca, engine::Role::kConnect), src, opts(ca));
  engine::Engine b(engine::make_transport(cb, engine::Role::kConnect), echo, opts(cb));
  ASSERT_TRUE(drive(a, b, [&] { return src.echoes.received == 5000; }));
  EXPECT_TRUE(src.echoes.clean());
}

// A hand-made client on the listening side's port.
int raw_connect(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof(a)) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

std::vector<uint8_t> seq_frame(uint64_t seq) {
  std::vector<uint8_t> buf(4 + 512);
  proto::FrameWriter w({buf.data() + 4, buf.size() - 4});
  w.reset();
  uint8_t rec[kSeqRecordSize];
  fill_seq_record(rec, seq);
  std::memcpy(w.append(proto::RecordType::kDescriptor, 1, sizeof(rec)), rec, sizeof(rec));
  const size_t len = w.finish(0, 1, seq, 0);
  proto::le32 le;
  le.set(static_cast<uint32_t>(len));
  std::memcpy(buf.data(), &le, 4);
  buf.resize(4 + len);
  return buf;
}

TEST(KernelTcp, frames_split_across_reads_are_reassembled) {
  TcpPair p;
  SeqSink sink;
  engine::Engine dn(engine::make_transport(p.listen_cfg, engine::Role::kListen), sink,
                    opts(p.listen_cfg));
  int fd = raw_connect(p.port);
  ASSERT_GE(fd, 0);
  for (uint64_t s = 1; s <= 3; ++s) {
    auto f = seq_frame(s);
    for (uint8_t byte : f) {  // one byte per segment
      ASSERT_EQ(1, write(fd, &byte, 1));
      dn.housekeeping(proto::now_ns());
      dn.run_once(proto::now_ns());
    }
  }
  for (int i = 0; i < 1000 && sink.seq.received < 3; ++i) dn.run_once(proto::now_ns());
  EXPECT_EQ(sink.seq.received, 3u);
  EXPECT_TRUE(sink.seq.clean());
  close(fd);
}

TEST(KernelTcp, a_length_prefix_out_of_bounds_closes_the_connection) {
  TcpPair p;
  SeqSink sink;
  engine::Engine dn(engine::make_transport(p.listen_cfg, engine::Role::kListen), sink,
                    opts(p.listen_cfg));
  int fd = raw_connect(p.port);
  ASSERT_GE(fd, 0);
  const uint32_t huge = 1u << 30;  // little-endian on the wire, far above any frame
  ASSERT_EQ(4, write(fd, &huge, 4));
  for (int i = 0; i < 2000 && dn.transport().counters().disconnects.get() == 0; ++i) {
    dn.housekeeping(proto::now_ns());
    dn.run_once(proto::now_ns());
  }
  EXPECT_EQ(dn.transport().counters().disconnects.get(), 1u);
  EXPECT_EQ(dn.transport().counters().rx_dropped.get(), 1u);
  close(fd);
  // A well-behaved client afterwards is served.
  fd = raw_connect(p.port);
  auto f = seq_frame(1);
  ASSERT_EQ(static_cast<ssize_t>(f.size()), write(fd, f.data(), f.size()));
  for (int i = 0; i < 2000 && sink.seq.received == 0; ++i) {
    dn.housekeeping(proto::now_ns());
    dn.run_once(proto::now_ns());
  }
  EXPECT_EQ(sink.seq.received, 1u);
  close(fd);
}

// Both kernel transports across a veth pair between two namespaces: each engine runs on its
// own thread inside its namespace, as the two services would.
void veth_exchange(Kind kind) {
  VethLab lab(true, true);
  FERRY_REQUIRE(running_as_root() && lab.ok(), "needs root and network namespaces: " + lab.error());
  auto ca = kernel_cfg(kind, VethLab::kIpA, 7000, VethLab::kIpB, 7000);
  auto cb = kernel_cfg(kind, VethLab::kIpB, 7000, VethLab::kIpA, 7000);
  SeqSource src(10000, 5);
  SeqSink echo(true);
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  auto side = [&](const std::string &ns, const TestLink &c, engine::Role role,
                  engine::RecordHandler &h) {
    InNetns in(ns);
    if (!in.ok()) {
      ++failures;
      return;
    }
    try {
      engine::Engine e(engine::make_transport(c, role), h, opts(c));
      e.run(stop);
    } catch (const std::exception &ex) {
      ADD_FAILURE() << ex.what();
      ++failures;
    }
  };
  std::thread tb(side, lab.ns_b, cb, engine::Role::kListen, std::ref(echo));
  std::thread ta(side, lab.ns_a, ca, engine::Role::kConnect, std::ref(src));
  const uint64_t end = proto::now_ns() + 20'000'000'000ull;
  while (src.echoes.received < 10000 && proto::now_ns() < end && failures == 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  stop = true;
  ta.join();
  tb.join();
  EXPECT_EQ(src.echoes.received, 10000u);
  EXPECT_TRUE(src.echoes.clean());
  EXPECT_TRUE(echo.seq.clean());
}

TEST(KernelVeth, kernel_udp_carries_records_between_two_namespaces) {
  veth_exchange(Kind::kKernelUdp);
}
TEST(KernelVeth, kernel_tcp_carries_records_between_two_namespaces) {
  veth_exchange(Kind::kKernelTcp);
}

}  // namespace
}  // namespace ferry::testing
