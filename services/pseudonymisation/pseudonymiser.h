// The pseudonym function of one identifier domain, and the key derivations
// around it.
//
//   pseudonym = base32lower(first 16 bytes of HMAC-SHA256(linkage_key, id))
//
// where `id` is the normalised identifier (normalise.h). 128 bits keep the
// chance of any collision among 10^9 identifiers below 10^-20, and 26
// lowercase base32 characters survive every CSV tool and case-folding.
//
// Pseudonymiser is immutable once built and thread-safe. Each thread that
// computes gets its own clone of the keyed HMAC states (a thread_local
// cache keyed by the instance's unique id), so the hot path never re-keys
// and never takes a lock. The key itself lives only in those keyed SHA-256
// states (crypto::HmacSha256, wiped when freed); the caller keeps its copy
// in SecureBytes.
#ifndef DATALAB_SERVICES_PSEUDONYMISATION_PSEUDONYMISER_H_
#define DATALAB_SERVICES_PSEUDONYMISATION_PSEUDONYMISER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/crypto/bytes.h"
#include "common/crypto/hmac.h"

namespace datalab::pseudonymisation {

inline constexpr size_t kPseudonymBytes = 16;  // 128 bits
inline constexpr size_t kPseudonymChars = 26;  // ceil(128 / 5)

// Lowercase RFC 4648 base32, no padding, of exactly 16 bytes into 26
// characters (the unused low 2 bits of the last character are zero, so the
// result is also the canonical form crypto::Base32Decode accepts).
void EncodePseudonym(const uint8_t* bytes16, char* out26);

// True when `p` has the shape of a pseudonym (26 characters of a-z2-7 whose
// last character's unused bits are zero). Says nothing about which key.
bool IsWellFormedPseudonym(std::string_view p);

class Pseudonymiser {
 public:
  // INVALID_ARGUMENT unless `linkage_key` is 32 bytes.
  static absl::StatusOr<std::shared_ptr<const Pseudonymiser>> Create(crypto::ByteView linkage_key);

  Pseudonymiser(const Pseudonymiser&) = delete;
  Pseudonymiser& operator=(const Pseudonymiser&) = delete;

  // Writes the 26-character pseudonym of the normalised identifier `id` to
  // out26. Thread-safe; allocation-free after a thread's first call.
  absl::Status Compute(std::string_view id, char* out26) const;
  absl::StatusOr<std::string> Compute(std::string_view id) const;

 private:
  Pseudonymiser(uint64_t id, crypto::HmacSha256 master);
  crypto::HmacSha256* ThreadMac() const;

  const uint64_t id_;               // unique per process, never reused
  const crypto::HmacSha256 master_;  // never computes; only cloned
};

// Sub-keys of a rotating domain key version K_v (HMAC-SHA256(K_v, label),
// i.e. HKDF-Expand with a single block):
//   vault key        for sealing identifiers in the re-identification vault
//   project root     from which each project's key is derived
crypto::SecureBytes DeriveVaultKey(crypto::ByteView domain_key);
crypto::SecureBytes DeriveProjectKey(crypto::ByteView domain_key, std::string_view project);

// A project's pseudonym for a lab pseudonym:
//   base32lower(first 16 bytes of HMAC-SHA256(project_key, lab_pseudonym)).
// `mac` must be keyed with DeriveProjectKey(...).
absl::StatusOr<std::string> ProjectPseudonym(crypto::HmacSha256& mac,
                                             std::string_view lab_pseudonym);

}  // namespace datalab::pseudonymisation

#endif  // DATALAB_SERVICES_PSEUDONYMISATION_PSEUDONYMISER_H_
