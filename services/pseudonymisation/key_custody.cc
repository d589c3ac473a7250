#include "services/pseudonymisation/key_custody.h"

#include <openssl/crypto.h>

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/crypto/aead.h"
#include "common/crypto/encoding.h"
#include "common/crypto/sha256.h"
#include "common/status/status_macros.h"

namespace datalab::pseudonymisation {

absl::StatusOr<Kek> Kek::FromBytes(crypto::SecureBytes key) {
  if (key.size() != kKeySize) {
    return absl::InvalidArgumentError(
        absl::StrCat("key-encryption key must be 32 bytes, found ", key.size()));
  }
  std::string id = KekId(key.view());
  return Kek(std::move(key), std::move(id));
}

absl::StatusOr<Kek> Kek::FromBase64Text(std::string_view text) {
  absl::string_view trimmed =
      absl::StripAsciiWhitespace(absl::string_view(text.data(), text.size()));
  absl::StatusOr<crypto::SecureBytes> key =
      crypto::Base64DecodeSecret(std::string_view(trimmed.data(), trimmed.size()));
  if (!key.ok()) {
    return absl::InvalidArgumentError("key-encryption key is not valid base64 text");
  }
  return FromBytes(std::move(*key));
}

absl::StatusOr<Kek> Kek::FromFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read key-encryption key file ", path));
  std::ostringstream buf;
  buf << in.rdbuf();
  std::string content = buf.str();
  std::string* text = &content;
  absl::StatusOr<Kek> kek = FromBase64Text(*text);
  OPENSSL_cleanse(text->data(), text->size());
  if (!kek.ok()) {
    return absl::Status(kek.status().code(),
                        absl::StrCat(kek.status().message(), " (file ", path, ")"));
  }
  return kek;
}

std::string KekId(crypto::ByteView kek) {
  crypto::Sha256Digest d = crypto::Sha256(kek);
  return crypto::HexEncode(crypto::ByteView(d.data(), 8));
}

std::string KeyAad(std::string_view domain_name, int version) {
  return absl::StrCat("datalab.pseudonymisation.key|",
                      absl::string_view(domain_name.data(), domain_name.size()), "|", version);
}

absl::StatusOr<crypto::SecureBytes> NewDomainKey() { return crypto::RandomBytes(kKeySize); }

absl::StatusOr<v1::WrappedKey> WrapKey(const Kek& kek, crypto::ByteView key,
                                       std::string_view domain_name, int version,
                                       int64_t create_time_unix_ms) {
  if (key.size() != kKeySize) return absl::InvalidArgumentError("domain key must be 32 bytes");
  ASSIGN_OR_RETURN(std::string sealed,
                   crypto::Aead::Seal(kek.key(), key, KeyAad(domain_name, version)));
  v1::WrappedKey w;
  w.set_version(version);
  w.set_kek_id(kek.id());
  w.set_wrapped(std::move(sealed));
  w.set_create_time_unix_ms(create_time_unix_ms);
  return w;
}

absl::StatusOr<crypto::SecureBytes> UnwrapKey(const Kek& kek, const v1::WrappedKey& wrapped,
                                              std::string_view domain_name) {
  if (wrapped.kek_id() != kek.id()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "key ", wrapped.version(), " of ", absl::string_view(domain_name.data(), domain_name.size()),
        " is wrapped under KEK ", wrapped.kek_id(), ", not ", kek.id()));
  }
  absl::StatusOr<crypto::SecureBytes> key =
      crypto::Aead::Open(kek.key(), wrapped.wrapped(), KeyAad(domain_name, wrapped.version()));
  if (!key.ok()) {
    return absl::DataLossError(absl::StrCat(
        "key ", wrapped.version(), " of ", absl::string_view(domain_name.data(), domain_name.size()),
        " does not unwrap under KEK ", kek.id()));
  }
  if (key->size() != kKeySize) return absl::DataLossError("unwrapped key has the wrong size");
  return key;
}

}  // namespace datalab::pseudonymisation
