// AES-256-GCM authenticated encryption (NIST SP 800-38D) over OpenSSL.
//
// Wire format of a sealed message:
//     nonce (12 bytes, random) || ciphertext (len(plaintext)) || tag (16 bytes)
// The associated data (aad) is authenticated but not stored; Open() must be
// given the same aad (bind it to context, e.g. "pseudonym-key/v3/pupil", so a
// blob cannot be replayed under another name).
//
// Nonces are random, so one key may seal at most 2^32 messages (NIST's limit
// for random 96-bit nonces); that is ample for wrapping keys and secrets.
//
// Errors: INVALID_ARGUMENT for a key that is not 32 bytes or a sealed blob
// too short to hold nonce and tag; DATA_LOSS "authentication failed" when
// the tag does not verify (wrong key, wrong aad, or any modified byte). No
// error ever says which part failed or contains key or plaintext bytes.
//
// All functions are stateless and thread-safe.
#ifndef DATALAB_COMMON_CRYPTO_AEAD_H_
#define DATALAB_COMMON_CRYPTO_AEAD_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/crypto/bytes.h"

namespace datalab::crypto {

class Aead {
 public:
  static constexpr size_t kKeySize = 32;
  static constexpr size_t kNonceSize = 12;
  static constexpr size_t kTagSize = 16;
  static constexpr size_t kOverhead = kNonceSize + kTagSize;
  // Larger plaintexts are rejected; this API is for keys and records, not
  // bulk data.
  static constexpr size_t kMaxPlaintextSize = size_t{1} << 30;

  // nonce || ciphertext || tag, with a fresh random nonce.
  static absl::StatusOr<std::string> Seal(ByteView key, ByteView plaintext,
                                          ByteView aad);

  // The plaintext, in wiped-on-destruction memory since sealed blobs are
  // usually keys.
  static absl::StatusOr<SecureBytes> Open(ByteView key, ByteView sealed,
                                          ByteView aad);

  Aead() = delete;
};

namespace internal {
// Seal with a caller-chosen nonce, ONLY for known-answer tests. Reusing a
// nonce under one key destroys GCM's confidentiality and authenticity.
absl::StatusOr<std::string> AeadSealWithNonceForTesting(ByteView key,
                                                        ByteView nonce,
                                                        ByteView plaintext,
                                                        ByteView aad);
}  // namespace internal

}  // namespace datalab::crypto

#endif  // DATALAB_COMMON_CRYPTO_AEAD_H_
