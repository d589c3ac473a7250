#include "common/jwt/verifier.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/jwt/internal/base64url.h"
#include "common/jwt/signer.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace datalab::jwt {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::StatusIs;
using ::nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

using internal::Base64UrlDecode;
using internal::Base64UrlEncode;

constexpr char kIssuer[] = "https://idp.example.org/realms/lab";
constexpr char kAudience[] = "datalab-gateway";
constexpr int64_t kNow = 1'700'000'000;

std::unique_ptr<Signer> MakeSigner(Algorithm alg, const std::string& kid) {
  absl::StatusOr<std::string> pem = GeneratePrivateKeyPem(alg);
  EXPECT_THAT(pem, IsOk());
  SignerOptions options;
  options.private_key_pem = *pem;
  options.kid = kid;
  absl::StatusOr<std::unique_ptr<Signer>> signer = Signer::Create(options);
  EXPECT_THAT(signer, IsOk());
  return *std::move(signer);
}

std::string PublicKeyPem(const std::string& private_pem) {
  BIO* in = BIO_new_mem_buf(private_pem.data(), static_cast<int>(private_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(in, nullptr, nullptr, nullptr);
  BIO* out = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(out, key);
  char* data = nullptr;
  long len = BIO_get_mem_data(out, &data);
  std::string pem(data, static_cast<size_t>(len));
  BIO_free(out);
  EVP_PKEY_free(key);
  BIO_free(in);
  return pem;
}

std::string HmacSha256(const std::string& key, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  size_t len = 0;
  EXPECT_NE(EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(),
                      reinterpret_cast<const unsigned char*>(data.data()), data.size(), out,
                      sizeof(out), &len),
            nullptr);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string Seg(const json& j) { return Base64UrlEncode(j.dump()); }

std::vector<std::string> Split(const std::string& token) {
  return absl::StrSplit(token, '.');
}

class VerifierTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rsa_pem_ = new std::string(*GeneratePrivateKeyPem(Algorithm::kRs256));
    SignerOptions options;
    options.private_key_pem = *rsa_pem_;
    options.kid = "rsa-1";
    rsa_ = Signer::Create(options)->release();
    ec_ = MakeSigner(Algorithm::kEs256, "ec-1").release();
  }
  static void TearDownTestSuite() {
    delete rsa_;
    delete ec_;
    delete rogue_rsa_;
    rogue_rsa_ = nullptr;
    delete rsa_pem_;
  }

  // Same kid as the trusted RSA key, different key material. Made on first
  // use: RSA key generation dominates this suite's run time.
  static const Signer* RogueRsa() {
    if (rogue_rsa_ == nullptr) rogue_rsa_ = MakeSigner(Algorithm::kRs256, "rsa-1").release();
    return rogue_rsa_;
  }

  void SetUp() override { verifier_ = MakeVerifier(DefaultOptions()); }

  VerifierOptions DefaultOptions() {
    VerifierOptions options;
    options.issuer = kIssuer;
    options.audience = kAudience;
    options.now = [this] { return now_; };
    return options;
  }

  static std::string JwksJson(std::initializer_list<const Signer*> signers) {
    json doc = {{"keys", json::array()}};
    for (const Signer* s : signers) doc["keys"].push_back(s->public_jwk());
    return doc.dump();
  }

  std::unique_ptr<Verifier> MakeVerifier(const VerifierOptions& options,
                                         const std::string& jwks_json = JwksJson({rsa_, ec_})) {
    absl::StatusOr<Jwks> jwks = Jwks::Parse(jwks_json);
    EXPECT_THAT(jwks, IsOk());
    absl::StatusOr<std::unique_ptr<Verifier>> verifier =
        Verifier::Create(options, *std::move(jwks));
    EXPECT_THAT(verifier, IsOk());
    return *std::move(verifier);
  }

  static json Claims() {
    return {{"iss", kIssuer},      {"aud", kAudience},
            {"sub", "user-7f3a"},  {"exp", kNow + 600},
            {"iat", kNow - 10},    {"nbf", kNow - 10},
            {"jti", "token-1"},    {"roles", {"researcher", "data_steward"}}};
  }

  static json RsaHeader() { return {{"alg", "RS256"}, {"kid", "rsa-1"}, {"typ", "JWT"}}; }

  static std::string SignRsa(const json& header, const json& claims) {
    return *rsa_->SignRaw(header.dump(), claims.dump());
  }

  // Every denial is UNAUTHENTICATED with exactly `reason`, and the message
  // never echoes the token.
  void ExpectDenied(const std::string& token, const std::string& reason) {
    absl::StatusOr<VerifiedToken> result = verifier_->Verify(token);
    EXPECT_THAT(result, StatusIs(absl::StatusCode::kUnauthenticated)) << reason;
    if (!result.ok()) {
      EXPECT_EQ(result.status().message(), reason);
      if (token.size() > 3) {
        EXPECT_THAT(std::string(result.status().message()), Not(HasSubstr(token)));
      }
    }
  }

  absl::Time now_ = absl::FromUnixSeconds(kNow);
  std::unique_ptr<Verifier> verifier_;

  static std::string* rsa_pem_;
  static Signer* rsa_;
  static Signer* ec_;
  static Signer* rogue_rsa_;
};

std::string* VerifierTest::rsa_pem_ = nullptr;
Signer* VerifierTest::rsa_ = nullptr;
Signer* VerifierTest::ec_ = nullptr;
Signer* VerifierTest::rogue_rsa_ = nullptr;

// ---------------------------------------------------------------- positives

TEST_F(VerifierTest, AcceptsRs256) {
  std::string token = *rsa_->Sign(Claims());
  absl::StatusOr<VerifiedToken> v = verifier_->Verify(token);
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(v->subject, "user-7f3a");
  EXPECT_EQ(v->issuer, kIssuer);
  EXPECT_EQ(v->token_id, "token-1");
  EXPECT_EQ(v->expiry, absl::FromUnixSeconds(kNow + 600));
  EXPECT_THAT(v->roles, ElementsAre("researcher", "data_steward"));
  EXPECT_EQ(json::parse(v->claims_json), Claims());
}

TEST_F(VerifierTest, AcceptsEs256) {
  std::string token = *ec_->Sign(Claims());
  EXPECT_EQ(Base64UrlDecode(Split(token)[2])->size(), 64u);
  absl::StatusOr<VerifiedToken> v = verifier_->Verify(token);
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(v->subject, "user-7f3a");
  EXPECT_THAT(v->roles, ElementsAre("researcher", "data_steward"));
}

TEST_F(VerifierTest, RolesFromNestedClaimPath) {
  VerifierOptions options = DefaultOptions();
  options.roles_claim = "realm_access.roles";
  verifier_ = MakeVerifier(options);
  json claims = Claims();
  claims.erase("roles");
  claims["realm_access"] = {{"roles", {"dpo"}}};
  for (const Signer* s : {rsa_, ec_}) {
    absl::StatusOr<VerifiedToken> v = verifier_->Verify(*s->Sign(claims));
    ASSERT_THAT(v, IsOk());
    EXPECT_THAT(v->roles, ElementsAre("dpo"));
  }
  // A path that does not resolve gives no roles (deny by default downstream).
  claims["realm_access"] = {{"other", {"dpo"}}};
  absl::StatusOr<VerifiedToken> v = verifier_->Verify(*rsa_->Sign(claims));
  ASSERT_THAT(v, IsOk());
  EXPECT_THAT(v->roles, IsEmpty());
}

TEST_F(VerifierTest, RolesFromNamespacedTopLevelClaimWithDots) {
  VerifierOptions options = DefaultOptions();
  options.roles_claim = "https://lab.example.org/roles";
  verifier_ = MakeVerifier(options);
  json claims = Claims();
  claims["https://lab.example.org/roles"] = {"admin"};
  absl::StatusOr<VerifiedToken> v = verifier_->Verify(*rsa_->Sign(claims));
  ASSERT_THAT(v, IsOk());
  EXPECT_THAT(v->roles, ElementsAre("admin"));
}

TEST_F(VerifierTest, RolesAsSingleStringAndAbsent) {
  json claims = Claims();
  claims["roles"] = "researcher";
  absl::StatusOr<VerifiedToken> v = verifier_->Verify(*rsa_->Sign(claims));
  ASSERT_THAT(v, IsOk());
  EXPECT_THAT(v->roles, ElementsAre("researcher"));
  claims.erase("roles");
  claims.erase("jti");
  v = verifier_->Verify(*rsa_->Sign(claims));
  ASSERT_THAT(v, IsOk());
  EXPECT_THAT(v->roles, IsEmpty());
  EXPECT_EQ(v->token_id, "");
}

TEST_F(VerifierTest, AudienceAsArray) {
  json claims = Claims();
  claims["aud"] = {"account", kAudience};
  EXPECT_THAT(verifier_->Verify(*rsa_->Sign(claims)), IsOk());
}

TEST_F(VerifierTest, AcceptedTypes) {
  for (const char* typ : {"JWT", "jwt", "at+jwt", "application/at+JWT"}) {
    json header = RsaHeader();
    header["typ"] = typ;
    EXPECT_THAT(verifier_->Verify(SignRsa(header, Claims())), IsOk()) << typ;
  }
  json header = RsaHeader();
  header.erase("typ");
  EXPECT_THAT(verifier_->Verify(SignRsa(header, Claims())), IsOk());
}

TEST_F(VerifierTest, MissingTypeRejectedWhenRequired) {
  VerifierOptions options = DefaultOptions();
  options.allow_missing_type = false;
  verifier_ = MakeVerifier(options);
  json header = RsaHeader();
  header.erase("typ");
  ExpectDenied(SignRsa(header, Claims()), "token type not accepted");
  EXPECT_THAT(verifier_->Verify(SignRsa(RsaHeader(), Claims())), IsOk());
}

TEST_F(VerifierTest, WrongTypeRejected) {
  json header = RsaHeader();
  header["typ"] = "dpop+jwt";  // a different kind of JWT must not pass as a bearer token
  ExpectDenied(SignRsa(header, Claims()), "token type not accepted");
  header["typ"] = 1;
  ExpectDenied(SignRsa(header, Claims()), "token type not accepted");
}

TEST_F(VerifierTest, NoKidUsesTheOnlyKeyForTheAlgorithm) {
  json header = {{"alg", "ES256"}, {"typ", "JWT"}};
  EXPECT_THAT(verifier_->Verify(*ec_->SignRaw(header.dump(), Claims().dump())), IsOk());
}

TEST_F(VerifierTest, NoKidWithSeveralCandidateKeysIsRejected) {
  std::unique_ptr<Signer> rsa2 = MakeSigner(Algorithm::kRs256, "rsa-2");
  verifier_ = MakeVerifier(DefaultOptions(), JwksJson({rsa_, rsa2.get(), ec_}));
  json header = {{"alg", "RS256"}};
  ExpectDenied(SignRsa(header, Claims()), "unknown key id");
  EXPECT_THAT(verifier_->Verify(*rsa2->Sign(Claims())), IsOk());
}

TEST_F(VerifierTest, FractionalNumericDatesAccepted) {
  json claims = Claims();
  claims["exp"] = static_cast<double>(kNow) + 100.5;
  absl::StatusOr<VerifiedToken> v = verifier_->Verify(*rsa_->Sign(claims));
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(v->expiry, absl::FromUnixMillis((kNow + 100) * 1000 + 500));
}

// ----------------------------------------------------------- time claims

TEST_F(VerifierTest, Expired) {
  json claims = Claims();
  claims["exp"] = kNow - 61;
  ExpectDenied(*rsa_->Sign(claims), "token expired");
  claims["exp"] = kNow - 60;  // exactly at the edge of the skew
  ExpectDenied(*rsa_->Sign(claims), "token expired");
}

TEST_F(VerifierTest, ExpiredWithinSkewAccepted) {
  json claims = Claims();
  claims["exp"] = kNow - 59;
  EXPECT_THAT(verifier_->Verify(*rsa_->Sign(claims)), IsOk());
}

TEST_F(VerifierTest, ZeroSkewIsStrict) {
  VerifierOptions options = DefaultOptions();
  options.clock_skew = absl::ZeroDuration();
  verifier_ = MakeVerifier(options);
  json claims = Claims();
  claims["exp"] = kNow;
  ExpectDenied(*rsa_->Sign(claims), "token expired");
  claims["exp"] = kNow + 1;
  EXPECT_THAT(verifier_->Verify(*rsa_->Sign(claims)), IsOk());
}

TEST_F(VerifierTest, NotYetValid) {
  json claims = Claims();
  claims["nbf"] = kNow + 61;
  ExpectDenied(*rsa_->Sign(claims), "token not yet valid");
}

TEST_F(VerifierTest, NotBeforeWithinSkewAccepted) {
  json claims = Claims();
  claims["nbf"] = kNow + 60;
  EXPECT_THAT(verifier_->Verify(*rsa_->Sign(claims)), IsOk());
}

TEST_F(VerifierTest, IssuedInTheFuture) {
  json claims = Claims();
  claims["iat"] = kNow + 120;
  ExpectDenied(*rsa_->Sign(claims), "token issued in the future");
  claims["iat"] = kNow + 30;
  EXPECT_THAT(verifier_->Verify(*rsa_->Sign(claims)), IsOk());
}

TEST_F(VerifierTest, MissingExpiry) {
  json claims = Claims();
  claims.erase("exp");
  ExpectDenied(*rsa_->Sign(claims), "missing expiry");
}

TEST_F(VerifierTest, MalformedTimeClaims) {
  for (const json& bad : {json("1700000600"), json(nullptr), json(-5), json(1e300),
                          json(18446744073709551615ull), json::array({kNow + 600})}) {
    json claims = Claims();
    claims["exp"] = bad;
    ExpectDenied(*rsa_->Sign(claims), "malformed expiry");
    claims = Claims();
    claims["nbf"] = bad;
    ExpectDenied(*rsa_->Sign(claims), "malformed not-before");
    claims = Claims();
    claims["iat"] = bad;
    ExpectDenied(*rsa_->Sign(claims), "malformed issued-at");
  }
}

// ----------------------------------------------------------- iss / aud / sub

TEST_F(VerifierTest, WrongAudience) {
  json claims = Claims();
  claims["aud"] = "some-other-api";
  ExpectDenied(*rsa_->Sign(claims), "audience mismatch");
  claims["aud"] = {"account", "some-other-api"};
  ExpectDenied(*rsa_->Sign(claims), "audience mismatch");
  claims["aud"] = json::array();
  ExpectDenied(*rsa_->Sign(claims), "audience mismatch");
  claims["aud"] = "DATALAB-GATEWAY";  // exact, case-sensitive
  ExpectDenied(*rsa_->Sign(claims), "audience mismatch");
  claims["aud"] = {kAudience, 5};
  ExpectDenied(*rsa_->Sign(claims), "malformed audience");
  claims["aud"] = {{"x", kAudience}};
  ExpectDenied(*rsa_->Sign(claims), "malformed audience");
  claims.erase("aud");
  ExpectDenied(*rsa_->Sign(claims), "missing audience");
}

TEST_F(VerifierTest, WrongIssuer) {
  json claims = Claims();
  claims["iss"] = "https://evil.example.org/realms/lab";
  ExpectDenied(*rsa_->Sign(claims), "issuer mismatch");
  claims["iss"] = std::string(kIssuer) + "/";
  ExpectDenied(*rsa_->Sign(claims), "issuer mismatch");
  claims["iss"] = {kIssuer};
  ExpectDenied(*rsa_->Sign(claims), "issuer mismatch");
  claims.erase("iss");
  ExpectDenied(*rsa_->Sign(claims), "missing issuer");
}

TEST_F(VerifierTest, MissingOrBadSubject) {
  json claims = Claims();
  claims.erase("sub");
  ExpectDenied(*rsa_->Sign(claims), "missing subject");
  claims["sub"] = "";
  ExpectDenied(*rsa_->Sign(claims), "missing subject");
  claims["sub"] = 42;
  ExpectDenied(*rsa_->Sign(claims), "missing subject");
}

TEST_F(VerifierTest, MalformedRolesAndJti) {
  json claims = Claims();
  claims["roles"] = 5;
  ExpectDenied(*rsa_->Sign(claims), "malformed roles claim");
  claims["roles"] = {"researcher", 1};
  ExpectDenied(*rsa_->Sign(claims), "malformed roles claim");
  claims["roles"] = {{"admin", true}};
  ExpectDenied(*rsa_->Sign(claims), "malformed roles claim");
  claims = Claims();
  claims["jti"] = 12;
  ExpectDenied(*rsa_->Sign(claims), "malformed token id");
}

// ----------------------------------------------------------- algorithm attacks

TEST_F(VerifierTest, AlgNoneWithoutSignature) {
  for (const char* none : {"none", "None", "NONE", "nOnE"}) {
    json header = {{"alg", none}, {"typ", "JWT"}};
    ExpectDenied(Seg(header) + "." + Seg(Claims()) + ".", "algorithm not allowed");
    header["kid"] = "rsa-1";
    ExpectDenied(Seg(header) + "." + Seg(Claims()) + ".", "algorithm not allowed");
  }
}

TEST_F(VerifierTest, AlgNoneWithSignature) {
  std::vector<std::string> parts = Split(*rsa_->Sign(Claims()));
  json header = {{"alg", "none"}, {"kid", "rsa-1"}, {"typ", "JWT"}};
  ExpectDenied(absl::StrCat(Seg(header), ".", parts[1], ".", parts[2]),
               "algorithm not allowed");
}

TEST_F(VerifierTest, Rs256ToHs256Confusion) {
  std::string public_pem = PublicKeyPem(*rsa_pem_);
  for (const char* alg : {"HS256", "HS384", "HS512"}) {
    json header = {{"alg", alg}, {"kid", "rsa-1"}, {"typ", "JWT"}};
    std::string input = Seg(header) + "." + Seg(Claims());
    std::string token = input + "." + Base64UrlEncode(HmacSha256(public_pem, input));
    ExpectDenied(token, "algorithm not allowed");
  }
  // Also with the raw JWK modulus and without kid.
  json header = {{"alg", "HS256"}};
  std::string input = Seg(header) + "." + Seg(Claims());
  std::string n = *Base64UrlDecode(rsa_->public_jwk()["n"].get<std::string>());
  ExpectDenied(input + "." + Base64UrlEncode(HmacSha256(n, input)), "algorithm not allowed");
}

TEST_F(VerifierTest, AlgorithmNotInConfiguredAllowList) {
  VerifierOptions options = DefaultOptions();
  options.allowed_algorithms = {"RS256"};
  verifier_ = MakeVerifier(options);
  ExpectDenied(*ec_->Sign(Claims()), "algorithm not allowed");
  EXPECT_THAT(verifier_->Verify(*rsa_->Sign(Claims())), IsOk());
}

TEST_F(VerifierTest, OtherAlgorithmsRejected) {
  for (const json& alg : {json("RS512"), json("PS256"), json("ES384"), json("EdDSA"),
                          json("rs256"), json(""), json(256), json(nullptr)}) {
    json header = {{"alg", alg}, {"kid", "rsa-1"}};
    ExpectDenied(SignRsa(header, Claims()), "algorithm not allowed");
  }
  json header = {{"kid", "rsa-1"}};
  ExpectDenied(SignRsa(header, Claims()), "algorithm not allowed");
}

TEST_F(VerifierTest, EcKeyWithRs256Header) {
  // kid names the EC key but the header claims RS256 (signed with RSA).
  json header = {{"alg", "RS256"}, {"kid", "ec-1"}};
  ExpectDenied(SignRsa(header, Claims()), "algorithm does not match key");
}

TEST_F(VerifierTest, RsaKeyWithEs256Header) {
  json header = {{"alg", "ES256"}, {"kid", "rsa-1"}};
  ExpectDenied(*ec_->SignRaw(header.dump(), Claims().dump()), "algorithm does not match key");
}

TEST_F(VerifierTest, CritHeaderRejected) {
  json header = RsaHeader();
  header["crit"] = {"exp"};
  header["exp"] = kNow + 600;
  ExpectDenied(SignRsa(header, Claims()), "unsupported critical header");
  header = RsaHeader();
  header["crit"] = json::array();
  ExpectDenied(SignRsa(header, Claims()), "unsupported critical header");
  header = RsaHeader();
  header["b64"] = false;
  header["crit"] = {"b64"};
  ExpectDenied(SignRsa(header, Claims()), "unsupported critical header");
}

TEST_F(VerifierTest, EmbeddedKeyHeadersAreIgnored) {
  // A token carrying its own key (jwk/jku/x5u) must still verify against the
  // JWKS only: signed by a rogue key that it embeds, it fails.
  json header = RsaHeader();
  header["jwk"] = RogueRsa()->public_jwk();
  header["jku"] = "https://evil.example.org/jwks.json";
  header["x5u"] = "https://evil.example.org/cert.pem";
  ExpectDenied(*RogueRsa()->SignRaw(header.dump(), Claims().dump()), "signature invalid");
}

// ----------------------------------------------------------- signature attacks

TEST_F(VerifierTest, BadSignature) {
  ExpectDenied(*RogueRsa()->Sign(Claims()), "signature invalid");
  std::vector<std::string> parts = Split(*rsa_->Sign(Claims()));
  std::string sig = *Base64UrlDecode(parts[2]);
  sig[10] ^= 0x01;
  ExpectDenied(absl::StrCat(parts[0], ".", parts[1], ".", Base64UrlEncode(sig)),
               "signature invalid");
  ExpectDenied(absl::StrCat(parts[0], ".", parts[1], "."), "signature invalid");
  ExpectDenied(absl::StrCat(parts[0], ".", parts[1], ".", Base64UrlEncode(sig.substr(1))),
               "signature invalid");
}

TEST_F(VerifierTest, TamperedPayload) {
  std::vector<std::string> parts = Split(*rsa_->Sign(Claims()));
  json claims = Claims();
  claims["roles"] = {"admin"};
  ExpectDenied(absl::StrCat(parts[0], ".", Seg(claims), ".", parts[2]), "signature invalid");
  std::vector<std::string> ec_parts = Split(*ec_->Sign(Claims()));
  ExpectDenied(absl::StrCat(ec_parts[0], ".", Seg(claims), ".", ec_parts[2]),
               "signature invalid");
}

TEST_F(VerifierTest, TamperedHeader) {
  std::vector<std::string> parts = Split(*rsa_->Sign(Claims()));
  json header = RsaHeader();
  header["typ"] = "at+jwt";
  ExpectDenied(absl::StrCat(Seg(header), ".", parts[1], ".", parts[2]), "signature invalid");
}

TEST_F(VerifierTest, Es256SignatureOfWrongLength) {
  std::vector<std::string> parts = Split(*ec_->Sign(Claims()));
  std::string sig = *Base64UrlDecode(parts[2]);
  ASSERT_EQ(sig.size(), 64u);
  const std::string prefix = parts[0] + "." + parts[1] + ".";
  ExpectDenied(prefix + Base64UrlEncode(sig.substr(0, 63)), "signature invalid");
  ExpectDenied(prefix + Base64UrlEncode(sig + std::string(1, '\0')), "signature invalid");
  ExpectDenied(prefix + Base64UrlEncode(std::string(1, '\0') + sig), "signature invalid");
  ExpectDenied(prefix + Base64UrlEncode(sig + sig), "signature invalid");
  // r = 0 and s = 0 are never valid.
  ExpectDenied(prefix + Base64UrlEncode(std::string(64, '\0')), "signature invalid");
  // A DER-encoded ECDSA signature (what OpenSSL emits natively) is not JWS.
  std::string der = "\x30\x44\x02\x20" + sig.substr(0, 32) + "\x02\x20" + sig.substr(32);
  ExpectDenied(prefix + Base64UrlEncode(der), "signature invalid");
}

// ----------------------------------------------------------- key id attacks

TEST_F(VerifierTest, KidWithPathOrInjectionCharacters) {
  for (const char* kid :
       {"../../etc/passwd", "/etc/passwd", "..", "keys/rsa-1", "rsa-1/..",
        "x' OR 1=1", "x' OR '1'='1", "rsa-1; DROP TABLE keys", "https://evil.example/jwks.json",
        "file:///dev/random", "rsa-1\\..\\x", "rsa-1\n", "\x7f", "RSA-1", " rsa-1", ""}) {
    json header = RsaHeader();
    header["kid"] = kid;
    std::string token = SignRsa(header, Claims());
    ExpectDenied(token, "unknown key id");
    absl::StatusOr<VerifiedToken> v = verifier_->Verify(token);
    EXPECT_THAT(std::string(v.status().message()), Not(HasSubstr("passwd")));
  }
  json header = RsaHeader();
  header["kid"] = std::string("rsa-1\0", 6);
  ExpectDenied(SignRsa(header, Claims()), "unknown key id");
  header["kid"] = std::string(5000, 'a');
  ExpectDenied(SignRsa(header, Claims()), "unknown key id");
  header["kid"] = 7;
  ExpectDenied(SignRsa(header, Claims()), "unknown key id");
  header["kid"] = {"rsa-1"};
  ExpectDenied(SignRsa(header, Claims()), "unknown key id");
}

TEST_F(VerifierTest, UnknownKid) {
  json header = RsaHeader();
  header["kid"] = "rsa-2";
  ExpectDenied(SignRsa(header, Claims()), "unknown key id");
}

// ----------------------------------------------------------- shape attacks

TEST_F(VerifierTest, OversizedToken) {
  json claims = Claims();
  claims["pad"] = std::string(8 * 1024, 'x');
  ExpectDenied(*rsa_->Sign(claims), "token too large");
  ExpectDenied(std::string(8 * 1024 + 1, 'a'), "token too large");
}

TEST_F(VerifierTest, WrongSegmentCount) {
  std::string token = *rsa_->Sign(Claims());
  std::vector<std::string> p = Split(token);
  ExpectDenied(p[0] + "." + p[1], "malformed token");
  ExpectDenied(p[0], "malformed token");
  ExpectDenied(token + "." + p[2], "malformed token");
  ExpectDenied(token + ".", "malformed token");
  ExpectDenied(p[0] + "." + p[1] + "." + p[2] + "." + Seg(Claims()) + "." + p[2],
               "malformed token");
  ExpectDenied("", "malformed token");
  ExpectDenied(".", "malformed token");
  ExpectDenied("..", "malformed token");
  ExpectDenied("." + p[1] + "." + p[2], "malformed token");
  ExpectDenied(p[0] + ".." + p[2], "malformed token");
}

TEST_F(VerifierTest, PaddingOrWhitespaceInSegments) {
  std::string token = *rsa_->Sign(Claims());
  std::vector<std::string> p = Split(token);
  auto join = [](const std::string& a, const std::string& b, const std::string& c) {
    return a + "." + b + "." + c;
  };
  ExpectDenied(join(p[0] + "=", p[1], p[2]), "malformed token");
  ExpectDenied(join(p[0], p[1] + "==", p[2]), "malformed token");
  ExpectDenied(join(p[0], p[1], p[2] + "="), "malformed token");
  ExpectDenied(join(p[0] + " ", p[1], p[2]), "malformed token");
  ExpectDenied(join(p[0], p[1].substr(0, 5) + "\n" + p[1].substr(5), p[2]),
               "malformed token");
  ExpectDenied(join(p[0], p[1], p[2] + "\n"), "malformed token");
  ExpectDenied(" " + token, "malformed token");
  ExpectDenied(join(p[0], p[1], p[2].substr(0, 10) + "\t" + p[2].substr(10)),
               "malformed token");
  // Standard base64 alphabet and non-canonical trailing bits.
  ExpectDenied(join(p[0], p[1], p[2].substr(0, 10) + "+" + p[2].substr(11)),
               "malformed token");
  ExpectDenied(join("eyJ", p[1], p[2]), "malformed token");  // impossible length
}

TEST_F(VerifierTest, NonObjectHeaderOrPayload) {
  for (const char* not_object : {"[]", "\"RS256\"", "null", "42", "true", " ", "{", "{}x",
                                 "{\"alg\":\"RS256\",}", "{'alg':'RS256'}"}) {
    ExpectDenied(Base64UrlEncode(not_object) + "." + Seg(Claims()) + ".c2ln",
                 "malformed token header");
  }
  for (const char* not_object : {"[]", "\"sub\"", "null", "1700000000", "{", " "}) {
    ExpectDenied(*rsa_->SignRaw(RsaHeader().dump(), not_object), "malformed token claims");
  }
  // Empty segments never get as far as JSON.
  ExpectDenied(*rsa_->SignRaw("", Claims().dump()), "malformed token");
  ExpectDenied(*rsa_->SignRaw(RsaHeader().dump(), ""), "malformed token");
}

TEST_F(VerifierTest, InvalidUtf8AndDuplicateMembers) {
  ExpectDenied(*rsa_->SignRaw(RsaHeader().dump(),
                              R"({"sub":"a","sub":"b","iss":"x","aud":"y","exp":1})"),
               "malformed token claims");
  std::string claims = Claims().dump();
  claims.insert(claims.size() - 1, ",\"x\":\"\xff\xfe\"");
  ExpectDenied(*rsa_->SignRaw(RsaHeader().dump(), claims), "malformed token claims");
  // Duplicate "alg" in the header: the first says RS256, the last says none.
  ExpectDenied(Base64UrlEncode(R"({"alg":"RS256","kid":"rsa-1","alg":"none"})") + "." +
                   Seg(Claims()) + ".",
               "malformed token header");
}

TEST_F(VerifierTest, DeeplyNestedJson) {
  const int depth = 2000;
  std::string nested = std::string(depth, '[') + std::string(depth, ']');
  ExpectDenied(Base64UrlEncode("{\"alg\":\"RS256\",\"x\":" + nested + "}") + "." +
                   Seg(Claims()) + ".c2ln",
               "malformed token header");
  std::string claims = Claims().dump();
  claims.insert(claims.size() - 1, ",\"deep\":" + nested);
  ExpectDenied(*rsa_->SignRaw(RsaHeader().dump(), claims), "malformed token claims");
  std::string objects;
  for (int i = 0; i < 500; ++i) objects += "{\"a\":";
  objects += "1" + std::string(500, '}');
  claims = Claims().dump();
  claims.insert(claims.size() - 1, ",\"deep\":" + objects);
  ExpectDenied(*rsa_->SignRaw(RsaHeader().dump(), claims), "malformed token claims");
  // Unbalanced garbage of the same kind.
  ExpectDenied(*rsa_->SignRaw(RsaHeader().dump(), std::string(5000, '[')),
               "malformed token claims");
}

TEST_F(VerifierTest, ReasonsDoNotEchoClaims) {
  json claims = Claims();
  claims["aud"] = "secret-audience-value";
  claims["sub"] = "pupil-UPN-A123456789012";
  absl::StatusOr<VerifiedToken> v = verifier_->Verify(*rsa_->Sign(claims));
  ASSERT_FALSE(v.ok());
  EXPECT_THAT(std::string(v.status().message()), Not(HasSubstr("secret-audience")));
  EXPECT_THAT(std::string(v.status().message()), Not(HasSubstr("A123456789012")));
}

// ----------------------------------------------------------- options

TEST(VerifierOptionsTest, RejectsUnsafeOptions) {
  std::unique_ptr<Signer> signer = MakeSigner(Algorithm::kEs256, "k");
  auto create = [&](const VerifierOptions& o) {
    return Verifier::Create(o, *Jwks::Parse(signer->PublicJwksJson()));
  };
  VerifierOptions good;
  good.issuer = kIssuer;
  good.audience = kAudience;
  EXPECT_THAT(create(good), IsOk());

  auto expect_invalid = [&](VerifierOptions o) {
    EXPECT_THAT(create(o), StatusIs(absl::StatusCode::kInvalidArgument));
  };
  VerifierOptions o = good;
  o.issuer = "";
  expect_invalid(o);
  o = good;
  o.audience = "";
  expect_invalid(o);
  for (const char* alg : {"none", "HS256", "HS512", "RS512", "rs256"}) {
    o = good;
    o.allowed_algorithms = {"RS256", alg};
    expect_invalid(o);
  }
  o = good;
  o.allowed_algorithms = {};
  expect_invalid(o);
  o = good;
  o.clock_skew = absl::Seconds(301);
  expect_invalid(o);
  o = good;
  o.clock_skew = absl::Seconds(-1);
  expect_invalid(o);
  o = good;
  o.max_token_bytes = 0;
  expect_invalid(o);
  o = good;
  o.max_token_bytes = 1 << 20;
  expect_invalid(o);
  o = good;
  o.roles_claim = "";
  expect_invalid(o);
  o = good;
  o.roles_claim = "realm_access..roles";
  expect_invalid(o);
  o = good;
  o.accepted_types = {""};
  expect_invalid(o);
  o = good;
  o.clock_skew = absl::Seconds(300);
  EXPECT_THAT(create(o), IsOk());
}

}  // namespace
}  // namespace datalab::jwt
