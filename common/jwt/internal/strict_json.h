// Strict JSON parsing for untrusted JOSE headers, claims and JWKS documents.
// Private to common/jwt.
//
// On top of nlohmann's strict RFC 8259 parser (no comments, no trailing data,
// valid UTF-8) this rejects duplicate object member names (RFC 7515 section 5.2
// lets us; accepting "last one wins" invites parser-differential attacks) and
// nesting deeper than `max_depth`, so a hostile document can neither exhaust
// the stack nor build a huge tree. Never throws.
#ifndef DATALAB_COMMON_JWT_INTERNAL_STRICT_JSON_H_
#define DATALAB_COMMON_JWT_INTERNAL_STRICT_JSON_H_

#include <optional>
#include <string_view>

#include "nlohmann/json.hpp"

namespace datalab::jwt::internal {

// Returns nullopt when `text` is not a single valid JSON value within the
// limits above.
std::optional<nlohmann::json> ParseStrictJson(std::string_view text, int max_depth);

}  // namespace datalab::jwt::internal

#endif  // DATALAB_COMMON_JWT_INTERNAL_STRICT_JSON_H_
