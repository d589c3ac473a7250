// A unique directory under $TEST_TMPDIR (or /tmp), removed with everything in
// it when the object is destroyed. For tests that need real files on disk
// (RocksDB stores, PEM files, CSV extracts).
#ifndef DATALAB_COMMON_TESTING_TEMP_DIR_H_
#define DATALAB_COMMON_TESTING_TEMP_DIR_H_

#include <cstdlib>
#include <filesystem>
#include <string>

namespace datalab::testing {

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TEST_TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/datalab-test-XXXXXX";
    char* p = ::mkdtemp(tmpl.data());
    path_ = p ? p : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace datalab::testing

#endif  // DATALAB_COMMON_TESTING_TEMP_DIR_H_
