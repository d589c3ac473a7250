#include "services/audit/verifier.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/crypto/ed25519.h"
#include "common/crypto/encoding.h"
#include "nlohmann/json.hpp"
#include "services/audit/merkle/compact_range.h"

namespace datalab::audit {

ExportVerifier::ExportVerifier(std::string public_key_raw)
    : public_key_raw_(std::move(public_key_raw)) {}

void ExportVerifier::BadEntry(uint64_t index, std::string why) {
  if (first_bad_entry_ >= 0) return;
  first_bad_entry_ = static_cast<int64_t>(index);
  entry_error_ = std::move(why);
}

void ExportVerifier::AddEntry(const ExportEntry& e) {
  const uint64_t expected = leaves_.size();
  if (first_bad_entry_ < 0 && e.index != expected) {
    BadEntry(expected, e.index > expected
                           ? absl::StrCat("entry ", expected, " is missing (next entry is ", e.index, ")")
                           : absl::StrCat("entry ", e.index, " is out of order or repeated after entry ",
                                          expected - 1));
  }
  merkle::Hash h{};
  if (e.entry.has_value() && !e.pruned) {
    h = merkle::LeafHash(*e.entry);
    if (e.leaf_hash.has_value() && *e.leaf_hash != h) {
      BadEntry(expected, absl::StrCat("entry ", expected, " does not match its stored leaf hash"));
    }
  } else if (e.pruned && e.leaf_hash.has_value()) {
    h = *e.leaf_hash;
    ++pruned_;
  } else {
    BadEntry(expected, absl::StrCat("entry ", expected, " has neither bytes nor a pruned leaf hash"));
  }
  leaves_.push_back(h);
}

void ExportVerifier::AddHead(const TreeHead& head) { heads_.push_back(head); }

VerifyReport ExportVerifier::Finish() {
  VerifyReport r;
  r.entries = leaves_.size();
  r.pruned_entries = pruned_;
  auto fail = [&](std::string why) {
    r.ok = false;
    if (r.error.empty()) r.error = std::move(why);
    return r;
  };
  auto key = crypto::Ed25519PublicKey::FromRaw(public_key_raw_);
  if (!key.ok()) return fail("the export's public key is not a 32-byte Ed25519 key");

  // With a bad entry, heads are only checked up to it (beyond it the leaf
  // positions are unreliable).
  const uint64_t usable =
      first_bad_entry_ >= 0 ? static_cast<uint64_t>(first_bad_entry_) : leaves_.size();
  merkle::CompactRange range;
  const TreeHead* prev = nullptr;
  for (size_t k = 0; k < heads_.size(); ++k) {
    const TreeHead& h = heads_[k];
    auto bad_head = [&](std::string why) {
      r.first_bad_head = static_cast<int64_t>(k);
      return fail(std::move(why));
    };
    if (!VerifyTreeHeadSignature(*key, h).ok()) {
      return bad_head(absl::StrCat("the signature of the head of size ", h.tree_size,
                                   " does not verify"));
    }
    if (prev != nullptr && (h.tree_size < prev->tree_size ||
                            h.timestamp_unix_ms < prev->timestamp_unix_ms)) {
      return bad_head(absl::StrCat("the head of size ", h.tree_size,
                                   " does not extend the previous head of size ", prev->tree_size,
                                   " (rollback)"));
    }
    if (h.tree_size > usable) {
      if (first_bad_entry_ >= 0) break;
      r.first_bad_index = static_cast<int64_t>(leaves_.size());
      return bad_head(absl::StrCat("the head of size ", h.tree_size, " covers entries from ",
                                   leaves_.size(), " that are missing from the export"));
    }
    while (range.size() < h.tree_size) range.Append(leaves_[range.size()]);
    if (range.Root() != h.root_hash) {
      const uint64_t from = prev != nullptr ? prev->tree_size : 0;
      r.first_bad_index = static_cast<int64_t>(from);
      return bad_head(absl::StrCat("an entry in [", from, ", ", h.tree_size,
                                   ") differs from the one signed in the head of size ",
                                   h.tree_size));
    }
    if (prev != nullptr && h.tree_size == prev->tree_size && h.root_hash != prev->root_hash) {
      return bad_head(absl::StrCat("two heads of size ", h.tree_size, " disagree"));
    }
    ++r.heads_verified;
    r.latest_head = h;
    prev = &h;
  }
  if (first_bad_entry_ >= 0) {
    r.first_bad_index = first_bad_entry_;
    return fail(entry_error_);
  }
  r.unverified_entries = leaves_.size() - (prev != nullptr ? prev->tree_size : 0);
  if (heads_.empty() && !leaves_.empty()) return fail("the export has no signed tree head");
  r.ok = true;
  return r;
}

namespace {

absl::StatusOr<merkle::Hash> HashFromHex(const std::string& hex) {
  auto raw = crypto::HexDecode(hex);
  if (!raw.ok() || raw->size() != 32) return absl::InvalidArgumentError("not a 32-byte hex hash");
  merkle::Hash h;
  std::copy(raw->begin(), raw->end(), h.begin());
  return h;
}

// Fast path for entry lines exactly as ExportEntryLine writes them (the
// bulk of an export); anything else goes through the JSON parser. Returns
// false when the line is not in that exact shape.
bool ParseEntryLineFast(std::string_view line, ExportEntry& e) {
  auto eat = [&](std::string_view lit) {
    if (line.substr(0, lit.size()) != lit) return false;
    line.remove_prefix(lit.size());
    return true;
  };
  auto string_value = [&](std::string_view& out) {
    size_t end = line.find('"');
    if (end == std::string_view::npos) return false;
    out = line.substr(0, end);
    if (out.find('\\') != std::string_view::npos) return false;
    line.remove_prefix(end + 1);
    return true;
  };
  if (!eat("{\"type\":\"entry\",\"index\":")) return false;
  uint64_t index = 0;
  size_t digits = 0;
  while (digits < line.size() && line[digits] >= '0' && line[digits] <= '9' && digits < 19) {
    index = index * 10 + static_cast<uint64_t>(line[digits] - '0');
    ++digits;
  }
  if (digits == 0) return false;
  line.remove_prefix(digits);
  e = ExportEntry();
  e.index = index;
  if (eat(",\"pruned\":true")) e.pruned = true;
  if (eat(",\"entry\":\"")) {
    std::string_view b64;
    if (!string_value(b64)) return false;
    auto raw = crypto::Base64Decode(b64);
    if (!raw.ok()) return false;
    e.entry = std::move(*raw);
  }
  if (eat(",\"leaf_hash\":\"")) {
    std::string_view hex;
    if (!string_value(hex)) return false;
    auto h = HashFromHex(std::string(hex));
    if (!h.ok()) return false;
    e.leaf_hash = *h;
  }
  return line == "}";
}

}  // namespace

VerifyReport VerifyJsonLines(std::istream& in) {
  std::optional<std::string> key;
  std::vector<ExportEntry> pending;  // only until the log line is seen
  std::optional<ExportVerifier> verifier;
  std::vector<TreeHead> heads;
  std::string line;
  uint64_t line_no = 0;
  auto parse_error = [&](const std::string& why) {
    VerifyReport r;
    r.error = absl::StrCat("line ", line_no, ": ", why);
    return r;
  };
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    if (ExportEntry fast; verifier.has_value() && ParseEntryLineFast(line, fast)) {
      verifier->AddEntry(fast);
      continue;
    }
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) return parse_error("not a JSON object");
    auto type_it = j.find("type");
    if (type_it == j.end() || !type_it->is_string()) return parse_error("missing \"type\"");
    const std::string type = type_it->get<std::string>();
    try {
      if (type == "log") {
        if (key.has_value()) return parse_error("a second \"log\" line");
        if (j.value("format", "") != kExportFormat) return parse_error("unknown export format");
        auto raw = crypto::Base64Decode(j.at("public_key").get<std::string>());
        if (!raw.ok()) return parse_error("public_key is not base64");
        key = *raw;
        verifier.emplace(*key);
        for (const ExportEntry& e : pending) verifier->AddEntry(e);
        pending.clear();
      } else if (type == "entry") {
        ExportEntry e;
        if (!j.contains("index") || !j.at("index").is_number_unsigned()) {
          return parse_error("index is not a non-negative integer");
        }
        e.index = j.at("index").get<uint64_t>();
        e.pruned = j.value("pruned", false);
        if (j.contains("entry")) {
          auto raw = crypto::Base64Decode(j.at("entry").get<std::string>());
          if (!raw.ok()) return parse_error("entry is not base64");
          e.entry = std::move(*raw);
        }
        if (j.contains("leaf_hash")) {
          auto h = HashFromHex(j.at("leaf_hash").get<std::string>());
          if (!h.ok()) return parse_error("leaf_hash is not a 32-byte hex hash");
          e.leaf_hash = *h;
        }
        if (verifier.has_value()) {
          verifier->AddEntry(e);
        } else {
          pending.push_back(std::move(e));
        }
      } else if (type == "head") {
        TreeHead h;
        if (!j.contains("tree_size") || !j.at("tree_size").is_number_unsigned()) {
          return parse_error("tree_size is not a non-negative integer");
        }
        if (!j.contains("timestamp_unix_ms") || !j.at("timestamp_unix_ms").is_number_integer()) {
          return parse_error("timestamp_unix_ms is not an integer");
        }
        h.tree_size = j.at("tree_size").get<uint64_t>();
        h.timestamp_unix_ms = j.at("timestamp_unix_ms").get<int64_t>();
        auto root = HashFromHex(j.at("root_hash").get<std::string>());
        if (!root.ok()) return parse_error("root_hash is not a 32-byte hex hash");
        h.root_hash = *root;
        auto sig = crypto::Base64Decode(j.at("signature").get<std::string>());
        if (!sig.ok()) return parse_error("signature is not base64");
        h.signature = *sig;
        h.key_id = j.value("key_id", "");
        heads.push_back(std::move(h));
      } else {
        return parse_error("unknown \"type\"");
      }
    } catch (const nlohmann::json::exception&) {
      return parse_error(absl::StrCat("a field of the ", type, " line is missing or mistyped"));
    }
  }
  if (!verifier.has_value()) return parse_error("the export has no \"log\" line");
  for (const TreeHead& h : heads) verifier->AddHead(h);
  return verifier->Finish();
}

std::string ExportHeaderLine(const std::string& public_key_raw, const std::string& key_id) {
  nlohmann::json j = {{"type", "log"},
                      {"format", kExportFormat},
                      {"public_key", crypto::Base64Encode(public_key_raw)},
                      {"key_id", key_id}};
  return j.dump();
}

std::string ExportEntryLine(const ExportEntry& e) {
  // Written by hand: this is the hot path of a million-entry export, and
  // every value is a number, base64 or hex (nothing to escape).
  std::string out = absl::StrCat("{\"type\":\"entry\",\"index\":", e.index);
  if (e.pruned) absl::StrAppend(&out, ",\"pruned\":true");
  if (e.entry.has_value() && !e.pruned) {
    absl::StrAppend(&out, ",\"entry\":\"", crypto::Base64Encode(*e.entry), "\"");
  }
  if (e.leaf_hash.has_value()) {
    absl::StrAppend(&out, ",\"leaf_hash\":\"", crypto::HexEncode(*e.leaf_hash), "\"");
  }
  out.push_back('}');
  return out;
}

std::string ExportHeadLine(const TreeHead& h) {
  nlohmann::json j = {{"type", "head"},
                      {"tree_size", h.tree_size},
                      {"timestamp_unix_ms", h.timestamp_unix_ms},
                      {"root_hash", crypto::HexEncode(h.root_hash)},
                      {"signature", crypto::Base64Encode(h.signature)},
                      {"key_id", h.key_id}};
  return j.dump();
}

std::string FormatReport(const VerifyReport& r) {
  if (r.ok) {
    return absl::StrCat("OK: ", r.entries, " entries (", r.pruned_entries, " pruned), ",
                        r.heads_verified, " signed heads verified",
                        r.latest_head.has_value()
                            ? absl::StrCat(", latest size ", r.latest_head->tree_size, " root ",
                                           merkle::HashToHex(r.latest_head->root_hash))
                            : std::string(),
                        r.unverified_entries > 0
                            ? absl::StrCat(", ", r.unverified_entries,
                                           " entries after the latest head are not covered")
                            : std::string());
  }
  return absl::StrCat("FAILED: ", r.error,
                      r.first_bad_index >= 0 ? absl::StrCat(" (first bad entry ", r.first_bad_index, ")")
                                             : std::string());
}

}  // namespace datalab::audit
