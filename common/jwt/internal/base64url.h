// Strict base64url (RFC 4648 section 5) without padding, as JWS compact
// serialisation requires (RFC 7515 section 2). Private to common/jwt so it can
// be swapped for common/crypto's implementation later.
//
// Decoding is strict: only [A-Za-z0-9_-], no '=' padding, no whitespace, a
// length that is not 1 mod 4, and zero unused trailing bits (so every byte
// string has exactly one accepted encoding and tokens are not malleable).
// Thread-safe: pure functions.
#ifndef DATALAB_COMMON_JWT_INTERNAL_BASE64URL_H_
#define DATALAB_COMMON_JWT_INTERNAL_BASE64URL_H_

#include <optional>
#include <string>
#include <string_view>

namespace datalab::jwt::internal {

std::string Base64UrlEncode(std::string_view data);

// Returns nullopt when `text` is not canonical unpadded base64url.
std::optional<std::string> Base64UrlDecode(std::string_view text);

// True when every character of `text` is in the base64url alphabet.
bool IsBase64UrlAlphabet(std::string_view text);

}  // namespace datalab::jwt::internal

#endif  // DATALAB_COMMON_JWT_INTERNAL_BASE64URL_H_
