#include "services/pseudonymisation/pseudonymiser.h"

#include <atomic>
#include <utility>
#include <vector>

#include <openssl/crypto.h>

#include "absl/status/status.h"
#include "common/status/status_macros.h"

namespace datalab::pseudonymisation {
namespace {

constexpr char kBase32[] = "abcdefghijklmnopqrstuvwxyz234567";
constexpr char kVaultLabel[] = "datalab.pseudonymisation.vault.v1";
constexpr char kProjectRootLabel[] = "datalab.pseudonymisation.project-root.v1";

std::atomic<uint64_t> next_id{1};

// Per-thread clones of keyed contexts. Bounded: a thread that served more
// domains than this drops the oldest clone (re-cloned on next use).
constexpr size_t kMaxThreadClones = 16;
struct ThreadClone {
  uint64_t id;
  crypto::HmacSha256 mac;
};
thread_local std::vector<ThreadClone> thread_clones;

crypto::SecureBytes Derive(crypto::ByteView key, crypto::ByteView label) {
  absl::StatusOr<crypto::HmacSha256Mac> mac = crypto::HmacSha256Once(key, label);
  // Only fails on allocation failure inside OpenSSL or an empty key, which
  // callers exclude; an empty result makes every later use fail loudly.
  if (!mac.ok()) return crypto::SecureBytes();
  crypto::SecureBytes out{crypto::ByteView(*mac)};
  OPENSSL_cleanse(mac->data(), mac->size());
  return out;
}

}  // namespace

void EncodePseudonym(const uint8_t* b, char* out) {
  // 16 bytes = 3 groups of 5 bytes (40 bits -> 8 chars) + 1 byte (-> 2 chars).
  size_t o = 0;
  for (int g = 0; g < 3; ++g) {
    const uint8_t* p = b + 5 * g;
    const uint64_t v = (uint64_t{p[0]} << 32) | (uint64_t{p[1]} << 24) |
                       (uint64_t{p[2]} << 16) | (uint64_t{p[3]} << 8) | uint64_t{p[4]};
    for (int i = 7; i >= 0; --i) out[o++] = kBase32[(v >> (5 * i)) & 31];
  }
  out[o++] = kBase32[b[15] >> 3];
  out[o++] = kBase32[(b[15] & 7) << 2];
}

bool IsWellFormedPseudonym(std::string_view p) {
  if (p.size() != kPseudonymChars) return false;
  for (char c : p) {
    if (!((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7'))) return false;
  }
  // The last character carries 3 data bits and 2 zero bits.
  const char last = p.back();
  const int v = last >= 'a' ? last - 'a' : last - '2' + 26;
  return (v & 3) == 0;
}

Pseudonymiser::Pseudonymiser(uint64_t id, crypto::HmacSha256 master)
    : id_(id), master_(std::move(master)) {}

absl::StatusOr<std::shared_ptr<const Pseudonymiser>> Pseudonymiser::Create(
    crypto::ByteView linkage_key) {
  if (linkage_key.size() != 32) {
    return absl::InvalidArgumentError("linkage key must be 32 bytes");
  }
  ASSIGN_OR_RETURN(crypto::HmacSha256 mac, crypto::HmacSha256::Create(linkage_key));
  return std::shared_ptr<const Pseudonymiser>(new Pseudonymiser(next_id++, std::move(mac)));
}

crypto::HmacSha256* Pseudonymiser::ThreadMac() const {
  for (ThreadClone& c : thread_clones) {
    if (c.id == id_) return &c.mac;
  }
  absl::StatusOr<crypto::HmacSha256> clone = master_.Clone();
  if (!clone.ok()) return nullptr;
  if (thread_clones.size() >= kMaxThreadClones) thread_clones.erase(thread_clones.begin());
  thread_clones.push_back(ThreadClone{id_, std::move(*clone)});
  return &thread_clones.back().mac;
}

absl::Status Pseudonymiser::Compute(std::string_view id, char* out26) const {
  crypto::HmacSha256* mac = ThreadMac();
  if (mac == nullptr) return absl::InternalError("cannot clone the keyed MAC context");
  ASSIGN_OR_RETURN(crypto::HmacSha256Mac full, mac->Compute(id));
  EncodePseudonym(full.data(), out26);
  return absl::OkStatus();
}

absl::StatusOr<std::string> Pseudonymiser::Compute(std::string_view id) const {
  std::string out(kPseudonymChars, '\0');
  RETURN_IF_ERROR(Compute(id, out.data()));
  return out;
}

crypto::SecureBytes DeriveVaultKey(crypto::ByteView domain_key) {
  return Derive(domain_key, kVaultLabel);
}

crypto::SecureBytes DeriveProjectKey(crypto::ByteView domain_key, std::string_view project) {
  crypto::SecureBytes root = Derive(domain_key, kProjectRootLabel);
  return Derive(root, project);
}

absl::StatusOr<std::string> ProjectPseudonym(crypto::HmacSha256& mac,
                                             std::string_view lab_pseudonym) {
  ASSIGN_OR_RETURN(crypto::HmacSha256Mac full, mac.Compute(lab_pseudonym));
  std::string out(kPseudonymChars, '\0');
  EncodePseudonym(full.data(), out.data());
  return out;
}

}  // namespace datalab::pseudonymisation
