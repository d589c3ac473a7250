// Known-answer vectors for RFC 6962 Merkle trees, shared by this folder's
// tests: the 8-leaf reference tree used by google/certificate-transparency
// and transparency-dev/merkle (proof/verify_test.go), its roots for sizes
// 1..8, and inclusion and consistency proofs over it. Test-only.
#ifndef DATALAB_SERVICES_AUDIT_MERKLE_RFC6962_TEST_VECTORS_H_
#define DATALAB_SERVICES_AUDIT_MERKLE_RFC6962_TEST_VECTORS_H_

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "common/crypto/encoding.h"
#include "services/audit/merkle/merkle_hash.h"

namespace datalab::merkle::testvectors {

inline Hash H(const char* hex) {
  std::string raw = *crypto::HexDecode(hex);
  Hash h{};
  std::copy(raw.begin(), raw.end(), h.begin());
  return h;
}

inline std::vector<std::string> Leaves() {
  return {"",
          *crypto::HexDecode("00"),
          *crypto::HexDecode("10"),
          *crypto::HexDecode("2021"),
          *crypto::HexDecode("3031"),
          *crypto::HexDecode("40414243"),
          *crypto::HexDecode("5051525354555657"),
          *crypto::HexDecode("606162636465666768696a6b6c6d6e6f")};
}

// Roots()[s - 1] is MTH of the first s leaves.
inline std::vector<Hash> Roots() {
  return {H("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
          H("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
          H("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
          H("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
          H("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
          H("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
          H("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
          H("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")};
}

struct InclusionVector {
  uint64_t index;  // 0-based
  uint64_t size;
  std::vector<Hash> proof;
};

inline std::vector<InclusionVector> InclusionVectors() {
  return {
      {0, 1, {}},
      {0, 8,
       {H("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
        H("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        H("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")}},
      {5, 8,
       {H("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        H("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
        H("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")}},
      {2, 3,
       {H("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")}},
      {1, 5,
       {H("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
        H("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        H("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")}},
  };
}

struct ConsistencyVector {
  uint64_t size1;
  uint64_t size2;
  std::vector<Hash> proof;
};

inline std::vector<ConsistencyVector> ConsistencyVectors() {
  return {
      {1, 1, {}},
      {1, 8,
       {H("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
        H("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        H("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")}},
      {6, 8,
       {H("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
        H("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
        H("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")}},
      {2, 5,
       {H("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        H("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")}},
      {6, 7,
       {H("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
        H("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
        H("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")}},
  };
}

}  // namespace datalab::merkle::testvectors

#endif  // DATALAB_SERVICES_AUDIT_MERKLE_RFC6962_TEST_VECTORS_H_
