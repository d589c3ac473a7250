// libFuzzer entry point for common/jwt: arbitrary bytes are verified as a
// token against a fixed JWKS, and parsed as a JWKS document. Neither may
// crash, leak, hang or throw; a token can only succeed with a valid signature,
// which a fuzzer cannot produce for these public keys (their private halves
// were discarded), so any OK result is itself a bug.
//
// Build: cmake -DDATALAB_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ ...; target jwt_fuzz.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string_view>

#include "absl/time/time.h"
#include "common/jwt/jwks.h"
#include "common/jwt/verifier.h"

namespace {

// Public keys only: one RSA-2048 and one P-256 key.
constexpr char kJwks[] =
    "{\"keys\":[{\"kty\":\"RSA\",\"use\":\"sig\",\"alg\":\"RS256\",\"kid\":\"fuzz-rsa\",\"n\":\""
    "ufA3_U_mZhpmHIuCsjfsXlV7mztiIn7FN6sNQszvggyKRm64Lva3RhOz9nn-2OWNy7HD10"
    "9vxc2A2xJHbVG_q4UT27bHT9o4NyVHJ8CiY_5zPHoZqKIsJV80iGZkLCPP2Ruqlhqk4QqP"
    "5JWUKMboQw_4jwCsDw3u_Hnz11c_mCzijqItpa0h-akL6pHP-YX2SzL3fIKHhOAh-2Nd55"
    "yjMA-tWZ9alankMX6i51W5jymqFx1hNMNMkqZrCiGXpwzsYRS7UFLkCkQvHdQ_sP4t8w9p"
    "9h6FhyVcKCRQ04kz6gQ75lVOPwztL29z0DYexNkICBO-iohhoI2VDXe6H3aV4Q\",\"e\":\"A"
    "QAB\"},{\"kty\":\"EC\",\"use\":\"sig\",\"alg\":\"ES256\",\"kid\":\"fuzz-ec\",\"crv\":\"P-2"
    "56\",\"x\":\"NiJySysBOcYH7JHoaBtGKB67yjBzkgSMwnTLCYG7Mg4\",\"y\":\"3YwKjWxAlND"
    "S6h0rOfRFBEpPAkqsTex4A37p3gqD_lg\"}]}";

const datalab::jwt::Verifier& GetVerifier() {
  static const datalab::jwt::Verifier* verifier = [] {
    absl::StatusOr<datalab::jwt::Jwks> jwks = datalab::jwt::Jwks::Parse(kJwks);
    if (!jwks.ok()) std::abort();
    datalab::jwt::VerifierOptions options;
    options.issuer = "https://idp.example.org";
    options.audience = "datalab";
    options.roles_claim = "realm_access.roles";
    options.now = [] { return absl::FromUnixSeconds(1700000000); };
    auto created = datalab::jwt::Verifier::Create(options, *std::move(jwks));
    if (!created.ok()) std::abort();
    return created->release();
  }();
  return *verifier;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<datalab::jwt::VerifiedToken> result = GetVerifier().Verify(input);
  if (result.ok()) std::abort();
  (void)datalab::jwt::Jwks::Parse(input);
  return 0;
}
