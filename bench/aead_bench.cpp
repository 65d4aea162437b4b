// Sealing throughput: ferry's own path (SessionCrypto::seal_chunk / open_chunk) with each
// AEAD, the original prototype's way (an EVP context and key set up again per message), and
// the bare ipsec-mb GCM call as the ceiling.
//
//   BM_Seal/<impl>/<bytes>, BM_Open/<impl>/<bytes>   impl: ipsecmb, openssl, openssl_reinit
//   BM_RawGcm/ipsecmb/<bytes>
//   BM_DescriptorSealOpen/<impl>                     64-byte descriptor sealed and opened
#include <benchmark/benchmark.h>
#include <intel-ipsec-mb.h>
#include <openssl/evp.h>

#include <cstring>
#include <string>
#include <vector>

#include "ferry/proto/session.h"

namespace ferry::proto {
namespace {

constexpr size_t kSizes[] = {16, 64, 256, 1024, 4096, 65536};

SessionSecrets bench_secrets() {
  SessionSecrets s;
  s.params.security = Security::kConfidential;
  s.params.key_bytes = 32;
  s.params.n_queues = 1;
  s.streams.resize(s.n_streams());
  for (size_t i = 0; i < s.streams.size(); ++i) {
    for (size_t j = 0; j < 32; ++j) s.streams[i].key[j] = static_cast<uint8_t>(i * 13 + j);
    s.streams[i].salt = 0x1000u + static_cast<uint32_t>(i);
  }
  return s;
}

void set_throughput(benchmark::State &st, size_t bytes) {
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * bytes));
}

// --- ferry's path -------------------------------------------------------------------------

void seal_ferry(benchmark::State &st, AeadImpl impl, size_t len) {
  auto aead = Aead::create(impl);
  SessionSecrets secrets = bench_secrets();
  SessionCrypto crypto(*aead, secrets);
  std::vector<uint8_t> plain(len, 0x5a), sealed(len);
  uint8_t tag[16];
  uint64_t version = 1;
  for (auto _ : st) {
    ChunkAad aad =
        make_chunk_aad(1, 0x40000, static_cast<uint32_t>(len), Writer::kGuest, version++);
    crypto.seal_chunk(Dir::kGuestToDevice, aad, plain.data(), sealed.data(), len, tag);
    benchmark::DoNotOptimize(tag);
    benchmark::ClobberMemory();
  }
  set_throughput(st, len);
}

void open_ferry(benchmark::State &st, AeadImpl impl, size_t len) {
  auto aead = Aead::create(impl);
  SessionSecrets secrets = bench_secrets();
  SessionCrypto crypto(*aead, secrets);
  std::vector<uint8_t> plain(len, 0x5a), sealed(len), out(len);
  uint8_t tag[16];
  ChunkAad aad = make_chunk_aad(1, 0x40000, static_cast<uint32_t>(len), Writer::kGuest, 7);
  crypto.seal_chunk(Dir::kGuestToDevice, aad, plain.data(), sealed.data(), len, tag);
  for (auto _ : st) {
    Status s = crypto.open_chunk(Dir::kGuestToDevice, aad, sealed.data(), out.data(), len, tag);
    if (s != Status::kOk) st.SkipWithError("open failed");
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_throughput(st, len);
}

// --- the original prototype: context and key set up again for every message ---------------

void seal_reinit(benchmark::State &st, size_t len) {
  SessionSecrets secrets = bench_secrets();
  const uint8_t *key = secrets.streams[1].key.data();
  std::vector<uint8_t> plain(len, 0x5a), sealed(len);
  uint8_t tag[16];
  uint64_t version = 1;
  for (auto _ : st) {
    ChunkAad aad = make_chunk_aad(1, 0x40000, static_cast<uint32_t>(len), Writer::kGuest, version);
    Nonce n = Nonce::make(secrets.streams[1].salt, version++);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int outl = 0;
    bool ok =
        EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, key, n.bytes) == 1 &&
        EVP_EncryptUpdate(ctx, nullptr, &outl, reinterpret_cast<const uint8_t *>(&aad),
                          sizeof(aad)) == 1 &&
        EVP_EncryptUpdate(ctx, sealed.data(), &outl, plain.data(), static_cast<int>(len)) == 1 &&
        EVP_EncryptFinal_ex(ctx, sealed.data() + len, &outl) == 1 &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok) st.SkipWithError("EVP failed");
    benchmark::DoNotOptimize(tag);
    benchmark::ClobberMemory();
  }
  set_throughput(st, len);
}

void open_reinit(benchmark::State &st, size_t len) {
  auto aead = Aead::create(AeadImpl::kOpenSsl);
  SessionSecrets secrets = bench_secrets();
  SessionCrypto crypto(*aead, secrets);
  const uint8_t *key = secrets.streams[1].key.data();
  std::vector<uint8_t> plain(len, 0x5a), sealed(len), out(len + 16);
  uint8_t tag[16];
  ChunkAad aad = make_chunk_aad(1, 0x40000, static_cast<uint32_t>(len), Writer::kGuest, 7);
  crypto.seal_chunk(Dir::kGuestToDevice, aad, plain.data(), sealed.data(), len, tag);
  Nonce n = Nonce::make(secrets.streams[1].salt, 7);
  for (auto _ : st) {
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int outl = 0;
    bool ok =
        EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, key, n.bytes) == 1 &&
        EVP_DecryptUpdate(ctx, nullptr, &outl, reinterpret_cast<const uint8_t *>(&aad),
                          sizeof(aad)) == 1 &&
        EVP_DecryptUpdate(ctx, out.data(), &outl, sealed.data(), static_cast<int>(len)) == 1 &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag) == 1 &&
        EVP_DecryptFinal_ex(ctx, out.data() + len, &outl) == 1;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok) st.SkipWithError("open failed");
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_throughput(st, len);
}

// --- the ceiling: one bare ipsec-mb call, same AAD size ------------------------------------

void raw_gcm(benchmark::State &st, size_t len) {
  IMB_MGR *mgr = alloc_mb_mgr(0);
  init_mb_mgr_auto(mgr, nullptr);
  alignas(64) static gcm_key_data key;
  uint8_t k[32] = {1, 2, 3};
  IMB_AES256_GCM_PRE(mgr, k, &key);
  std::vector<uint8_t> plain(len, 0x5a), sealed(len);
  uint8_t aad[sizeof(ChunkAad)] = {};
  uint8_t tag[16];
  uint64_t version = 1;
  for (auto _ : st) {
    Nonce n = Nonce::make(0x1000, version++);
    gcm_context_data ctx;
    IMB_AES256_GCM_ENC(mgr, &key, &ctx, sealed.data(), plain.data(), len, n.bytes, aad, sizeof(aad),
                       tag, 16);
    benchmark::DoNotOptimize(tag);
    benchmark::ClobberMemory();
  }
  set_throughput(st, len);
  free_mb_mgr(mgr);
}

// --- one 64-byte descriptor, sealed and opened ---------------------------------------------

void descriptor_seal_open(benchmark::State &st, AeadImpl impl) {
  auto aead = Aead::create(impl);
  SessionSecrets secrets = bench_secrets();
  SessionCrypto guest(*aead, secrets), device(*aead, secrets);
  uint64_t seq = 1;
  for (auto _ : st) {
    Descriptor d{};
    d.hdr.kind = static_cast<uint8_t>(Kind::kMmioWrite);
    d.hdr.seq.set(seq++);
    d.body.offset.set(0x80);
    d.body.value.set(seq);
    guest.seal(Dir::kGuestToDevice, d);
    if (device.open(Dir::kGuestToDevice, d) != Status::kOk) st.SkipWithError("open failed");
    benchmark::DoNotOptimize(d);
  }
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations()));
}

int register_all() {
  std::vector<std::pair<std::string, AeadImpl>> impls{{"openssl", AeadImpl::kOpenSsl}};
  if (ipsecmb_usable()) impls.insert(impls.begin(), {"ipsecmb", AeadImpl::kIpsecMb});
  for (size_t len : kSizes) {
    std::string n = std::to_string(len);
    for (auto &[name, impl] : impls) {
      benchmark::RegisterBenchmark(("BM_Seal/" + name + "/" + n).c_str(), seal_ferry, impl, len);
      benchmark::RegisterBenchmark(("BM_Open/" + name + "/" + n).c_str(), open_ferry, impl, len);
    }
    benchmark::RegisterBenchmark(("BM_Seal/openssl_reinit/" + n).c_str(), seal_reinit, len);
    benchmark::RegisterBenchmark(("BM_Open/openssl_reinit/" + n).c_str(), open_reinit, len);
    if (ipsecmb_usable())
      benchmark::RegisterBenchmark(("BM_RawGcm/ipsecmb/" + n).c_str(), raw_gcm, len);
  }
  for (auto &[name, impl] : impls)
    benchmark::RegisterBenchmark(("BM_DescriptorSealOpen/" + name).c_str(), descriptor_seal_open,
                                 impl);
  return 0;
}
const int registered = register_all();

}  // namespace
}  // namespace ferry::proto
