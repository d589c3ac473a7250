// datalab-bench-hmac: the pseudonymisation floor of PEERS.md, measured in
// the same run as the service: one EVP_MAC_CTX (HMAC-SHA256) keyed once and
// re-initialised with a NULL key per message, over UPN-shaped 13-byte
// identifiers, on one thread. Prints `name value unit` lines.
//
//   datalab-bench-hmac [--ids=1000000] [--reps=3]    (best of reps)
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

size_t Flag(int argc, char** argv, const char* name, size_t def) {
  std::string prefix = std::string("--") + name + "=";
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], prefix.c_str(), prefix.size()) == 0) {
      return std::strtoull(argv[i] + prefix.size(), nullptr, 10);
    }
  }
  return def;
}

}  // namespace

int main(int argc, char** argv) {
  const size_t ids = Flag(argc, argv, "ids", 1000000);
  const size_t reps = std::max<size_t>(1, Flag(argc, argv, "reps", 3));

  // UPN-shaped identifiers: a letter, 12 digits (validity is irrelevant here).
  std::vector<std::string> upns;
  upns.reserve(ids);
  for (size_t i = 0; i < ids; ++i) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "H%012llu", static_cast<unsigned long long>(801200000000ull + i * 7919));
    upns.emplace_back(buf, 13);
  }

  unsigned char key[32];
  if (RAND_bytes(key, sizeof key) != 1) return 1;
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  EVP_MAC_CTX* ctx = mac ? EVP_MAC_CTX_new(mac) : nullptr;
  if (ctx == nullptr) {
    std::fprintf(stderr, "datalab-bench-hmac: no HMAC in this OpenSSL\n");
    return 1;
  }
  char digest_name[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
                         OSSL_PARAM_construct_end()};
  if (EVP_MAC_init(ctx, key, sizeof key, params) != 1) return 1;

  double best = 1e300;
  unsigned char out[32];
  unsigned sink = 0;
  for (size_t r = 0; r < reps; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    for (const std::string& u : upns) {
      size_t len = 0;
      // NULL key: keep the key schedule, reset the state (the cheap path).
      if (EVP_MAC_init(ctx, nullptr, 0, nullptr) != 1 ||
          EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(u.data()), u.size()) != 1 ||
          EVP_MAC_final(ctx, out, &len, sizeof out) != 1) {
        return 1;
      }
      sink += out[0];
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, secs);
  }
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(mac);
  std::printf("openssl_hmac_per_second %.0f ids/s\n", static_cast<double>(ids) / best);
  std::printf("openssl_hmac_ns_per_id %.1f ns\n", best * 1e9 / static_cast<double>(ids));
  if (sink == 0xFFFFFFFFu) std::printf("\n");  // keep the loop observable
  return 0;
}
