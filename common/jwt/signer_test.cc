#include "common/jwt/signer.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <string>

#include "common/jwt/jwks.h"
#include "common/jwt/verifier.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace datalab::jwt {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::StatusIs;
using ::nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

std::string PemOf(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(len));
  BIO_free(bio);
  EVP_PKEY_free(key);
  return pem;
}

TEST(SignerTest, RoundTripsThroughExportedJwks) {
  for (Algorithm alg : {Algorithm::kRs256, Algorithm::kEs256}) {
    absl::StatusOr<std::string> pem = GeneratePrivateKeyPem(alg);
    ASSERT_THAT(pem, IsOk());
    absl::StatusOr<std::string> jwks_json = PublicJwksFromPrivateKeyPem(*pem, "dev-1");
    ASSERT_THAT(jwks_json, IsOk());
    EXPECT_THAT(*jwks_json, Not(HasSubstr("\"d\"")));  // public members only
    absl::StatusOr<Jwks> jwks = Jwks::Parse(*jwks_json);
    ASSERT_THAT(jwks, IsOk());
    ASSERT_EQ(jwks->keys().size(), 1u);
    EXPECT_EQ(jwks->keys()[0].kid, "dev-1");
    EXPECT_EQ(jwks->keys()[0].alg, alg);

    SignerOptions options;
    options.private_key_pem = *pem;
    options.kid = "dev-1";
    options.alg = alg;
    absl::StatusOr<std::unique_ptr<Signer>> signer = Signer::Create(options);
    ASSERT_THAT(signer, IsOk());
    EXPECT_EQ((*signer)->PublicJwksJson(), *jwks_json);

    VerifierOptions vo;
    vo.issuer = "https://dev-idp.local";
    vo.audience = "datalab";
    vo.now = [] { return absl::FromUnixSeconds(1000); };
    absl::StatusOr<std::unique_ptr<Verifier>> verifier = Verifier::Create(vo, *jwks);
    ASSERT_THAT(verifier, IsOk());
    json claims = {{"iss", "https://dev-idp.local"}, {"aud", "datalab"},
                   {"sub", "dev-user"},             {"exp", 2000}};
    absl::StatusOr<std::string> token = (*signer)->Sign(claims);
    ASSERT_THAT(token, IsOk());
    EXPECT_THAT((*verifier)->Verify(*token), IsOk());
  }
}

TEST(SignerTest, RejectsBadKeysAndOptions) {
  SignerOptions options;
  options.kid = "k";
  options.private_key_pem = "not a pem";
  EXPECT_THAT(Signer::Create(options), StatusIs(absl::StatusCode::kInvalidArgument));
  options.private_key_pem = "";
  EXPECT_THAT(Signer::Create(options), StatusIs(absl::StatusCode::kInvalidArgument));

  options.private_key_pem =
      PemOf(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(1024)));
  EXPECT_THAT(Signer::Create(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("2048")));
  options.private_key_pem = PemOf(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"));
  EXPECT_THAT(Signer::Create(options), StatusIs(absl::StatusCode::kInvalidArgument));
  options.private_key_pem = PemOf(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  EXPECT_THAT(Signer::Create(options), StatusIs(absl::StatusCode::kInvalidArgument));

  options.private_key_pem = *GeneratePrivateKeyPem(Algorithm::kEs256);
  options.alg = Algorithm::kRs256;
  EXPECT_THAT(Signer::Create(options), StatusIs(absl::StatusCode::kInvalidArgument));
  options.alg.reset();
  options.kid = "../x";
  EXPECT_THAT(Signer::Create(options), StatusIs(absl::StatusCode::kInvalidArgument));
  options.kid = "";
  EXPECT_THAT(Signer::Create(options), StatusIs(absl::StatusCode::kInvalidArgument));
  options.kid = "ok";
  ASSERT_THAT(Signer::Create(options), IsOk());
  EXPECT_THAT((*Signer::Create(options))->Sign(json::array()),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT((*Signer::Create(options))->Sign(json{{"x", "\xff"}}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace datalab::jwt
