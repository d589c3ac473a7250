// Where tests find the source tree, the built binaries and ../shared.
// The environment (DATALAB_SOURCE_DIR, DATALAB_BIN_DIR, DATALAB_SHARED_DIR)
// wins; otherwise the paths compiled in by datalab_cc_test.
#ifndef DATALAB_COMMON_TESTING_PATHS_H_
#define DATALAB_COMMON_TESTING_PATHS_H_

#include <cstdlib>
#include <string>

namespace datalab::testing {

inline std::string EnvOr(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

#if defined(DATALAB_TEST_SOURCE_DIR)
inline std::string SourceDir() { return EnvOr("DATALAB_SOURCE_DIR", DATALAB_TEST_SOURCE_DIR); }
inline std::string BinDir() { return EnvOr("DATALAB_BIN_DIR", DATALAB_TEST_BIN_DIR); }
inline std::string SharedDir() { return EnvOr("DATALAB_SHARED_DIR", DATALAB_TEST_SHARED_DIR); }
#endif

}  // namespace datalab::testing

#endif  // DATALAB_COMMON_TESTING_PATHS_H_
