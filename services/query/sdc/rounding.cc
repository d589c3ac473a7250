#include "services/query/sdc/rounding.h"

#include <cstring>
#include <functional>
#include <optional>

#include "absl/status/status.h"
#include "common/parallel/parallel_for.h"

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

namespace {

// The coin's message: domain || value (little endian) || population.
std::string CoinMessage(int64_t value, const SubjectSet& population) {
  std::string msg(kDomain, sizeof(kDomain));  // includes the NUL separator
  for (int i = 0; i < 8; ++i) {
    msg.push_back(static_cast<char>((static_cast<uint64_t>(value) >> (8 * i)) & 0xff));
  }
  msg += population.Serialize();
  return msg;
}

uint64_t CoinFrom(const absl::StatusOr<crypto::HmacSha256Mac>& mac) {
  // Computing a MAC with a keyed context cannot fail short of an OpenSSL
  // bug; the all-zero coin then simply rounds down.
  if (!mac.ok()) return 0;
  uint64_t coin;
  std::memcpy(&coin, mac->data(), sizeof(coin));
  return coin;
}

int64_t RoundBy(int64_t value, int base, const std::function<uint64_t()>& coin) {
  if (base == 1 || value < 0) return value;
  const int64_t r = value % base;
  if (r == 0) return value;
  const uint64_t u = coin() % static_cast<uint64_t>(base);
  const int64_t down = value - r;
  return u < static_cast<uint64_t>(r) ? down + base : down;
}

}  // namespace

uint64_t KeyedRounder::Coin(int64_t value, const SubjectSet& population) const {
  const std::string msg = CoinMessage(value, population);
  absl::MutexLock l(&mu_);
  return CoinFrom(mac_.Compute(msg));
}

int64_t KeyedRounder::Round(int64_t value, const SubjectSet& population) const {
  return RoundBy(value, base_, [&] { return Coin(value, population); });
}

int64_t KeyedRounder::RoundWith(int64_t value, const SubjectSet& population,
                                crypto::HmacSha256* mac) const {
  return RoundBy(value, base_, [&] { return CoinFrom(mac->Compute(CoinMessage(value, population))); });
}

std::vector<int64_t> KeyedRounder::RoundAll(absl::Span<const int64_t> values,
                                            absl::Span<const SubjectSet* const> populations,
                                            int threads) const {
  std::vector<int64_t> out(values.size());
  std::vector<std::optional<crypto::HmacSha256>> macs(parallel::Workers(threads, values.size()));
  {
    absl::MutexLock l(&mu_);
    for (auto& m : macs) {
      auto clone = mac_.Clone();
      if (clone.ok()) m = std::move(*clone);
    }
  }
  parallel::ParallelFor(threads, values.size(), [&](size_t w, size_t i) {
    out[i] = macs[w].has_value() ? RoundWith(values[i], *populations[i], &*macs[w])
                                 : Round(values[i], *populations[i]);
  });
  return out;
}

}  // namespace datalab::sdc
