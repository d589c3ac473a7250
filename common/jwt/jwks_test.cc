#include "common/jwt/jwks.h"

#include <openssl/evp.h>

#include <string>

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
using ::testing::AllOf;
using ::testing::HasSubstr;

class JwksTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    SignerOptions options;
    options.kid = "rsa-1";
    options.private_key_pem = *GeneratePrivateKeyPem(Algorithm::kRs256);
    rsa_jwk_ = new json((*Signer::Create(options))->public_jwk());
    options.kid = "ec-1";
    options.private_key_pem = *GeneratePrivateKeyPem(Algorithm::kEs256);
    ec_jwk_ = new json((*Signer::Create(options))->public_jwk());
  }
  static void TearDownTestSuite() {
    delete rsa_jwk_;
    delete ec_jwk_;
  }

  static std::string Doc(std::initializer_list<json> keys) {
    json doc = {{"keys", json::array()}};
    for (const json& k : keys) doc["keys"].push_back(k);
    return doc.dump();
  }

  // Key index 1 is the one under test (index 0 is a good RSA key), so errors
  // must name the right index.
  static void ExpectKeyError(const json& bad, const std::string& field) {
    absl::StatusOr<Jwks> jwks = Jwks::Parse(Doc({*rsa_jwk_, bad}));
    EXPECT_THAT(jwks, StatusIs(absl::StatusCode::kInvalidArgument,
                               AllOf(HasSubstr("key 1"), HasSubstr(field))))
        << bad.dump();
  }

  static json* rsa_jwk_;
  static json* ec_jwk_;
};

json* JwksTest::rsa_jwk_ = nullptr;
json* JwksTest::ec_jwk_ = nullptr;

TEST_F(JwksTest, LoadsRsaAndEcKeys) {
  absl::StatusOr<Jwks> jwks = Jwks::Parse(Doc({*rsa_jwk_, *ec_jwk_}));
  ASSERT_THAT(jwks, IsOk());
  ASSERT_EQ(jwks->keys().size(), 2u);
  EXPECT_EQ(jwks->keys()[0].key_algorithm, Algorithm::kRs256);
  EXPECT_EQ(jwks->keys()[0].bits, 2048);
  EXPECT_EQ(jwks->keys()[1].key_algorithm, Algorithm::kEs256);
  ASSERT_NE(jwks->FindByKid("ec-1"), nullptr);
  EXPECT_EQ(jwks->FindByKid("ec-1")->alg, Algorithm::kEs256);
  EXPECT_EQ(jwks->FindByKid("EC-1"), nullptr);
  EXPECT_EQ(jwks->FindByKid(""), nullptr);
}

TEST_F(JwksTest, OptionalMembersMayBeAbsent) {
  json rsa = *rsa_jwk_;
  rsa.erase("alg");
  rsa.erase("use");
  rsa.erase("kid");
  rsa["x5t"] = "ignored";
  absl::StatusOr<Jwks> jwks = Jwks::Parse(Doc({rsa}));
  ASSERT_THAT(jwks, IsOk());
  EXPECT_EQ(jwks->keys()[0].kid, "");
  EXPECT_FALSE(jwks->keys()[0].alg.has_value());
}

TEST_F(JwksTest, RejectsBadDocuments) {
  for (const char* doc : {"", "not json", "[]", "{}", R"({"keys":{}})", R"({"keys":[]})",
                          R"({"keys":[1]})", R"({"keys":[]} trailing)"}) {
    EXPECT_THAT(Jwks::Parse(doc), StatusIs(absl::StatusCode::kInvalidArgument)) << doc;
  }
  std::string deep = R"({"keys":[{"kty":"RSA","x":)" + std::string(1000, '[') +
                     std::string(1000, ']') + "}]}";
  EXPECT_THAT(Jwks::Parse(deep), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Jwks::Parse(std::string(2 << 20, ' ')),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(JwksTest, RejectsBadKtyUseAlg) {
  json k = *rsa_jwk_;
  k.erase("kty");
  ExpectKeyError(k, "\"kty\"");
  k["kty"] = "oct";
  ExpectKeyError(k, "\"kty\"");
  k["kty"] = 3;
  ExpectKeyError(k, "\"kty\"");
  k = *rsa_jwk_;
  k["use"] = "enc";
  ExpectKeyError(k, "\"use\"");
  k = *rsa_jwk_;
  k["key_ops"] = {"encrypt"};
  ExpectKeyError(k, "\"key_ops\"");
  for (const char* alg : {"HS256", "none", "RS512", "ES256"}) {
    k = *rsa_jwk_;
    k["alg"] = alg;
    ExpectKeyError(k, "\"alg\"");
  }
  k = *ec_jwk_;
  k["alg"] = "RS256";
  ExpectKeyError(k, "\"alg\"");
  ExpectKeyError(json::array(), "JSON object");
}

TEST_F(JwksTest, RejectsMalformedRsaMembers) {
  json k = *rsa_jwk_;
  k.erase("n");
  ExpectKeyError(k, "\"n\"");
  k = *rsa_jwk_;
  k["n"] = k["n"].get<std::string>() + "=";
  ExpectKeyError(k, "\"n\"");
  k = *rsa_jwk_;
  k["n"] = "";
  ExpectKeyError(k, "\"n\"");
  k = *rsa_jwk_;
  k["e"] = "AAAA";  // zero
  ExpectKeyError(k, "\"e\"");
  k = *rsa_jwk_;
  k["e"] = internal::Base64UrlEncode("\x01\x00\x00");  // even
  ExpectKeyError(k, "\"e\"");
  k = *rsa_jwk_;
  k["e"] = 65537;
  ExpectKeyError(k, "\"e\"");
}

TEST_F(JwksTest, RejectsShortRsaModulus) {
  EVP_PKEY* raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(1024));
  ASSERT_NE(raw, nullptr);
  BIGNUM* n = nullptr;
  ASSERT_EQ(EVP_PKEY_get_bn_param(raw, "n", &n), 1);
  std::string bytes(static_cast<size_t>(BN_num_bytes(n)), '\0');
  BN_bn2bin(n, reinterpret_cast<unsigned char*>(bytes.data()));
  BN_free(n);
  EVP_PKEY_free(raw);
  json k = {{"kty", "RSA"}, {"n", internal::Base64UrlEncode(bytes)}, {"e", "AQAB"}};
  ExpectKeyError(k, "2048");
}

TEST_F(JwksTest, RejectsMalformedEcMembers) {
  json k = *ec_jwk_;
  k["crv"] = "P-384";
  ExpectKeyError(k, "\"crv\"");
  k.erase("crv");
  ExpectKeyError(k, "\"crv\"");
  k = *ec_jwk_;
  k["x"] = internal::Base64UrlEncode(std::string(31, '\x01'));
  ExpectKeyError(k, "\"x\"");
  k = *ec_jwk_;
  k.erase("y");
  ExpectKeyError(k, "\"y\"");
  k = *ec_jwk_;
  std::string y = *internal::Base64UrlDecode(k["y"].get<std::string>());
  y[31] ^= 0x01;  // no longer on the curve
  k["y"] = internal::Base64UrlEncode(y);
  ExpectKeyError(k, "P-256");
}

TEST_F(JwksTest, RejectsPrivateKeyMaterial) {
  json k = *ec_jwk_;
  k["d"] = "AAAA";
  ExpectKeyError(k, "\"d\"");
  k = *rsa_jwk_;
  k["p"] = "AAAA";
  ExpectKeyError(k, "\"p\"");
}

TEST_F(JwksTest, RejectsBadOrDuplicateKid) {
  for (const char* kid : {"", "../../etc/passwd", "a/b", "a\\b", "a..b", "a\nb"}) {
    json k = *ec_jwk_;
    k["kid"] = kid;
    ExpectKeyError(k, "\"kid\"");
  }
  json k = *ec_jwk_;
  k["kid"] = 5;
  ExpectKeyError(k, "\"kid\"");
  k = *ec_jwk_;
  k["kid"] = "rsa-1";
  ExpectKeyError(k, "duplicates");
}

TEST_F(JwksTest, ErrorsNeverContainKeyMaterial) {
  json k = *rsa_jwk_;
  std::string n = k["n"].get<std::string>();
  k["n"] = n + "=";
  absl::StatusOr<Jwks> jwks = Jwks::Parse(Doc({k}));
  ASSERT_FALSE(jwks.ok());
  EXPECT_THAT(std::string(jwks.status().message()), ::testing::Not(HasSubstr(n.substr(0, 16))));
}

}  // namespace
}  // namespace datalab::jwt
