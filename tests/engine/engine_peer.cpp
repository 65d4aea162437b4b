// ferry-engine-peer: one engine with a test handler, for the transport tests that need a
// separate process (each DPDK process has its own EAL). `--mode echo` sends every record back
// until SIGTERM or --timeout-ms; `--mode source` sends --count numbered records, waits for all
// echoes, prints a summary and exits 0 only if they all came back in order, exactly once.
#include <signal.h>

#include <atomic>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include "ferry/config/config.h"
#include "ferry/engine/eal.h"
#include "ferry/engine/engine.h"
#include "ferry/engine/telemetry.h"
#include "ferry/proto/idle.h"
#include "seq_handlers.h"

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) {
  g_stop.store(true);
}

[[noreturn]] void usage(const std::string &why) {
  std::fprintf(
      stderr,
      "ferry-engine-peer: %s\n"
      "usage: ferry-engine-peer --mode echo|source --transport kernel-udp|kernel-tcp|dpdk\n"
      "  --local IP:PORT --peer IP:PORT [--role connect|listen] [--count N]\n"
      "  [--port NAME] [--vdev ARGS]... [--no-huge] [--memory-mb N] [--file-prefix P]\n"
      "  [--lcore N] [--mtu N] [--drop-permille N] [--timeout-ms N] [--ready FILE]\n",
      why.c_str());
  std::exit(2);
}

uint64_t number(const std::string &flag, const std::string &s, uint64_t max) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v > max)
    usage(flag + ": not a number in [0, " + std::to_string(max) + "]: '" + s + "'");
  return v;
}

// IP:PORT, or IP:PORT@MAC for a static peer MAC.
ferry::engine::Endpoint endpoint(const std::string &flag, const std::string &arg,
                                 std::optional<ferry::engine::MacAddress> *mac = nullptr) {
  ferry::engine::Endpoint e;
  std::string s = arg;
  if (auto at = s.find('@'); at != std::string::npos) {
    ferry::engine::MacAddress m{};
    if (mac == nullptr || !ferry::config::parse_mac(s.substr(at + 1), m.data()))
      usage(flag + ": not a MAC address after '@': '" + arg + "'");
    *mac = m;
    s = s.substr(0, at);
  }
  auto colon = s.rfind(':');
  if (colon == std::string::npos) usage(flag + ": want IP:PORT[@MAC], got '" + arg + "'");
  e.ip = s.substr(0, colon);
  e.port = static_cast<uint16_t>(number(flag, s.substr(colon + 1), 65535));
  return e;
}

}  // namespace

int main(int argc, char **argv) {
  using namespace ferry;
  std::string mode, ready;
  uint64_t count = 1000, timeout_ms = 30000, drop_permille = 0;
  engine::Role role = engine::Role::kConnect;
  engine::EalOptions eal;
  eal.memory_mb = 64;
  eal.file_prefix = "ferry-engine-peer";
  engine::TransportOptions t;
  engine::EngineOptions opt;
  opt.housekeeping_every = 256;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "--mode")
      mode = val();
    else if (a == "--transport") {
      const std::string k = val();
      if (k == "kernel-udp")
        t.kind = engine::TransportOptions::Kind::kKernelUdp;
      else if (k == "kernel-tcp")
        t.kind = engine::TransportOptions::Kind::kKernelTcp;
      else if (k == "dpdk")
        t.kind = engine::TransportOptions::Kind::kDpdk;
      else
        usage("--transport: unknown '" + k + "'");
    } else if (a == "--role") {
      const std::string r = val();
      if (r == "connect")
        role = engine::Role::kConnect;
      else if (r == "listen")
        role = engine::Role::kListen;
      else
        usage("--role: connect or listen");
    } else if (a == "--local")
      t.local = endpoint(a, val());
    else if (a == "--peer")
      t.peer = endpoint(a, val(), &t.peer_mac);
    else if (a == "--count")
      count = number(a, val(), UINT32_MAX);
    else if (a == "--port")
      t.port = val();
    else if (a == "--vdev")
      eal.vdevs.push_back(val());
    else if (a == "--no-huge")
      eal.no_huge = true;
    else if (a == "--memory-mb")
      eal.memory_mb = static_cast<uint32_t>(number(a, val(), 65536));
    else if (a == "--file-prefix")
      eal.file_prefix = val();
    else if (a == "--lcore")
      eal.lcores = {static_cast<unsigned>(number(a, val(), 1023))};
    else if (a == "--mtu")
      t.mtu = static_cast<uint32_t>(number(a, val(), 9216));
    else if (a == "--drop-permille")
      drop_permille = number(a, val(), 1000);
    else if (a == "--timeout-ms")
      timeout_ms = number(a, val(), 3600000);
    else if (a == "--ready")
      ready = val();
    else
      usage("unknown flag " + a);
  }
  if (mode != "echo" && mode != "source") usage("--mode must be echo or source");
  t.mbufs = 4095;
  t.mbuf_cache = 128;
  t.rx_desc = t.tx_desc = 512;
  opt.retransmit_us = 5000;

  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  int rc = 3;
  try {
    engine::eal_init(eal);
    auto transport = engine::make_transport(t, role);
    if (drop_permille)
      transport->set_test_drops(0, 0, static_cast<uint32_t>(drop_permille), getpid());
    testing::SeqSource source(mode == "source" ? count : 0, 7);
    testing::SeqSink echo(true);
    engine::RecordHandler &h = mode == "source" ? static_cast<engine::RecordHandler &>(source)
                                                : static_cast<engine::RecordHandler &>(echo);
    engine::Engine e(std::move(transport), h, opt);
    engine::telemetry_publish(&e, mode == "source" ? "test-source" : "test-echo");
    e.housekeeping(proto::now_ns());  // first ARP request right away
    if (!ready.empty()) std::ofstream(ready) << getpid() << "\n";

    // The engine's loop, with an exit condition: all echoes back (source) or a deadline.
    std::thread stopper([&] {
      const uint64_t end = proto::now_ns() + timeout_ms * 1000000;
      while (!g_stop.load() && proto::now_ns() < end) {
        if (mode == "source" && source.echoes.received >= count) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      g_stop.store(true);
    });
    e.run(g_stop);
    stopper.join();
    const auto &c = e.counters();
    const auto &tc = e.transport().counters();
    std::printf(
        "mode=%s transport=%s sent=%llu echoes=%llu out_of_order=%llu corrupt=%llu "
        "echoed=%llu frames_tx=%llu frames_rx=%llu retransmits=%llu duplicates=%llu "
        "tx_drops=%llu test_drops=%llu arp_rx=%llu arp_replies_tx=%llu fast_retransmits=%llu "
        "port_frames_rx=%llu rx_dropped=%llu malformed=%llu "
        "rtt_p50_ns<%llu rtt_p99_ns<%llu\n",
        mode.c_str(), std::string(e.transport().name()).c_str(), (unsigned long long)source.sent(),
        (unsigned long long)source.echoes.received,
        (unsigned long long)(source.echoes.out_of_order + echo.seq.out_of_order),
        (unsigned long long)(source.echoes.corrupt + echo.seq.corrupt),
        (unsigned long long)echo.seq.received, (unsigned long long)c.frames_tx.get(),
        (unsigned long long)c.frames_rx.get(), (unsigned long long)c.retransmits.get(),
        (unsigned long long)c.duplicates.get(), (unsigned long long)tc.tx_drops.get(),
        (unsigned long long)tc.test_drops.get(), (unsigned long long)tc.arp_rx.get(),
        (unsigned long long)tc.arp_replies_tx.get(), (unsigned long long)c.fast_retransmits.get(),
        (unsigned long long)tc.frames_rx.get(), (unsigned long long)tc.rx_dropped.get(),
        (unsigned long long)c.malformed.get(), (unsigned long long)c.rtt.quantile_upper_ns(0.5),
        (unsigned long long)c.rtt.quantile_upper_ns(0.99));
    std::fflush(stdout);
    engine::telemetry_publish(nullptr, nullptr);
    const bool ok = mode == "echo" ? echo.seq.clean()
                                   : source.echoes.received == count && source.echoes.clean();
    rc = ok ? 0 : 1;
  } catch (const std::exception &ex) {
    std::fprintf(stderr, "ferry-engine-peer: %s\n", ex.what());
  }
  engine::eal_cleanup();  // after the port is closed: releases hugepage files and sockets
  return rc;
}
