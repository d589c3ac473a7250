#include "services/query/sdc/rounding.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstring>

#include "absl/status/status.h"

namespace datalab::sdc {
namespace {
constexpr char kDomain[] = "datalab-sdc-rounding-v1";
}  // namespace

absl::StatusOr<std::unique_ptr<KeyedRounder>> KeyedRounder::Create(
    std::string key, int base) {
  if (key.size() < 32) {
    return absl::InvalidArgumentError("rounding: key must be at least 32 bytes");
  }
  if (base < 1) return absl::InvalidArgumentError("rounding: base must be >= 1");
  return std::unique_ptr<KeyedRounder>(new KeyedRounder(std::move(key), base));
}

uint64_t KeyedRounder::Coin(int64_t value, const SubjectSet& population) const {
  std::string msg(kDomain, sizeof(kDomain));  // includes the NUL separator
  for (int i = 0; i < 8; ++i) {
    msg.push_back(static_cast<char>((static_cast<uint64_t>(value) >> (8 * i)) & 0xff));
  }
  msg += population.Serialize();
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  // HMAC() (one-shot) is not deprecated in OpenSSL 3 and cannot fail for
  // SHA-256 with valid buffers; a null return would be an OpenSSL bug, and
  // the all-zero coin then simply rounds down.
  if (HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
           reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), mac,
           &mac_len) == nullptr) {
    return 0;
  }
  uint64_t coin;
  std::memcpy(&coin, mac, sizeof(coin));
  OPENSSL_cleanse(mac, sizeof(mac));
  return coin;
}

int64_t KeyedRounder::Round(int64_t value, const SubjectSet& population) const {
  if (base_ == 1 || value < 0) return value;
  const int64_t r = value % base_;
  if (r == 0) return value;
  const uint64_t u = Coin(value, population) % static_cast<uint64_t>(base_);
  const int64_t down = value - r;
  return u < static_cast<uint64_t>(r) ? down + base_ : down;
}

}  // namespace datalab::sdc
