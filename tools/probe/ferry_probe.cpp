// ferry-probe: measures what a driver sees through the guest C API, one operation at a time,
// and prints one JSON record per measurement (the shape of bench results.json records).
//
//   ferry-probe GUEST.yaml OP [--size N] [--iters N] [--warmup N] [--qd N] [--cdf N]
//   ferry-probe --help | --version      (options parsed with getopt_long, in any order)
//     OP: mmio_read   (edu: 4 or 8 bytes; accel: 1, 2, 4 or 8) -> p50/p90/p99/p99.9 in ns
//         mmio_read_mapped  the same 4-byte edu id read as a load from ferry_map_bar's BAR
//                     (trap-and-emulate), alternating with ferry_ioread32 of it; the record
//                     also carries accessor_p50_ns and accessor_p99_ns of those
//         mmio_write  posted writes per second (drained by one read at the end)
//         dma_to_device / dma_from_device   edu DMA of --size bytes (sync + transfer) -> GB/s
//         edu_workload   factorials by interrupt, jobs per second
//         accel_workload CRC32C+copy of 4 KiB items at queue depth --qd, jobs per second
//   --cdf N: latency records also carry "cdf_ns", N+1 quantiles from the fastest to the slowest
//            sample (ferry bench plots the latency CDF from them).
// Every result the device returns is checked; a wrong one fails the run (exit 1).
// ferry-probe-local is this source linked against local_dev.cpp (GUEST is local:MODEL,
// e.g. local:edu): the same driver and measurement code against the model in-process.
#include <getopt.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "ferry/guest.h"
#include "probe_devices.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string config, op;
  uint64_t size = 0;
  uint64_t iters = 0;
  uint64_t warmup = 0;
  uint64_t qd = 1;
  uint64_t cdf = 0;
};

// ferry-probe-local is this source too: its name for usage and --version.
const char *g_name = "ferry-probe";

void print_usage(std::FILE *to) {
  std::fprintf(
      to,
      "usage: %s GUEST.yaml OP [--size N] [--iters N] [--warmup N] [--qd N] [--cdf N]\n"
      "       %s --help | --version\n"
      "Measures one operation through the guest C API and prints one JSON record.\n"
      "  OP: mmio_read, mmio_read_mapped, mmio_write, dma_to_device, dma_from_device,\n"
      "      edu_workload, accel_workload\n"
      "  --size N    bytes per access, transfer or job\n"
      "  --iters N   measured operations\n"
      "  --warmup N  operations before measuring\n"
      "  --qd N      queue depth (accel_workload)\n"
      "  --cdf N     latency records also carry N+1 quantiles (cdf_ns), N <= 10000\n"
      "  -h, --help     this text\n"
      "  -V, --version  the version\n"
      "Exit status: 0 when every result checked, 1 on a wrong result or failure, 2 on a bad\n"
      "command line.\n",
      g_name, g_name);
}

[[noreturn]] void usage(const std::string &why) {
  std::fprintf(stderr, "%s: %s\n", g_name, why.c_str());
  print_usage(stderr);
  std::exit(2);
}

uint64_t parse_u64(const char *flag, const char *s) {
  char *end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s, &end, 0);
  if (*s == '\0' || *s == '-' || *end != '\0' || errno != 0)
    usage(std::string(flag) + " needs an unsigned integer, not '" + s + "'");
  return v;
}

Options parse(int argc, char **argv) {
  static const option kOptions[] = {
      {"size", required_argument, nullptr, 's'},   {"iters", required_argument, nullptr, 'i'},
      {"warmup", required_argument, nullptr, 'w'}, {"qd", required_argument, nullptr, 'q'},
      {"cdf", required_argument, nullptr, 'C'},    {"help", no_argument, nullptr, 'h'},
      {"version", no_argument, nullptr, 'V'},      {nullptr, 0, nullptr, 0}};
  Options o;
  opterr = 0;  // the messages below name the tool
  for (;;) {
    int index = -1;
    const int f = getopt_long(argc, argv, ":hV", kOptions, &index);
    if (f == -1) break;
    if (f == 'h') {
      print_usage(stdout);
      std::exit(0);
    }
    if (f == 'V') {
      std::printf("%s %s\n", g_name, FERRY_VERSION);
      std::exit(0);
    }
    if (f == ':') {  // optopt: the value of the option that lacks its argument
      const option *missing = kOptions;
      while (missing->name != nullptr && missing->val != optopt) ++missing;
      usage(std::string("--") + (missing->name ? missing->name : "?") + " needs a value");
    }
    if (f == '?')
      usage("unknown option " +
            (optopt != 0 ? std::string("-") + char(optopt) : std::string(argv[optind - 1])));
    const std::string flag = std::string("--") + kOptions[index].name;
    const uint64_t v = parse_u64(flag.c_str(), optarg);
    if (f == 's')
      o.size = v;
    else if (f == 'i')
      o.iters = v;
    else if (f == 'w')
      o.warmup = v;
    else if (f == 'q')
      o.qd = v;
    else if (v <= 10000)
      o.cdf = v;
    else
      usage("--cdf must be at most 10000");
  }
  if (argc - optind != 2)
    usage(argc - optind < 2 ? "missing GUEST.yaml or OP" : "too many arguments");
  o.config = argv[optind];
  o.op = argv[optind + 1];
  return o;
}

uint64_t ns_since(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
}

void print_latency(const Options &o, std::vector<uint64_t> &ns, const char *extra = "") {
  std::sort(ns.begin(), ns.end());
  auto pct = [&](double p) { return ns[std::min(ns.size() - 1, size_t(p * ns.size()))]; };
  std::printf("{\"op\": \"%s\", \"size\": %" PRIu64 ", \"p50_ns\": %" PRIu64
              ", \"p90_ns\": %" PRIu64 ", \"p99_ns\": %" PRIu64 ", \"p999_ns\": %" PRIu64
              ", \"samples\": %zu",
              o.op.c_str(), o.size, pct(0.50), pct(0.90), pct(0.99), pct(0.999), ns.size());
  if (o.cdf > 0) {
    std::printf(", \"cdf_ns\": [");
    for (uint64_t i = 0; i <= o.cdf; ++i)
      std::printf("%s%" PRIu64, i ? ", " : "", ns[(ns.size() - 1) * i / o.cdf]);
    std::printf("]");
  }
  std::printf("%s}\n", extra);
}

void print_rate(const Options &o, const char *field, double value, uint64_t samples) {
  std::printf("{\"op\": \"%s\", \"size\": %" PRIu64 ", \"qd\": %" PRIu64
              ", \"%s\": %.4f, "
              "\"samples\": %" PRIu64 "}\n",
              o.op.c_str(), o.size, o.qd, field, value, samples);
}

int mmio_read(ferry_dev *dev, const Options &o, const probe::Device &d) {
  const uint64_t off = d.read_offset(o.size);
  if (off == probe::kNoRegister) usage("mmio_read: this device has no register of that size");
  const uint64_t want = d.read_expect(o.size);
  std::vector<uint64_t> ns;
  ns.reserve(o.iters);
  for (uint64_t i = 0; i < o.warmup + o.iters; ++i) {
    auto t0 = Clock::now();
    uint64_t v = probe::read(dev, o.size, off);
    uint64_t dt = ns_since(t0);
    if (v != want || ferry_last_error(dev) != 0) {
      std::fprintf(stderr, "ferry-probe: read %#" PRIx64 ", want %#" PRIx64 " (error %d)\n", v,
                   want, ferry_last_error(dev));
      return 1;
    }
    if (i >= o.warmup) ns.push_back(dt);
  }
  print_latency(o, ns);
  return 0;
}

int mmio_read_mapped(ferry_dev *dev, const Options &o, const probe::Device &d) {
  if (d.kind != probe::Kind::kEdu || o.size != 4) usage("mmio_read_mapped: 4-byte reads on edu");
  volatile void *bar = nullptr;
  size_t len = 0;
  if (ferry_map_bar(dev, 0, &bar, &len) != 0) {
    std::fprintf(stderr, "ferry-probe: ferry_map_bar failed (%d)\n", ferry_last_error(dev));
    return 1;
  }
  const volatile uint32_t *id = static_cast<const volatile uint32_t *>(bar);
  // Trapped and accessor reads alternate (their order flips every iteration), so both see the
  // same moments of a noisy machine and the difference is the cost of the trap.
  std::vector<uint64_t> ns, acc;
  ns.reserve(o.iters);
  acc.reserve(o.iters);
  for (uint64_t i = 0; i < o.warmup + o.iters; ++i) {
    uint64_t dt = 0, da = 0;
    uint32_t v = 0, a = 0;
    for (int k = 0; k < 2; ++k) {
      auto t0 = Clock::now();
      if ((k == 0) == (i % 2 == 0)) {
        v = *id;
        dt = ns_since(t0);
      } else {
        a = ferry_ioread32(dev, 0, 0x00);
        da = ns_since(t0);
      }
    }
    if (v != d.read_expect(4) || a != d.read_expect(4)) {
      std::fprintf(stderr, "ferry-probe: trapped read %#x, accessor read %#x (error %d)\n", v, a,
                   ferry_last_error(dev));
      return 1;
    }
    if (i >= o.warmup) {
      ns.push_back(dt);
      acc.push_back(da);
    }
  }
  std::sort(acc.begin(), acc.end());
  char extra[96];
  std::snprintf(extra, sizeof extra,
                ", \"accessor_p50_ns\": %" PRIu64 ", \"accessor_p99_ns\": %" PRIu64,
                acc[acc.size() / 2], acc[std::min(acc.size() - 1, acc.size() * 99 / 100)]);
  print_latency(o, ns, extra);
  return 0;
}

int mmio_write(ferry_dev *dev, const Options &o, const probe::Device &d) {
  const uint64_t off = d.scratch_offset();
  auto t0 = Clock::now();
  for (uint64_t i = 0; i < o.iters; ++i) probe::write(dev, o.size, off, i);
  uint64_t back = probe::read(dev, o.size, off);  // ordered after every posted write
  double secs = ns_since(t0) / 1e9;
  if (ferry_last_error(dev) != 0 || back != d.scratch_expect(o.size, o.iters - 1)) {
    std::fprintf(
        stderr, "ferry-probe: posted writes lost or reordered (read back %#" PRIx64 ", error %d)\n",
        back, ferry_last_error(dev));
    return 1;
  }
  print_rate(o, "writes_per_s", o.iters / secs, o.iters);
  return 0;
}

int dma(ferry_dev *dev, const Options &o, bool to_device) {
  uint64_t dma_addr = 0;
  auto *buf = static_cast<uint8_t *>(ferry_dma_alloc(dev, o.size, &dma_addr));
  if (buf == nullptr) {
    std::fprintf(stderr, "ferry-probe: dma_alloc of %" PRIu64 " bytes failed (%d)\n", o.size,
                 ferry_last_error(dev));
    return 1;
  }
  int rc = 0;
  uint64_t bytes = 0;
  Clock::time_point t0;
  for (uint64_t i = 0; i < o.warmup + o.iters && rc == 0; ++i) {
    if (i == o.warmup) t0 = Clock::now();
    if (to_device) {
      std::memset(buf, static_cast<int>(i), o.size);
      rc = probe::edu_dma(dev, dma_addr, o.size, true);
    } else {
      rc = probe::edu_dma(dev, dma_addr, o.size, false);
      // The device buffer holds what the last to-device transfer (the warm-up's) put there.
    }
    if (i >= o.warmup) bytes += o.size;
  }
  double secs = ns_since(t0) / 1e9;
  if (rc == 0 && !to_device) {
    // Verify the last transfer really brought the device buffer's bytes.
    rc = probe::edu_check_from_device(dev, buf, dma_addr, o.size);
  }
  ferry_dma_free(dev, buf, o.size);
  if (rc != 0) return 1;
  print_rate(o, "gbytes_per_s", bytes / secs / 1e9, o.iters);
  return 0;
}

int run(const Options &o) {
  ferry_dev *dev = ferry_open(o.config.c_str());
  if (dev == nullptr) {
    std::fprintf(stderr, "ferry-probe: ferry_open(%s): %s\n", o.config.c_str(), ferry_open_error());
    return 1;
  }
  probe::Device d = probe::identify(dev);
  int rc = 1;
  if (d.kind == probe::Kind::kUnknown) {
    std::fprintf(stderr, "ferry-probe: the device is neither edu nor accel\n");
  } else if (o.op == "mmio_read") {
    rc = mmio_read(dev, o, d);
  } else if (o.op == "mmio_read_mapped") {
    rc = mmio_read_mapped(dev, o, d);
  } else if (o.op == "mmio_write") {
    rc = mmio_write(dev, o, d);
  } else if (o.op == "dma_to_device" || o.op == "dma_from_device") {
    if (d.kind != probe::Kind::kEdu) usage("DMA throughput is measured on the edu device");
    if (o.op == "dma_from_device") rc = probe::edu_fill_device(dev, o.size);
    if (o.op == "dma_to_device" || rc == 0) rc = dma(dev, o, o.op == "dma_to_device");
  } else if (o.op == "edu_workload") {
    if (d.kind != probe::Kind::kEdu) usage("edu_workload needs the edu device");
    auto t0 = Clock::now();
    rc = probe::edu_factorials(dev, o.iters);
    if (rc == 0) print_rate(o, "jobs_per_s", o.iters / (ns_since(t0) / 1e9), o.iters);
  } else if (o.op == "accel_workload") {
    if (d.kind != probe::Kind::kAccel) usage("accel_workload needs the accel device");
    double jobs_per_s = 0;
    rc = probe::accel_jobs(dev, o.iters, static_cast<uint32_t>(o.qd), o.size, jobs_per_s);
    if (rc == 0) print_rate(o, "jobs_per_s", jobs_per_s, o.iters);
  } else {
    usage(("unknown operation " + o.op).c_str());
  }
  ferry_close(dev);
  return rc;
}

}  // namespace

int main(int argc, char **argv) {
  const char *slash = std::strrchr(argv[0], '/');
  g_name = slash != nullptr ? slash + 1 : argv[0];
  Options o = parse(argc, argv);
  if (o.iters == 0)
    o.iters = o.op.rfind("mmio_read", 0) == 0 ? 20000 : o.op == "mmio_write" ? 100000 : 50;
  if (o.warmup == 0) o.warmup = o.op.rfind("mmio_read", 0) == 0 ? 1000 : 2;
  if (o.size == 0) o.size = o.op.rfind("dma", 0) == 0 ? 65536 : o.op == "accel_workload" ? 4096 : 4;
  return run(o);
}
