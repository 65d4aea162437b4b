// Faults outside every trapped range go to the SIGSEGV handler that was there before. Its own
// executable: the engine captures the previous handler when it installs its own, once per
// process.
#include <gtest/gtest.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>

#include <cstdint>

#include "register_file_backend.h"
#include "trap/trap.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FERRY_HAS_ASAN 1
#endif
#endif
#ifndef FERRY_HAS_ASAN
#define FERRY_HAS_ASAN 0
#endif

namespace ferry::trap::testing {
namespace {

sigjmp_buf g_jump;
volatile sig_atomic_t g_previous_calls = 0;
void *volatile g_previous_addr = nullptr;

void previous_handler(int, siginfo_t *info, void *) {
  g_previous_calls = g_previous_calls + 1;
  g_previous_addr = info->si_addr;
  siglongjmp(g_jump, 1);
}

TEST(TrapChain, fault_outside_trapped_ranges_reaches_the_previous_handler) {
  struct sigaction sa {
  }, old{};
  sa.sa_sigaction = previous_handler;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  ASSERT_EQ(sigaction(SIGSEGV, &sa, &old), 0);

  RegisterFileBackend backend(0x100);
  backend.poke(0, 0x31);
  volatile void *p = nullptr;
  ASSERT_EQ(map_trapped_range(&backend, 0, 0x100, &p), 0);  // installs the engine's handler

  void *foreign = mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(foreign, MAP_FAILED);
  if (sigsetjmp(g_jump, 1) == 0) {
    (void)*static_cast<volatile uint32_t *>(foreign);
    ADD_FAILURE() << "the load from a PROT_NONE page did not fault";
  }
  EXPECT_EQ(g_previous_calls, 1);
  EXPECT_EQ(g_previous_addr, foreign);

  // The trapped range still goes to the backend, not to the previous handler.
  EXPECT_EQ(*static_cast<volatile uint8_t *>(p), 0x31);
  EXPECT_EQ(g_previous_calls, 1);

  // A SIGSEGV sent by a process (no fault address) is not ours either.
  if (sigsetjmp(g_jump, 1) == 0) raise(SIGSEGV);
  EXPECT_EQ(g_previous_calls, 2);

  munmap(foreign, 4096);
  EXPECT_EQ(unmap_trapped_range(p), 0);
}

// Without a previous handler the default action stays: the process dies of the SIGSEGV (under
// ASan, ASan's handler was the previous one and reports it).
TEST(TrapChain, fault_outside_trapped_ranges_without_a_previous_handler_kills_the_process) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");  // a fresh process: no handler of ours yet
  auto fault_after_map = [] {
    RegisterFileBackend backend(0x10);
    volatile void *p = nullptr;
    if (map_trapped_range(&backend, 0, 0x10, &p) != 0) return;
    void *foreign = mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    (void)*static_cast<volatile uint32_t *>(foreign);
  };
#if defined(__SANITIZE_ADDRESS__) || FERRY_HAS_ASAN
  EXPECT_DEATH(fault_after_map(), "AddressSanitizer: SEGV");
#else
  EXPECT_EXIT(fault_after_map(), ::testing::KilledBySignal(SIGSEGV), "");
#endif
}

}  // namespace
}  // namespace ferry::trap::testing
