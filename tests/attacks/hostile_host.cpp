// ferry-hostile-host REGION_FILE: a hostile host process. It maps the shared-memory region a
// running ferry-dataplane created for a guest (the host owns that memory and can write all of
// it) and obeys one command per line on stdin, answering "ok ..." or "error ..." per line:
//
//   geometry                    -> ok DMA_BASE CHUNK_SIZE N_CHUNKS RING_SLOTS
//   get sq.prod|sq.cons|cq.prod|cq.cons          (queue 0)  -> ok VALUE
//   set sq.prod|sq.cons|cq.prod|cq.cons VALUE               -> ok
//   scribble MS SEED            random rewrites of the four indices for MS ms -> ok WRITES
//   save-cq                     keeps every sealed descriptor in the completion ring -> ok COUNT
//   replay-cq N                 writes the last N kept slots after the producer index and
//                               publishes them -> ok OLD_PROD
//   save-chunk C NAME / restore-chunk C NAME    a chunk's window bytes and metadata
//   flip-chunk C OFFSET         flips one bit of a chunk in the window
//   quit
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "ferry/proto/descriptor.h"
#include "ferry/proto/shm_layout.h"
#include "hostile_index.h"

using namespace ferry::proto;

namespace {

struct Region {
  uint8_t *base = nullptr;
  uint64_t size = 0;
  ShmGeometry g;
  uint64_t queues = 0, stride = 0, meta = 0, window = 0;

  RingHeader *sq() const { return reinterpret_cast<RingHeader *>(base + queues); }
  RingHeader *cq() const {
    return reinterpret_cast<RingHeader *>(base + queues + shm_ring_bytes(g));
  }
  Descriptor *slots(RingHeader *r) const { return reinterpret_cast<Descriptor *>(r + 1); }
  uint8_t *chunk(uint32_t c) const { return base + window + uint64_t{c} * g.chunk_size; }
  ChunkMeta *meta_of(uint32_t c) const { return reinterpret_cast<ChunkMeta *>(base + meta) + c; }
  uint32_t *index(const std::string &name) const {
    if (name == "sq.prod") return &sq()->prod.value;
    if (name == "sq.cons") return &sq()->cons.value;
    if (name == "cq.prod") return &cq()->prod.value;
    if (name == "cq.cons") return &cq()->cons.value;
    return nullptr;
  }
};

struct Saved {
  std::vector<uint8_t> bytes;
  ChunkMeta meta;
};

}  // namespace

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: ferry-hostile-host REGION_FILE\n");
    return 2;
  }
  int fd = open(argv[1], O_RDWR | O_CLOEXEC);
  struct stat st {};
  if (fd < 0 || fstat(fd, &st) != 0) {
    std::printf("error cannot open %s\n", argv[1]);
    return 1;
  }
  Region r;
  r.size = static_cast<uint64_t>(st.st_size);
  void *p = mmap(nullptr, r.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    std::printf("error cannot map %s\n", argv[1]);
    return 1;
  }
  r.base = static_cast<uint8_t *>(p);
  const std::string bad = shm_validate(r.base, r.size, r.g, r.queues, r.stride, r.meta, r.window);
  if (!bad.empty()) {
    std::printf("error %s\n", bad.c_str());
    return 1;
  }
  std::vector<Descriptor> kept;
  std::map<std::string, Saved> saved;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string cmd, what;
    in >> cmd;
    std::ostringstream out;
    if (cmd == "geometry") {
      out << "ok " << r.g.dma_base << " " << r.g.chunk_size << " " << r.g.n_chunks << " "
          << r.g.ring_slots;
    } else if (cmd == "get" || cmd == "set") {
      in >> what;
      uint32_t *idx = r.index(what);
      if (idx == nullptr) {
        out << "error no index " << what;
      } else if (cmd == "get") {
        out << "ok " << std::atomic_ref<uint32_t>(*idx).load();
      } else {
        uint32_t v = 0;
        in >> v;
        std::atomic_ref<uint32_t>(*idx).store(v);
        out << "ok";
      }
    } else if (cmd == "scribble") {
      unsigned ms = 0, seed = 0;
      in >> ms >> seed;
      std::mt19937 rng(seed);
      uint32_t *targets[] = {r.index("sq.prod"), r.index("sq.cons"), r.index("cq.prod"),
                             r.index("cq.cons")};
      const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
      uint64_t writes = 0;
      while (std::chrono::steady_clock::now() < end) {
        ferry::testing::scribble_index(*targets[rng() % 4], rng);
        ++writes;
        usleep(200 + rng() % 800);
      }
      out << "ok " << writes;
    } else if (cmd == "save-cq") {
      kept.clear();
      for (uint32_t i = 0; i < r.g.ring_slots; ++i) {
        Descriptor d;
        std::memcpy(&d, &r.slots(r.cq())[i], sizeof(d));
        // The kind is sealed: the host keeps every sealed descriptor (here: completions).
        if (d.hdr.kind == static_cast<uint8_t>(Kind::kSealed)) kept.push_back(d);
      }
      std::sort(kept.begin(), kept.end(), [](const Descriptor &a, const Descriptor &b) {
        return a.hdr.seq.get() < b.hdr.seq.get();
      });
      out << "ok " << kept.size();
    } else if (cmd == "replay-cq") {
      std::atomic_ref<uint32_t> prod(r.cq()->prod.value);
      const uint32_t old = prod.load();
      size_t n = 0;
      in >> n;
      n = std::min(n, kept.size());
      uint32_t at = old;
      for (size_t i = kept.size() - n; i < kept.size(); ++i)
        std::memcpy(&r.slots(r.cq())[at++ & (r.g.ring_slots - 1)], &kept[i], sizeof(Descriptor));
      prod.store(at);
      out << "ok " << old;
    } else if (cmd == "save-chunk" || cmd == "restore-chunk" || cmd == "flip-chunk") {
      uint32_t c = 0;
      in >> c >> what;
      if (c >= r.g.n_chunks) {
        out << "error no chunk " << c;
      } else if (cmd == "save-chunk") {
        Saved &s = saved[what];
        s.bytes.assign(r.chunk(c), r.chunk(c) + r.g.chunk_size);
        std::memcpy(&s.meta, r.meta_of(c), sizeof(s.meta));
        out << "ok";
      } else if (cmd == "restore-chunk") {
        auto it = saved.find(what);
        if (it == saved.end()) {
          out << "error nothing saved as " << what;
        } else {
          std::memcpy(r.chunk(c), it->second.bytes.data(), r.g.chunk_size);
          std::memcpy(r.meta_of(c), &it->second.meta, sizeof(ChunkMeta));
          out << "ok";
        }
      } else {
        const uint64_t off = std::stoull(what) % r.g.chunk_size;
        r.chunk(c)[off] ^= 0x01;
        out << "ok";
      }
    } else if (cmd == "quit") {
      std::printf("ok\n");
      std::fflush(stdout);
      break;
    } else {
      out << "error unknown command " << cmd;
    }
    std::printf("%s\n", out.str().c_str());
    std::fflush(stdout);
  }
  munmap(p, r.size);
  close(fd);
  return 0;
}
