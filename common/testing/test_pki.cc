#include "common/testing/test_pki.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace datalab::testing {
namespace {

void Die(const char* what) {
  std::fprintf(stderr, "test_pki: %s failed\n", what);
  std::abort();
}

EVP_PKEY* NewKey() {
  EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (k == nullptr) Die("keygen");
  return k;
}

std::string CertPem(X509* x) {
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(b, x);
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  std::string s(data, n);
  BIO_free(b);
  return s;
}

std::string KeyPem(EVP_PKEY* k) {
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(b, k, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  std::string s(data, n);
  BIO_free(b);
  return s;
}

void AddExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) Die("extension");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

X509* NewCert(const std::string& cn, EVP_PKEY* key, long serial, long not_before_s,
              long not_after_s) {
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
  X509_gmtime_adj(X509_getm_notBefore(x), not_before_s);
  X509_gmtime_adj(X509_getm_notAfter(x), not_after_s);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  return x;
}

}  // namespace

struct TestCa::Impl {
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  ~Impl() {
    X509_free(cert);
    EVP_PKEY_free(key);
  }
};

TestCa::TestCa(const std::string& name) : impl_(std::make_unique<Impl>()) {
  impl_->key = NewKey();
  impl_->cert = NewCert(name, impl_->key, 1, -3600, 86400);
  X509_set_issuer_name(impl_->cert, X509_get_subject_name(impl_->cert));
  AddExt(impl_->cert, impl_->cert, NID_basic_constraints, "critical,CA:TRUE");
  AddExt(impl_->cert, impl_->cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  AddExt(impl_->cert, impl_->cert, NID_subject_key_identifier, "hash");
  if (X509_sign(impl_->cert, impl_->key, EVP_sha256()) == 0) Die("sign CA");
  ca_cert_pem_ = CertPem(impl_->cert);
}

TestCa::~TestCa() = default;

PemPair TestCa::Issue(const std::string& common_name, bool expired) const {
  static long serial = 100;
  EVP_PKEY* key = NewKey();
  X509* x = expired ? NewCert(common_name, key, ++serial, -7200, -3600)
                    : NewCert(common_name, key, ++serial, -3600, 86400);
  X509_set_issuer_name(x, X509_get_subject_name(impl_->cert));
  AddExt(x, impl_->cert, NID_basic_constraints, "critical,CA:FALSE");
  AddExt(x, impl_->cert, NID_key_usage, "critical,digitalSignature,keyEncipherment");
  AddExt(x, impl_->cert, NID_ext_key_usage, "serverAuth,clientAuth");
  std::string san = "DNS:localhost,DNS:" + common_name + ",IP:127.0.0.1";
  AddExt(x, impl_->cert, NID_subject_alt_name, san.c_str());
  if (X509_sign(x, impl_->key, EVP_sha256()) == 0) Die("sign leaf");
  PemPair out{CertPem(x), KeyPem(key)};
  X509_free(x);
  EVP_PKEY_free(key);
  return out;
}

void WriteFileOrDie(const std::string& path, const std::string& content) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) Die("open");
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n <= 0) Die("write");
    off += static_cast<size_t>(n);
  }
  ::close(fd);
}

}  // namespace datalab::testing
