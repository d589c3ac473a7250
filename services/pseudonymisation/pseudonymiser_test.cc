// Known-answer tests of the pseudonym function (regression KATs computed
// once and frozen, one cross-checked against a direct OpenSSL HMAC call),
// the encoding, thread-local contexts, the dictionary test and project
// unlinkability.
#include "services/pseudonymisation/pseudonymiser.h"

#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/crypto/encoding.h"
#include "common/identifiers/upn.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace datalab::pseudonymisation {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::IsOkAndHolds;

// Fixed test key: bytes 0x00..0x1f.
std::string TestKey() {
  std::string k(32, '\0');
  for (int i = 0; i < 32; ++i) k[i] = static_cast<char>(i);
  return k;
}

std::shared_ptr<const Pseudonymiser> Make(const std::string& key) {
  auto p = Pseudonymiser::Create(key);
  EXPECT_THAT(p, IsOk());
  return *p;
}

std::string Encode16(const unsigned char* mac) {
  return crypto::Base32Encode(crypto::ByteView(mac, 16));
}

TEST(PseudonymiserTest, KnownAnswers) {
  auto p = Make(TestKey());
  // Computed once (and independently with Python hmac + base64.b32encode)
  // and frozen: a change here breaks
  // linkage with every dataset already loaded.
  EXPECT_THAT(p->Compute("B801200005001"), IsOkAndHolds("spupq3vgdg645duv42uz3e5p64"));
  EXPECT_THAT(p->Compute("9276308686"), IsOkAndHolds("ejlj55ywmur5i6nq3cdautce5i"));
  EXPECT_THAT(p->Compute("100000"), IsOkAndHolds("ifmhhzierbvvc4mmq32i2u7flm"));
  EXPECT_THAT(p->Compute("jane q public"), IsOkAndHolds("7iujkwokhup4t4ren3rgicp7je"));
}

TEST(PseudonymiserTest, MatchesDirectOpenSslHmac) {
  const std::string key = TestKey();
  const std::string id = "B801200005001";
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  ASSERT_NE(HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
                 reinterpret_cast<const unsigned char*>(id.data()), id.size(), mac, &len),
            nullptr);
  ASSERT_EQ(len, 32u);
  auto p = Make(key);
  EXPECT_THAT(p->Compute(id), IsOkAndHolds(Encode16(mac)));
}

TEST(PseudonymiserTest, EncodingMatchesBase32AndIsWellFormed) {
  std::string bytes(16, '\0');
  for (int round = 0; round < 200; ++round) {
    for (int i = 0; i < 16; ++i) bytes[i] = static_cast<char>((round * 37 + i * 101) & 0xff);
    char out[kPseudonymChars];
    EncodePseudonym(reinterpret_cast<const uint8_t*>(bytes.data()), out);
    const std::string s(out, kPseudonymChars);
    EXPECT_EQ(s, crypto::Base32Encode(bytes));
    EXPECT_TRUE(IsWellFormedPseudonym(s));
  }
  EXPECT_FALSE(IsWellFormedPseudonym(""));
  EXPECT_FALSE(IsWellFormedPseudonym(std::string(26, 'A')));       // upper case
  EXPECT_FALSE(IsWellFormedPseudonym(std::string(25, 'a')));       // short
  EXPECT_FALSE(IsWellFormedPseudonym(std::string(25, 'a') + "b"));  // non-zero tail bits
  EXPECT_FALSE(IsWellFormedPseudonym(std::string(25, 'a') + "1"));
}

TEST(PseudonymiserTest, StableAndKeyDependent) {
  auto a = Make(TestKey());
  std::string other = TestKey();
  other[0] = 'x';
  auto b = Make(other);
  EXPECT_EQ(*a->Compute("B801200005001"), *a->Compute("B801200005001"));
  EXPECT_NE(*a->Compute("B801200005001"), *b->Compute("B801200005001"));
  EXPECT_FALSE(Pseudonymiser::Create("short").ok());
}

TEST(PseudonymiserTest, ThreadsAgreeWithEachOther) {
  auto p = Make(TestKey());
  auto q = Make(std::string(32, 'q'));  // a second domain in the same threads
  std::vector<std::string> ids;
  for (int i = 0; i < 500; ++i) ids.push_back(*identifiers::MakeUpn(380, 4105, 20, i));
  std::vector<std::string> expected;
  for (const auto& id : ids) expected.push_back(*p->Compute(id));
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int round = 0; round < 5; ++round) {
        for (size_t i = 0; i < ids.size(); ++i) {
          if (*p->Compute(ids[i]) != expected[i]) ++mismatches;
          (void)q->Compute(ids[i]);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

// An attacker without the key hashes every UPN a school can issue (all
// years of allocation, all serials) with plain SHA-256 and with HMAC under
// an empty key: none of those values may equal a produced pseudonym.
TEST(PseudonymiserTest, DictionaryWithoutKeyFindsNothing) {
  auto p = Make(TestKey());
  std::set<std::string> pseudonyms;
  std::vector<std::string> upns;
  for (int year = 0; year < 100; year += 5) {
    for (int serial = 0; serial < 1000; ++serial) {
      upns.push_back(*identifiers::MakeUpn(380, 4105, year, serial));
    }
  }
  for (const auto& u : upns) pseudonyms.insert(*p->Compute(u));
  ASSERT_EQ(pseudonyms.size(), upns.size());  // no collisions either
  int hits = 0;
  for (const auto& u : upns) {
    unsigned char sha[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(u.data()), u.size(), sha);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    static const unsigned char kEmpty[1] = {0};
    HMAC(EVP_sha256(), kEmpty, 0, reinterpret_cast<const unsigned char*>(u.data()), u.size(),
         mac, &len);
    for (const std::string& guess :
         {Encode16(sha), Encode16(mac), crypto::Base32Encode(crypto::ByteView(sha, 32)),
          crypto::HexEncode(crypto::ByteView(sha, 16))}) {
      if (pseudonyms.count(guess)) ++hits;
    }
  }
  EXPECT_EQ(hits, 0);
}

TEST(ProjectDerivationTest, ProjectsAreUnlinkable) {
  auto p = Make(TestKey());
  const std::string domain_key(32, 'k');
  auto mac_for = [&](const std::string& project) {
    auto m = crypto::HmacSha256::Create(DeriveProjectKey(domain_key, project));
    EXPECT_THAT(m, IsOk());
    return std::move(*m);
  };
  auto a1 = mac_for("projects/attainment-gap");
  auto a2 = mac_for("projects/attainment-gap");
  auto b = mac_for("projects/absence");
  std::set<std::string> seen_a, seen_b;
  for (int i = 0; i < 200; ++i) {
    const std::string lab = *p->Compute(*identifiers::MakeUpn(380, 4105, 21, i));
    const std::string pa = *ProjectPseudonym(a1, lab);
    EXPECT_EQ(pa, *ProjectPseudonym(a2, lab));  // same project: same value
    const std::string pb = *ProjectPseudonym(b, lab);
    EXPECT_NE(pa, pb);                          // other project: different
    EXPECT_NE(pa, lab);
    EXPECT_TRUE(IsWellFormedPseudonym(pa));
    seen_a.insert(pa);
    seen_b.insert(pb);
  }
  // No value of one project's output appears in the other's.
  for (const auto& v : seen_a) EXPECT_EQ(seen_b.count(v), 0u);
  // Another key version derives another project key.
  auto other_version = crypto::HmacSha256::Create(DeriveProjectKey(std::string(32, 'j'),
                                                                   "projects/attainment-gap"));
  const std::string lab = *p->Compute("B801200005001");
  EXPECT_NE(*ProjectPseudonym(*other_version, lab), *ProjectPseudonym(a1, lab));
  EXPECT_NE(DeriveVaultKey(domain_key), DeriveProjectKey(domain_key, "projects/x"));
}

}  // namespace
}  // namespace datalab::pseudonymisation
