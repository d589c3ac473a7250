#include "common/csv/header_matcher.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/csv/string_util.h"

namespace datalab::csv {
namespace {

// Length of the whitespace sequence at s[i] (ASCII whitespace, U+00A0
// no-break space, U+FEFF stray BOM), or 0.
size_t WhitespaceAt(std::string_view s, size_t i) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
      c == '\f') {
    return 1;
  }
  if (c == 0xC2 && i + 1 < s.size() &&
      static_cast<unsigned char>(s[i + 1]) == 0xA0) {
    return 2;
  }
  if (c == 0xEF && i + 2 < s.size() &&
      static_cast<unsigned char>(s[i + 1]) == 0xBB &&
      static_cast<unsigned char>(s[i + 2]) == 0xBF) {
    return 3;
  }
  return 0;
}

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// Removes one trailing footnote marker from a normalised header. Returns
// true when something was removed.
bool StripOneFootnote(std::string* s) {
  std::string_view v = *s;
  size_t cut = std::string_view::npos;
  if (absl::EndsWith(internal::ToAbsl(v), "*")) {
    cut = v.size() - 1;
  } else if (absl::EndsWith(internal::ToAbsl(v), "\xE2\x80\xA0") ||
             absl::EndsWith(internal::ToAbsl(v), "\xE2\x80\xA1")) {  // dagger, double dagger
    cut = v.size() - 3;
  } else if (absl::EndsWith(internal::ToAbsl(v), ")") || absl::EndsWith(internal::ToAbsl(v), "]")) {
    const char open = v.back() == ')' ? '(' : '[';
    const size_t o = v.rfind(open);
    if (o != std::string_view::npos) {
      std::string_view inner = v.substr(o + 1, v.size() - o - 2);
      if (absl::StartsWith(internal::ToAbsl(inner), "note")) inner.remove_prefix(4);
      inner = internal::StripWs(inner);
      if (AllDigits(inner) && inner.size() <= 3) cut = o;
    }
  } else {
    const size_t sp = v.rfind(' ');
    if (sp != std::string_view::npos) {
      std::string_view tail = v.substr(sp + 1);
      if (AllDigits(tail) && tail.size() <= 2) cut = sp;
    }
  }
  if (cut == std::string_view::npos || cut == 0) return false;
  s->resize(cut);
  while (!s->empty() && s->back() == ' ') s->pop_back();
  return true;
}

}  // namespace

std::string NormalizeHeader(std::string_view raw,
                            const HeaderNormalizeOptions& options) {
  std::string out;
  out.reserve(raw.size());
  bool pending_space = false;
  for (size_t i = 0; i < raw.size();) {
    const size_t ws = WhitespaceAt(raw, i);
    if (ws > 0) {
      pending_space = !out.empty();
      i += ws;
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(absl::ascii_tolower(static_cast<unsigned char>(raw[i])));
    ++i;
  }
  if (options.strip_footnotes) {
    // "Total (7) *" has two markers; a bounded loop keeps "a 1 2 3" sane.
    for (int k = 0; k < 3 && StripOneFootnote(&out); ++k) {
    }
  }
  return out;
}

std::string HeaderKey(std::string_view raw,
                      const HeaderNormalizeOptions& options) {
  std::string norm = NormalizeHeader(raw, options);
  std::string key;
  key.reserve(norm.size());
  for (char c : norm) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (absl::ascii_isalnum(u) || u >= 0x80) key.push_back(c);
  }
  return key;
}

absl::StatusOr<std::unique_ptr<HeaderMatcher>> HeaderMatcher::Create(
    std::vector<ColumnSpec> columns, const HeaderNormalizeOptions& options) {
  std::unique_ptr<HeaderMatcher> m(
      new HeaderMatcher(std::move(columns), options));
  for (int i = 0; i < static_cast<int>(m->columns_.size()); ++i) {
    const ColumnSpec& col = m->columns_[i];
    if (HeaderKey(col.name, options).empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("schema column ", i + 1, " has an empty name"));
    }
    std::vector<std::string_view> spellings = {col.name};
    for (const auto& a : col.aliases) spellings.push_back(a);
    for (std::string_view s : spellings) {
      std::string key = HeaderKey(s, options);
      if (key.empty()) continue;
      auto [it, inserted] = m->by_key_.emplace(key, i);
      if (!inserted && it->second != i) {
        return absl::InvalidArgumentError(absl::StrCat(
            "schema columns '", m->columns_[it->second].name, "' and '",
            col.name, "' both match headers like '", internal::ToAbsl(s), "'"));
      }
    }
  }
  return m;
}

HeaderMapping HeaderMatcher::Match(
    const std::vector<std::string_view>& headers) const {
  HeaderMapping m;
  m.column_for_field.assign(headers.size(), -1);
  m.field_for_column.assign(columns_.size(), -1);
  absl::flat_hash_map<std::string, int> seen;
  for (int i = 0; i < static_cast<int>(headers.size()); ++i) {
    std::string key = HeaderKey(headers[i], options_);
    if (key.empty()) {  // blank header cells (trailing commas) are unknown
      m.unknown_fields.push_back(i);
      continue;
    }
    if (!seen.emplace(key, i).second) {
      m.duplicate_fields.push_back(i);
      continue;
    }
    auto it = by_key_.find(key);
    if (it == by_key_.end()) {
      m.unknown_fields.push_back(i);
      continue;
    }
    if (m.field_for_column[it->second] != -1) {
      // Two different spellings of one column, e.g. "URN" and "urn_".
      m.duplicate_fields.push_back(i);
      continue;
    }
    m.field_for_column[it->second] = i;
    m.column_for_field[i] = it->second;
  }
  for (int c = 0; c < static_cast<int>(columns_.size()); ++c) {
    if (columns_[c].required && m.field_for_column[c] == -1) {
      m.missing_required.push_back(c);
    }
  }
  return m;
}

absl::Status HeaderMatcher::Check(const HeaderMapping& mapping,
                                  bool reject_unknown) const {
  std::vector<std::string> problems;
  auto positions = [](const std::vector<int>& v) {
    return absl::StrJoin(v, ", ", [](std::string* out, int i) {
      absl::StrAppend(out, i + 1);
    });
  };
  if (!mapping.missing_required.empty()) {
    problems.push_back(absl::StrCat(
        "missing required column(s): ",
        absl::StrJoin(mapping.missing_required, ", ",
                      [this](std::string* out, int c) {
                        absl::StrAppend(out, columns_[c].name);
                      })));
  }
  if (!mapping.duplicate_fields.empty()) {
    problems.push_back(absl::StrCat("duplicate header at column(s) ",
                                    positions(mapping.duplicate_fields)));
  }
  if (reject_unknown && !mapping.unknown_fields.empty()) {
    problems.push_back(absl::StrCat("unrecognised header at column(s) ",
                                    positions(mapping.unknown_fields)));
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("header row: ", absl::StrJoin(problems, "; ")));
}

}  // namespace datalab::csv
