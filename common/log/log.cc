#include "common/log/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace datalab::log {
namespace {

std::atomic<int> g_min_level{static_cast<int>(Level::kInfo)};
std::string* g_service = new std::string("datalab");

const char* LevelName(Level l) {
  switch (l) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarning: return "warning";
    case Level::kError: return "error";
  }
  return "info";
}

}  // namespace

void SetServiceName(std::string_view name) { *g_service = std::string(name); }
void SetMinLevel(Level level) { g_min_level = static_cast<int>(level); }
Level MinLevel() { return static_cast<Level>(g_min_level.load()); }

std::string JsonEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

std::string Format(Level level, std::string_view msg,
                   std::initializer_list<Field> fields) {
  std::string line = absl::StrCat(
      "{\"ts\":\"",
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()),
      "\",\"level\":\"", LevelName(level), "\",\"svc\":\"",
      JsonEscape(*g_service), "\",\"msg\":\"", JsonEscape(msg), "\"");
  for (const auto& [k, v] : fields) {
    absl::StrAppend(&line, ",\"", JsonEscape(k), "\":\"", JsonEscape(v), "\"");
  }
  line += "}";
  return line;
}

void Write(Level level, std::string_view msg,
           std::initializer_list<Field> fields) {
  if (static_cast<int>(level) < g_min_level.load()) return;
  std::string line = Format(level, msg, fields);
  line += "\n";
  // One write(2) per line keeps concurrent lines whole.
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace datalab::log
