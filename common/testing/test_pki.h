// Test-only PKI made in memory with OpenSSL: a CA and leaf certificates with
// a chosen common name, optionally expired or from another CA. Tests write
// them to a TempDir and start real TLS servers on loopback with them.
#ifndef DATALAB_COMMON_TESTING_TEST_PKI_H_
#define DATALAB_COMMON_TESTING_TEST_PKI_H_

#include <memory>
#include <string>

namespace datalab::testing {

struct PemPair {
  std::string cert;
  std::string key;
};

class TestCa {
 public:
  // A fresh self-signed EC P-256 CA named `name`.
  explicit TestCa(const std::string& name = "datalab test CA");
  ~TestCa();
  TestCa(const TestCa&) = delete;
  TestCa& operator=(const TestCa&) = delete;

  const std::string& cert_pem() const { return ca_cert_pem_; }
  // A leaf with CN=common_name and SANs DNS:localhost, DNS:<common_name>,
  // IP:127.0.0.1. `expired` makes it valid only in the past.
  PemPair Issue(const std::string& common_name, bool expired = false) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string ca_cert_pem_;
};

// Writes `content` to `path` (mode 0600), aborting the test binary on failure.
void WriteFileOrDie(const std::string& path, const std::string& content);

}  // namespace datalab::testing

#endif  // DATALAB_COMMON_TESTING_TEST_PKI_H_
