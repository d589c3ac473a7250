#include "services/audit/witness.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace datalab::audit {
namespace {

absl::Status WriteAll(int fd, const std::string& data, const std::string& path) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::UnavailableError(absl::StrCat("cannot write ", path));
    }
    off += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::optional<TreeHead>> FileTreeHeadWitness::Load() const {
  std::ifstream in(path_, std::ios::binary);
  if (!in) {
    if (!std::filesystem::exists(path_)) return std::optional<TreeHead>();
    return absl::UnavailableError(absl::StrCat("cannot read tree head witness ", path_));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto head = DecodeTreeHead(ss.str());
  if (!head.ok()) {
    return absl::DataLossError(absl::StrCat("tree head witness ", path_, " is corrupt"));
  }
  return std::optional<TreeHead>(*head);
}

absl::Status FileTreeHeadWitness::Store(const TreeHead& head) {
  absl::MutexLock l(&mu_);
  std::string tmp = path_ + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("cannot create ", tmp));
  absl::Status s = WriteAll(fd, EncodeTreeHead(head), tmp);
  if (s.ok() && ::fsync(fd) != 0) s = absl::UnavailableError(absl::StrCat("cannot fsync ", tmp));
  ::close(fd);
  if (!s.ok()) return s;
  if (::rename(tmp.c_str(), path_.c_str()) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot rename ", tmp));
  }
  std::string dir = std::filesystem::path(path_).parent_path().string();
  if (dir.empty()) dir = ".";
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<TreeHead>> MemoryTreeHeadWitness::Load() const {
  absl::MutexLock l(&mu_);
  return head_;
}

absl::Status MemoryTreeHeadWitness::Store(const TreeHead& head) {
  absl::MutexLock l(&mu_);
  head_ = head;
  return absl::OkStatus();
}

}  // namespace datalab::audit
