#include "common/auth/identity_assertion.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace datalab::auth {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::StatusIs;
namespace v1 = ::datalab::common::v1;

class AssertionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto k = crypto::Ed25519PrivateKey::Generate();
    ASSERT_THAT(k, IsOk());
    key_ = std::make_unique<crypto::Ed25519PrivateKey>(*k);
    auto pub = key_->PublicKey();
    ASSERT_THAT(pub, IsOk());
    verifier_ = std::make_shared<AssertionVerifier>(*pub, [this] { return now_; });
  }
  v1::Principal Alice() {
    v1::Principal p;
    p.set_kind(v1::Principal::USER);
    p.set_subject("users/alice");
    p.add_roles(v1::RESEARCHER);
    return p;
  }
  std::string Sign(const v1::Principal& p) {
    AssertionSigner signer(*key_, absl::Seconds(60), [this] { return now_; });
    auto t = signer.Sign(p);
    EXPECT_THAT(t, IsOk());
    return *t;
  }

  absl::Time now_ = absl::FromUnixSeconds(1'800'000'000);
  std::unique_ptr<crypto::Ed25519PrivateKey> key_;
  std::shared_ptr<AssertionVerifier> verifier_;
};

TEST_F(AssertionTest, RoundTrip) {
  auto p = verifier_->Verify(Sign(Alice()));
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->subject(), "users/alice");
  EXPECT_EQ(p->roles(0), v1::RESEARCHER);
}

TEST_F(AssertionTest, SameCallerReusesItsAssertionForHalfTheTtlOnly) {
  AssertionSigner signer(*key_, absl::Seconds(60), [this] { return now_; });
  const std::string first = *signer.Sign(Alice());
  now_ += absl::Seconds(29);
  EXPECT_EQ(*signer.Sign(Alice()), first);  // still 31 s of validity left
  v1::Principal with_request = Alice();
  with_request.set_request_id("req-1");
  EXPECT_NE(*signer.Sign(with_request), first);  // another principal
  v1::Principal bob = Alice();
  bob.set_subject("users/bob");
  EXPECT_NE(*signer.Sign(bob), first);
  now_ += absl::Seconds(2);
  const std::string renewed = *signer.Sign(Alice());
  EXPECT_NE(renewed, first);  // past half its ttl: signed again
  ASSERT_THAT(verifier_->Verify(renewed), IsOk());
  now_ += absl::Seconds(36);  // the first has expired (with 5 s skew); the renewed one has not
  EXPECT_THAT(verifier_->Verify(first), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(verifier_->Verify(renewed), IsOk());
}

TEST_F(AssertionTest, RejectsExpiredTamperedForeignAndMalformed) {
  std::string t = Sign(Alice());
  now_ += absl::Seconds(120);
  EXPECT_THAT(verifier_->Verify(t), StatusIs(absl::StatusCode::kUnauthenticated));
  now_ -= absl::Seconds(120);

  // Flip one payload character.
  std::string tampered = t;
  tampered[3] = tampered[3] == 'A' ? 'B' : 'A';
  EXPECT_THAT(verifier_->Verify(tampered), StatusIs(absl::StatusCode::kUnauthenticated));

  // Signed by another key.
  auto other = crypto::Ed25519PrivateKey::Generate();
  ASSERT_THAT(other, IsOk());
  AssertionSigner foreign(*other, absl::Seconds(60), [this] { return now_; });
  EXPECT_THAT(verifier_->Verify(*foreign.Sign(Alice())),
              StatusIs(absl::StatusCode::kUnauthenticated));

  for (std::string bad : std::vector<std::string>{"", ".", "abc", "a.b.c", std::string(5000, 'a')}) {
    EXPECT_THAT(verifier_->Verify(bad), StatusIs(absl::StatusCode::kUnauthenticated)) << bad;
  }
  // A service principal cannot be asserted.
  v1::Principal svc;
  svc.set_kind(v1::Principal::SERVICE);
  svc.set_subject("ingestion");
  EXPECT_THAT(verifier_->Verify(Sign(svc)), StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST_F(AssertionTest, ServiceAuthenticatorRules) {
  ServiceAuthenticator a(verifier_, [this] { return now_; });
  std::string t = Sign(Alice());
  CallInfo call;
  call.headers[kAssertionHeader] = t;
  // Only the gateway may forward a user.
  call.peer_common_name = "query";
  EXPECT_THAT(a.Authenticate(call), StatusIs(absl::StatusCode::kUnauthenticated));
  call.peer_common_name = "";
  EXPECT_THAT(a.Authenticate(call), StatusIs(absl::StatusCode::kUnauthenticated));
  call.peer_common_name = "gateway";
  auto p = a.Authenticate(call);
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->subject(), "users/alice");
  // Cached, and the cache honours expiry.
  EXPECT_THAT(a.Authenticate(call), IsOk());
  now_ += absl::Minutes(5);
  EXPECT_THAT(a.Authenticate(call), StatusIs(absl::StatusCode::kUnauthenticated));

  // Service identities from certificates.
  CallInfo svc;
  svc.peer_common_name = "ingestion";
  auto s = a.Authenticate(svc);
  ASSERT_THAT(s, IsOk());
  EXPECT_EQ(s->kind(), v1::Principal::SERVICE);
  svc.peer_common_name = "mallory";
  EXPECT_THAT(a.Authenticate(svc), StatusIs(absl::StatusCode::kUnauthenticated));
  // The gateway never acts as itself towards a backend.
  svc.peer_common_name = "gateway";
  EXPECT_THAT(a.Authenticate(svc), StatusIs(absl::StatusCode::kUnauthenticated));
  // A bearer token is not accepted by a backend.
  CallInfo bearer;
  bearer.headers[kAuthorizationHeader] = "Bearer x";
  EXPECT_THAT(a.Authenticate(bearer), StatusIs(absl::StatusCode::kUnauthenticated));
}

}  // namespace
}  // namespace datalab::auth
