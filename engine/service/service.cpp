#include "service/service.h"

#include <signal.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace ferry::services {

std::atomic<bool> g_stop{false};

namespace {
void on_signal(int) {
  g_stop.store(true, std::memory_order_relaxed);
}
}  // namespace

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

void write_ready_file(const std::string &path) {
  if (path.empty()) return;
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << getpid() << "\n";
    if (!f) throw std::runtime_error("ready_file: cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    throw std::runtime_error("ready_file: cannot rename " + tmp + " to " + path);
}

void remove_ready_file(const std::string &path) {
  if (!path.empty()) std::remove(path.c_str());
}

TestDrops test_drops_from_env() {
  TestDrops d;
  const char *env = std::getenv("FERRY_TEST_TX_DROP");
  if (env == nullptr || *env == '\0') return d;
  std::string s(env);
  size_t pos = 0;
  while (pos < s.size()) {
    size_t comma = s.find(',', pos);
    if (comma == std::string::npos) comma = s.size();
    const std::string item = s.substr(pos, comma - pos);
    const size_t eq = item.find('=');
    uint64_t v = 0;
    const char *b = item.data() + (eq == std::string::npos ? 0 : eq + 1);
    const char *e = item.data() + item.size();
    auto [p, ec] = std::from_chars(b, e, v);
    if (eq == std::string::npos || ec != std::errc() || p != e || v > UINT32_MAX)
      throw std::runtime_error("FERRY_TEST_TX_DROP: bad item '" + item + "'");
    const std::string key = item.substr(0, eq);
    if (key == "next")
      d.next = static_cast<uint32_t>(v);
    else if (key == "every")
      d.every = static_cast<uint32_t>(v);
    else if (key == "permille" && v <= 1000)
      d.permille = static_cast<uint32_t>(v);
    else if (key == "seed")
      d.seed = v;
    else
      throw std::runtime_error("FERRY_TEST_TX_DROP: bad item '" + item + "'");
    pos = comma + 1;
  }
  return d;
}

}  // namespace ferry::services
