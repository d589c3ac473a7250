// Structured JSON logging, one object per line on stderr:
//   {"ts":"2026-11-23T08:00:00.123Z","level":"info","svc":"audit","msg":"listening","port":"50051"}
//
// A small stand-in for absl/log (absent from Abseil 20220623). Fields are
// key/value strings; values are JSON-escaped. Never pass pupil data,
// identifiers, keys or tokens: log resource names, counts and codes only.
// Thread-safe: each line is written with a single write(2).
#ifndef DATALAB_COMMON_LOG_LOG_H_
#define DATALAB_COMMON_LOG_LOG_H_

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace datalab::log {

enum class Level { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Process-wide settings, set once from main() before threads start.
void SetServiceName(std::string_view name);
void SetMinLevel(Level level);
Level MinLevel();

using Field = std::pair<std::string_view, std::string>;

// Formats one log line (without the trailing newline). Exposed for tests.
std::string Format(Level level, std::string_view msg,
                   std::initializer_list<Field> fields);

void Write(Level level, std::string_view msg,
           std::initializer_list<Field> fields = {});

inline void Debug(std::string_view m, std::initializer_list<Field> f = {}) { Write(Level::kDebug, m, f); }
inline void Info(std::string_view m, std::initializer_list<Field> f = {}) { Write(Level::kInfo, m, f); }
inline void Warning(std::string_view m, std::initializer_list<Field> f = {}) { Write(Level::kWarning, m, f); }
inline void Error(std::string_view m, std::initializer_list<Field> f = {}) { Write(Level::kError, m, f); }

// JSON string escaping (RFC 8259), exposed for reuse.
std::string JsonEscape(std::string_view s);

}  // namespace datalab::log

#endif  // DATALAB_COMMON_LOG_LOG_H_
