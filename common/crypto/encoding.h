// Text encodings of bytes: hex, base64, base64url and base32 (RFC 4648).
//
// Encoders never fail. Decoders are strict so that every byte string has
// exactly one accepted text form (useful when encodings are compared or
// used as keys): wrong alphabet, wrong padding, impossible lengths and
// non-zero unused trailing bits are all INVALID_ARGUMENT. Error messages
// give the position of the first bad character, never the input itself,
// because decoded strings are often tokens or keys.
//
// Decoders return std::string; when the decoded bytes are a secret, move
// them into SecureBytes at once and wipe the string (or decode into a
// SecureBytes via the *Secret variants).
//
// All functions are pure and thread-safe.
#ifndef DATALAB_COMMON_CRYPTO_ENCODING_H_
#define DATALAB_COMMON_CRYPTO_ENCODING_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/crypto/bytes.h"

namespace datalab::crypto {

// Lowercase hex. Decoding accepts either case; length must be even.
std::string HexEncode(ByteView data);
absl::StatusOr<std::string> HexDecode(std::string_view text);

// Standard base64 alphabet with '=' padding (RFC 4648 section 4).
// Decoding requires canonical padding.
std::string Base64Encode(ByteView data);
absl::StatusOr<std::string> Base64Decode(std::string_view text);

// URL-safe alphabet ('-', '_') without padding (RFC 4648 section 5, as used
// by JWT/JWS). Decoding rejects '=' and lengths of 1 mod 4.
std::string Base64UrlEncode(ByteView data);
absl::StatusOr<std::string> Base64UrlDecode(std::string_view text);

// RFC 4648 section 6 alphabet in lowercase, without padding (used for
// pseudonyms: case-insensitive-safe and no punctuation). Decoding accepts
// either case and rejects '='.
std::string Base32Encode(ByteView data);
absl::StatusOr<std::string> Base32Decode(std::string_view text);

// Variants that decode straight into wiped-on-destruction memory.
absl::StatusOr<SecureBytes> HexDecodeSecret(std::string_view text);
absl::StatusOr<SecureBytes> Base64DecodeSecret(std::string_view text);

}  // namespace datalab::crypto

#endif  // DATALAB_COMMON_CRYPTO_ENCODING_H_
