#include "services/query/sdc/rounding.h"

#include <openssl/crypto.h>

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
  auto mac = crypto::HmacSha256::Create(key);
  if (!mac.ok()) return mac.status();
  return std::unique_ptr<KeyedRounder>(new KeyedRounder(std::move(*mac), base));
}

uint64_t KeyedRounder::Coin(int64_t value, const SubjectSet& population) const {
  std::string msg(kDomain, sizeof(kDomain));  // includes the NUL separator
  for (int i = 0; i < 8; ++i) {
    msg.push_back(static_cast<char>((static_cast<uint64_t>(value) >> (8 * i)) & 0xff));
  }
  msg += population.Serialize();
  absl::StatusOr<crypto::HmacSha256Mac> mac;
  {
    absl::MutexLock l(&mu_);
    mac = mac_.Compute(msg);
  }
  // Computing a MAC with a keyed context cannot fail short of an OpenSSL
  // bug; the all-zero coin then simply rounds down.
  if (!mac.ok()) return 0;
  uint64_t coin;
  std::memcpy(&coin, mac->data(), sizeof(coin));
  OPENSSL_cleanse(mac->data(), mac->size());
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
