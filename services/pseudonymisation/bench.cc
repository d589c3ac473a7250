// datalab-pseudo-bench: pseudonymising UPNs in-process against a bare
// OpenSSL HMAC-SHA256 loop (one EVP_MAC_CTX keyed once, re-initialised per
// message) measured in the same run on the same identifiers. Prints
// `name value unit` lines and `ratio <in-process / bare> x`.
// Also prints what an identifier costs on the wire in each request form.
//   datalab-pseudo-bench [--n=1000000] [--batch=10000]
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/synchronization/mutex.h"
#include "common/audit_client/audit_client.h"
#include "common/identifiers/upn.h"
#include "services/pseudonymisation/memory_pseudonymisation_store.h"
#include "services/pseudonymisation/pseudonymisation.h"

ABSL_FLAG(int, n, 1000000, "identifiers per run");
ABSL_FLAG(int, batch, 10000, "identifiers per PseudonymiseRequest");

namespace {

using Steady = std::chrono::steady_clock;

double Seconds(Steady::time_point a, Steady::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

double BareLoop(const std::vector<std::string>& ids, unsigned char* sink) {
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  unsigned char key[32] = {1, 2, 3};
  EVP_MAC_init(ctx, key, sizeof key, params);
  unsigned char out[32];
  size_t len = 0;
  auto t0 = Steady::now();
  for (const std::string& id : ids) {
    EVP_MAC_init(ctx, nullptr, 0, nullptr);
    EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(id.data()), id.size());
    EVP_MAC_final(ctx, out, &len, sizeof out);
    *sink ^= out[0];
  }
  auto t1 = Steady::now();
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(mac);
  return ids.size() / Seconds(t0, t1);
}

// What one identifier costs on the wire in each form of
// PseudonymiseRequest: building the request, serialising it and parsing it
// again, as ingestion and gRPC do for every batch. ns per identifier.
double WireCost(const std::vector<std::string>& ids, int batch, bool packed) {
  using datalab::pseudonymisation::v1::PseudonymiseRequest;
  size_t done = 0;
  auto t0 = Steady::now();
  for (size_t start = 0; start < ids.size(); start += static_cast<size_t>(batch)) {
    const size_t end = std::min(ids.size(), start + static_cast<size_t>(batch));
    PseudonymiseRequest req;
    req.set_domain("domains/pupil");
    if (packed) {
      std::string* blob = req.mutable_packed_identifiers();
      for (size_t i = start; i < end; ++i) {
        blob->append(ids[i]);
        req.add_packed_identifier_ends(static_cast<uint32_t>(blob->size()));
      }
    } else {
      for (size_t i = start; i < end; ++i) req.add_identifiers(ids[i]);
    }
    const std::string wire = req.SerializeAsString();
    PseudonymiseRequest back;
    if (!back.ParseFromString(wire)) return 0;
    done += end - start;
  }
  auto t1 = Steady::now();
  return Seconds(t0, t1) * 1e9 / static_cast<double>(done);
}

}  // namespace

int main(int argc, char** argv) {
  // As the services (server::InitMain): no lock-order graph in production.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  using namespace datalab::pseudonymisation;  // NOLINT: benchmark driver
  absl::ParseCommandLine(argc, argv);
  const int n = absl::GetFlag(FLAGS_n);
  const int batch = std::max(1, absl::GetFlag(FLAGS_batch));

  std::vector<std::string> ids;
  ids.reserve(n);
  for (int i = 0; static_cast<int>(ids.size()) < n; ++i) {
    ids.push_back(*datalab::identifiers::MakeUpn(200 + i % 700, (i / 700) % 10000,
                                                 (i / 7000000) % 100, i % 1000));
  }

  MemoryPseudonymisationStore store;
  datalab::audit_client::FakeAuditClient audit;
  SystemClock clock;
  PseudonymisationOptions o;
  o.store = &store;
  o.audit = &audit;
  o.clock = &clock;
  o.kek = std::move(*Kek::FromBytes(*datalab::crypto::RandomBytes(32)));
  auto domain = Pseudonymisation::Create(std::move(o));
  if (!domain.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(domain.status().message()).c_str());
    return 1;
  }
  datalab::common::v1::Principal admin;
  admin.set_subject("users/bench");
  datalab::pseudonymisation::v1::CreateDomainRequest create;
  create.set_domain_id("pupil");
  create.mutable_domain()->set_kind(v1::UPN);
  if (!(*domain)->CreateDomain(admin, create).ok()) return 1;

  // Requests built up front (as the gRPC layer would hand them over).
  std::vector<v1::PseudonymiseRequest> requests;
  for (int start = 0; start < n; start += batch) {
    v1::PseudonymiseRequest r;
    r.set_domain("domains/pupil");
    for (int i = start; i < std::min(n, start + batch); ++i) r.add_identifiers(ids[i]);
    requests.push_back(std::move(r));
  }

  unsigned char sink = 0;
  BareLoop(ids, &sink);  // warm-up
  const double bare = BareLoop(ids, &sink);

  auto run = [&](bool packed) {
    v1::PseudonymiseResponse resp;
    BatchCounts counts;
    auto t0 = Steady::now();
    for (auto& r : requests) {
      r.set_packed_response(packed);
      if (!(*domain)->Pseudonymise(r, &resp, &counts).ok()) return 0.0;
    }
    auto t1 = Steady::now();
    return counts.valid / Seconds(t0, t1);
  };
  run(true);  // warm-up
  const double packed = run(true);
  const double results = run(false);

  std::printf("bare_evp_mac_hmac_sha256 %.0f ids_per_second\n", bare);
  std::printf("pseudonymise_in_process_packed %.0f ids_per_second\n", packed);
  std::printf("pseudonymise_in_process_results %.0f ids_per_second\n", results);
  WireCost(ids, batch, false);  // warm-up
  std::printf("request_wire_repeated_ns_per_id %.1f ns\n", WireCost(ids, batch, false));
  std::printf("request_wire_packed_ns_per_id %.1f ns\n", WireCost(ids, batch, true));
  std::printf("ratio %.3f x\n", packed / bare);
  std::printf("ratio_results %.3f x\n", results / bare);
  return sink == 255 ? 0 : 0;
}
