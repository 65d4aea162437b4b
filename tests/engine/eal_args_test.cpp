// The EAL argument vector built from engine::EalOptions.
#include "ferry/engine/eal.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace ferry::engine {
namespace {

bool has(const std::vector<std::string> &a, const std::string &flag, const std::string &value) {
  for (size_t i = 0; i + 1 < a.size(); ++i)
    if (a[i] == flag && a[i + 1] == value) return true;
  return false;
}
bool has(const std::vector<std::string> &a, const std::string &flag) {
  return std::find(a.begin(), a.end(), flag) != a.end();
}

TEST(EalArgs, lcores_memory_prefix_devices_and_extra_args_are_passed_through) {
  EalOptions e;
  e.lcores = {2, 3};
  e.main_lcore = 3;
  e.memory_mb = 512;
  e.file_prefix = "dp1";
  e.allow = {"0000:03:00.0"};
  e.vdevs = {"net_af_packet0,iface=veth0"};
  e.extra_args = {"--log-level=8"};
  const auto a = eal_args(e);
  EXPECT_TRUE(has(a, "-l", "2,3"));
  EXPECT_TRUE(has(a, "--main-lcore", "3"));
  EXPECT_TRUE(has(a, "-m", "512"));
  EXPECT_TRUE(has(a, "--file-prefix=dp1"));
  EXPECT_TRUE(has(a, "-a", "0000:03:00.0"));
  EXPECT_FALSE(has(a, "--no-pci"));
  EXPECT_TRUE(has(a, "--vdev", "net_af_packet0,iface=veth0"));
  EXPECT_EQ(a.back(), "--log-level=8");
  EXPECT_FALSE(has(a, "--huge-unlink"));  // secondary processes may attach (the default)
  EXPECT_FALSE(has(a, "--no-huge"));
}

TEST(EalArgs, without_secondary_processes_hugepage_files_are_unlinked_once_mapped) {
  EalOptions e;
  e.secondary_processes = false;
  const auto a = eal_args(e);
  EXPECT_TRUE(has(a, "--huge-unlink"));  // hugepages go back to the system at exit
  EXPECT_FALSE(has(a, "--no-huge"));
}

TEST(EalArgs, cpus_place_each_lcore_on_its_cpu_with_the_lcores_option) {
  EalOptions e;
  e.lcores = {0, 1, 2};
  e.cpus = {0, 1, 1};  // three lcores (port + two lanes) on a two-CPU machine
  const auto a = eal_args(e);
  EXPECT_TRUE(has(a, "--lcores=0@0,1@1,2@1"));
  EXPECT_FALSE(has(a, "-l"));
}

TEST(EalArgs, no_huge_and_an_empty_allow_list_mean_no_hugepages_and_no_pci) {
  EalOptions e;
  e.no_huge = true;
  const auto a = eal_args(e);
  EXPECT_TRUE(has(a, "--no-huge"));
  EXPECT_FALSE(has(a, "--huge-unlink"));
  EXPECT_TRUE(has(a, "--no-pci"));
  EXPECT_FALSE(has(a, "--main-lcore"));
}

TEST(EalArgs, an_explicit_huge_unlink_choice_in_extra_args_wins) {
  for (bool secondaries : {false, true}) {
    EalOptions e;
    e.secondary_processes = secondaries;
    e.extra_args = {"--huge-unlink=never"};
    const auto a = eal_args(e);
    EXPECT_EQ(std::count_if(a.begin(), a.end(),
                            [](const std::string &s) { return s.rfind("--huge-unlink", 0) == 0; }),
              1);
    EXPECT_EQ(a.back(), "--huge-unlink=never");
  }
}

}  // namespace
}  // namespace ferry::engine
