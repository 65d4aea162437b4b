#include "ferry/engine/eal.h"

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_pdump.h>

#include <stdexcept>

namespace ferry::engine {

namespace {
bool g_ready = false;
bool g_pdump = false;  // rte_pdump_init done: dpdk-dumpcap / dpdk-pdump may capture our ports
}  // namespace

std::vector<std::string> eal_args(const EalOptions &eal) {
  std::vector<std::string> a{"ferry"};
  if (!eal.lcores.empty() && eal.cpus.size() == eal.lcores.size()) {
    std::string l;  // lcore L runs pinned on CPU C
    for (size_t i = 0; i < eal.lcores.size(); ++i)
      l += (l.empty() ? "" : ",") + std::to_string(eal.lcores[i]) + "@" +
           std::to_string(eal.cpus[i]);
    a.push_back("--lcores=" + l);
  } else if (!eal.lcores.empty()) {
    std::string l;
    for (unsigned c : eal.lcores) l += (l.empty() ? "" : ",") + std::to_string(c);
    a.insert(a.end(), {"-l", l});  // lcore i runs pinned on CPU i
  }
  if (eal.main_lcore >= 0) a.insert(a.end(), {"--main-lcore", std::to_string(eal.main_lcore)});
  if (eal.no_huge) {
    a.push_back("--no-huge");
  } else if (!eal.secondary_processes) {
    // Hugepage files are unlinked once mapped, so the pages go back to the system when the
    // service exits, however it exits (extra_args may ask otherwise). A secondary process
    // maps the primary's memory through those files: with them unlinked none can attach.
    bool asked = false;
    for (const auto &x : eal.extra_args) asked |= x.rfind("--huge-unlink", 0) == 0;
    if (!asked) a.push_back("--huge-unlink");
  }
  if (eal.memory_mb) a.insert(a.end(), {"-m", std::to_string(eal.memory_mb)});
  a.push_back("--file-prefix=" + eal.file_prefix);
  if (eal.allow.empty()) {
    a.push_back("--no-pci");  // an empty allow-list means no PCI device at all
  } else {
    for (const auto &p : eal.allow) a.insert(a.end(), {"-a", p});
  }
  for (const auto &v : eal.vdevs) a.insert(a.end(), {"--vdev", v});
  a.insert(a.end(), eal.extra_args.begin(), eal.extra_args.end());
  return a;
}

void eal_init(const EalOptions &eal) {
  if (g_ready) throw std::runtime_error("EAL already initialised in this process");
  std::vector<std::string> args = eal_args(eal);
  std::vector<char *> argv;
  for (auto &s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  // rte_eal_init may permute argv; it only needs the strings to live through the call.
  if (rte_eal_init(static_cast<int>(args.size()), argv.data()) < 0) {
    std::string line;
    for (const auto &s : args) line += " " + s;
    throw std::runtime_error(std::string("EAL init failed: ") + rte_strerror(rte_errno) +
                             " (args:" + line + ")");
  }
  g_ready = true;
  if (eal.secondary_processes) {
    // Serves dpdk-dumpcap's and dpdk-pdump's requests to copy our ports' packets to them.
    if (rte_pdump_init() < 0) {
      eal_cleanup();
      throw std::runtime_error(std::string("rte_pdump_init failed: ") + rte_strerror(rte_errno));
    }
    g_pdump = true;
  }
}

void eal_cleanup() {
  if (!g_ready) return;
  if (g_pdump) rte_pdump_uninit();
  g_pdump = false;
  rte_eal_cleanup();
  g_ready = false;
}

bool eal_ready() {
  return g_ready;
}

}  // namespace ferry::engine
