#include "common/crypto/ed25519.h"

#include <string>
#include <thread>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "absl/strings/str_cat.h"
#include "common/crypto/encoding.h"
#include "common/crypto/testdata/rfc8032_ed25519_vectors.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace datalab::crypto {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

std::string Unhex(std::string_view h) { return *HexDecode(h); }

using testdata::kPub1;
using testdata::kPub2;
using testdata::kSeed1;
using testdata::kSeed2;
using testdata::kSig1;
using testdata::kSig2;

// PEM built by hand from the DER prefixes for Ed25519 (RFC 8410), so the
// parsers are tested against bytes this library did not produce.
std::string PemBegin(const std::string& label) {
  return absl::StrCat("-----BEGIN ", label, "-----");
}
std::string Pem(const std::string& label, const std::string& der) {
  return absl::StrCat(PemBegin(label), "\n", Base64Encode(der), "\n-----END ", label, "-----\n");
}
std::string Pkcs8Pem(const std::string& oid_last, const std::string& seed_hex) {
  return Pem("PRIVATE KEY",
             Unhex(absl::StrCat("302e020100300506032b65", oid_last, "04220420", seed_hex)));
}
std::string SpkiPem(const std::string& oid_last, const std::string& pub_hex) {
  return Pem("PUBLIC KEY",
             Unhex(absl::StrCat("302a300506032b65", oid_last, "032100", pub_hex)));
}

TEST(Ed25519, Rfc8032Vectors) {
  struct Case { const char* seed; const char* pub; std::string msg; const char* sig; };
  for (const Case& c : {Case{kSeed1, kPub1, "", kSig1},
                        Case{kSeed2, kPub2, "\x72", kSig2}}) {
    absl::StatusOr<Ed25519PrivateKey> priv = Ed25519PrivateKey::FromSeed(Unhex(c.seed));
    ASSERT_THAT(priv, IsOk());
    absl::StatusOr<Ed25519PublicKey> pub = priv->PublicKey();
    ASSERT_THAT(pub, IsOk());
    EXPECT_EQ(HexEncode(pub->Raw()), c.pub);
    absl::StatusOr<Ed25519Signature> sig = priv->Sign(c.msg);
    ASSERT_THAT(sig, IsOk());
    EXPECT_EQ(HexEncode(*sig), c.sig);  // Ed25519 is deterministic

    absl::StatusOr<Ed25519PublicKey> raw_pub = Ed25519PublicKey::FromRaw(Unhex(c.pub));
    ASSERT_THAT(raw_pub, IsOk());
    EXPECT_THAT(raw_pub->Verify(c.msg, Unhex(c.sig)), IsOk());
    EXPECT_THAT(Ed25519Verify(*raw_pub, c.msg, Unhex(c.sig)), IsOk());
    absl::StatusOr<SecureBytes> seed = priv->Seed();
    ASSERT_THAT(seed, IsOk());
    EXPECT_EQ(HexEncode(*seed), c.seed);
  }
}

TEST(Ed25519, LoadsHandMadePemAndExportsTheSame) {
  absl::StatusOr<Ed25519PrivateKey> priv =
      Ed25519PrivateKey::FromPem(Pkcs8Pem("70", kSeed1));
  ASSERT_THAT(priv, IsOk());
  absl::StatusOr<Ed25519Signature> sig = priv->Sign("");
  ASSERT_THAT(sig, IsOk());
  EXPECT_EQ(HexEncode(*sig), kSig1);
  absl::StatusOr<SecureBytes> pem = priv->ToPem();
  ASSERT_THAT(pem, IsOk());
  EXPECT_EQ(pem->AsStringView(), Pkcs8Pem("70", kSeed1));

  absl::StatusOr<Ed25519PublicKey> pub = Ed25519PublicKey::FromPem(SpkiPem("70", kPub1));
  ASSERT_THAT(pub, IsOk());
  EXPECT_EQ(HexEncode(pub->Raw()), kPub1);
  EXPECT_THAT(pub->Verify("", Unhex(kSig1)), IsOk());
  absl::StatusOr<std::string> pub_pem = pub->ToPem();
  ASSERT_THAT(pub_pem, IsOk());
  EXPECT_EQ(*pub_pem, SpkiPem("70", kPub1));
}

TEST(Ed25519, GenerateSignVerifyAndPemRoundTrip) {
  absl::StatusOr<Ed25519PrivateKey> priv = Ed25519PrivateKey::Generate();
  ASSERT_THAT(priv, IsOk());
  absl::StatusOr<Ed25519PrivateKey> other = Ed25519PrivateKey::Generate();
  ASSERT_THAT(other, IsOk());
  EXPECT_NE(HexEncode(*priv->Seed()), HexEncode(*other->Seed()));

  absl::StatusOr<SecureBytes> pem = priv->ToPem();
  ASSERT_THAT(pem, IsOk());
  EXPECT_THAT(std::string(pem->AsStringView()), StartsWith(PemBegin("PRIVATE KEY")));
  absl::StatusOr<Ed25519PrivateKey> reloaded =
      Ed25519PrivateKey::FromPem(pem->AsStringView());
  ASSERT_THAT(reloaded, IsOk());
  absl::StatusOr<Ed25519PublicKey> pub = priv->PublicKey();
  ASSERT_THAT(pub, IsOk());
  absl::StatusOr<std::string> pub_pem = pub->ToPem();
  ASSERT_THAT(pub_pem, IsOk());
  absl::StatusOr<Ed25519PublicKey> pub2 = Ed25519PublicKey::FromPem(*pub_pem);
  ASSERT_THAT(pub2, IsOk());
  EXPECT_EQ(pub2->Raw(), pub->Raw());

  absl::StatusOr<Ed25519Signature> sig = reloaded->Sign("tree head 42");
  ASSERT_THAT(sig, IsOk());
  EXPECT_THAT(pub2->Verify("tree head 42", *sig), IsOk());
}

TEST(Ed25519, RejectsBadSignatures) {
  absl::StatusOr<Ed25519PublicKey> pub = Ed25519PublicKey::FromRaw(Unhex(kPub1));
  ASSERT_THAT(pub, IsOk());
  const std::string sig = Unhex(kSig1);
  const auto kFail = StatusIs(absl::StatusCode::kUnauthenticated,
                              "signature verification failed");
  EXPECT_THAT(pub->Verify("x", sig), kFail);  // other message
  for (size_t i = 0; i < sig.size(); i += 7) {
    std::string bad = sig;
    bad[i] = static_cast<char>(bad[i] ^ 1);
    EXPECT_THAT(pub->Verify("", bad), kFail) << "byte " << i;
  }
  absl::StatusOr<Ed25519PublicKey> other = Ed25519PublicKey::FromRaw(Unhex(kPub2));
  ASSERT_THAT(other, IsOk());
  EXPECT_THAT(other->Verify("", sig), kFail);  // other key
  EXPECT_THAT(pub->Verify("", sig.substr(0, 63)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(pub->Verify("", sig + "x"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(Ed25519, RejectsMalformedKeys) {
  const auto kInvalid = StatusIs(absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Ed25519PrivateKey::FromSeed(std::string(31, 's')), kInvalid);
  EXPECT_THAT(Ed25519PublicKey::FromRaw(std::string(33, 'p')), kInvalid);
  EXPECT_THAT(Ed25519PrivateKey::FromPem(""), kInvalid);
  EXPECT_THAT(Ed25519PrivateKey::FromPem("not a pem"), kInvalid);
  EXPECT_THAT(Ed25519PublicKey::FromPem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
              kInvalid);
  // A public key where a private one is expected and vice versa.
  EXPECT_THAT(Ed25519PrivateKey::FromPem(SpkiPem("70", kPub1)), kInvalid);
  EXPECT_THAT(Ed25519PublicKey::FromPem(Pkcs8Pem("70", kSeed1)), kInvalid);
  // Well-formed X25519 keys (OID 1.3.101.110) are the wrong algorithm.
  EXPECT_THAT(Ed25519PrivateKey::FromPem(Pkcs8Pem("6e", kSeed1)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not an Ed25519")));
  EXPECT_THAT(Ed25519PublicKey::FromPem(SpkiPem("6e", kPub1)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not an Ed25519")));
}

TEST(Ed25519, EncryptedPemIsRejectedWithoutPrompting) {
  absl::StatusOr<Ed25519PrivateKey> priv = Ed25519PrivateKey::FromSeed(Unhex(kSeed1));
  ASSERT_THAT(priv, IsOk());
  // Produce an encrypted PKCS#8 PEM with OpenSSL directly.
  EVP_PKEY* pkey = EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr,
      reinterpret_cast<const unsigned char*>(Unhex(kSeed1).data()), 32);
  ASSERT_NE(pkey, nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  char pass[] = "passphrase";
  ASSERT_EQ(PEM_write_bio_PKCS8PrivateKey(bio, pkey, EVP_aes_256_cbc(), pass,
                                          sizeof(pass) - 1, nullptr, nullptr), 1);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string encrypted(data, static_cast<size_t>(len));
  BIO_free(bio);
  EVP_PKEY_free(pkey);
  ASSERT_THAT(encrypted, HasSubstr("ENCRYPTED PRIVATE KEY"));
  absl::Status s = Ed25519PrivateKey::FromPem(encrypted).status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument));
  // The message names the problem, never the PEM body.
  EXPECT_THAT(std::string(s.message()), Not(HasSubstr("MII")));
}

TEST(Ed25519, CopiesShareKeyAndSignConcurrently) {
  absl::StatusOr<Ed25519PrivateKey> priv = Ed25519PrivateKey::FromSeed(Unhex(kSeed1));
  ASSERT_THAT(priv, IsOk());
  Ed25519PrivateKey copy = *priv;
  absl::StatusOr<Ed25519PublicKey> pub = copy.PublicKey();
  ASSERT_THAT(pub, IsOk());
  Ed25519PublicKey pub_copy = *pub;
  bool ok1 = true, ok2 = true;
  auto work = [&](bool* ok) {
    for (int i = 0; i < 200; ++i) {
      std::string msg = absl::StrCat("checkpoint ", i);
      absl::StatusOr<Ed25519Signature> sig = priv->Sign(msg);
      if (!sig.ok() || !pub_copy.Verify(msg, *sig).ok()) *ok = false;
    }
  };
  std::thread t1(work, &ok1), t2(work, &ok2);
  t1.join();
  t2.join();
  EXPECT_TRUE(ok1);
  EXPECT_TRUE(ok2);
}

TEST(Ed25519, MovedFromKeysFailCleanly) {
  absl::StatusOr<Ed25519PrivateKey> priv = Ed25519PrivateKey::Generate();
  ASSERT_THAT(priv, IsOk());
  Ed25519PrivateKey moved = std::move(*priv);
  // NOLINTNEXTLINE(bugprone-use-after-move): tested contract
  EXPECT_THAT(priv->Sign("x"), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(priv->ToPem(), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(moved.Sign("x"), IsOk());
}

}  // namespace
}  // namespace datalab::crypto
