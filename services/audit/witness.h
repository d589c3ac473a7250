// TreeHeadWitness: remembers the latest tree head the service signed,
// OUTSIDE the audit store, so a store rolled back to an older state (a
// restored backup, a swapped volume, an edited database) is detected at
// startup: the store's tree must contain the witnessed head.
//
// FileTreeHeadWitness writes the head atomically (temp file, fsync, rename,
// fsync of the directory). Put it on a different volume from the store for
// the strongest guarantee; the DPO's own copies of signed heads (exports)
// are the external witness of last resort.
//
// Thread-safe.
#ifndef DATALAB_SERVICES_AUDIT_WITNESS_H_
#define DATALAB_SERVICES_AUDIT_WITNESS_H_

#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "services/audit/tree_head.h"

namespace datalab::audit {

class TreeHeadWitness {
 public:
  virtual ~TreeHeadWitness() = default;
  // nullopt when nothing was witnessed yet.
  virtual absl::StatusOr<std::optional<TreeHead>> Load() const = 0;
  // Durable when it returns OK.
  virtual absl::Status Store(const TreeHead& head) = 0;
};

class FileTreeHeadWitness : public TreeHeadWitness {
 public:
  explicit FileTreeHeadWitness(std::string path) : path_(std::move(path)) {}
  absl::StatusOr<std::optional<TreeHead>> Load() const override;
  absl::Status Store(const TreeHead& head) override;

 private:
  const std::string path_;
  absl::Mutex mu_;
};

class MemoryTreeHeadWitness : public TreeHeadWitness {
 public:
  absl::StatusOr<std::optional<TreeHead>> Load() const override;
  absl::Status Store(const TreeHead& head) override;

 private:
  mutable absl::Mutex mu_;
  std::optional<TreeHead> head_ ABSL_GUARDED_BY(mu_);
};

}  // namespace datalab::audit

#endif  // DATALAB_SERVICES_AUDIT_WITNESS_H_
