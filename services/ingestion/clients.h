// gRPC adapters for the ingestion domain's collaborators, over the generated
// StubInterfaces (tests pass stubs of in-process fake services).
//
//   GrpcCatalogue      CatalogueService GetDataset / GetSchema /
//                      RegisterDatasetVersion
//   GrpcPseudonymiser  PseudonymisationService.Pseudonymise, identifiers sent
//                      in messages of at most `max_per_call` (default 20,000,
//                      well inside the 16 MiB message limit)
//   GrpcVersionStore   QueryService.WriteDatasetVersion client stream
//
// Each call has a deadline; errors come back as absl::Status with the
// callee's code and a message naming the callee (never any data).
// Thread safety: the adapters are thread-safe; a VersionWriter is used by
// one thread.
#ifndef DATALAB_SERVICES_INGESTION_CLIENTS_H_
#define DATALAB_SERVICES_INGESTION_CLIENTS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "datalab/catalogue/v1/catalogue.grpc.pb.h"
#include "datalab/pseudonymisation/v1/pseudonymisation.grpc.pb.h"
#include "datalab/query/v1/query.grpc.pb.h"
#include "services/ingestion/ingestion.h"

namespace datalab::ingestion {

class GrpcCatalogue : public CatalogueApi {
 public:
  explicit GrpcCatalogue(std::shared_ptr<catalogue::v1::CatalogueService::StubInterface> stub,
                         absl::Duration deadline = absl::Seconds(30))
      : stub_(std::move(stub)), deadline_(deadline) {}
  absl::StatusOr<catalogue::v1::Dataset> GetDataset(const std::string& name) override;
  absl::StatusOr<catalogue::v1::Schema> GetSchema(const std::string& name) override;
  absl::StatusOr<catalogue::v1::DatasetVersion> RegisterDatasetVersion(
      const catalogue::v1::RegisterDatasetVersionRequest& request) override;

 private:
  std::shared_ptr<catalogue::v1::CatalogueService::StubInterface> stub_;
  absl::Duration deadline_;
};

// Adds one packed PseudonymiseResponse, answering identifiers [start,
// start + n) of a batch, to `out`. INTERNAL (nothing added) when the answer
// does not fit: wrong size, a width unlike the earlier answers', an error
// index outside the call.
absl::Status AppendPackedAnswer(const pseudonymisation::v1::PseudonymiseResponse& resp,
                                size_t start, size_t n, PseudonymBatch* out);
// Puts `out->errors` in index order; INTERNAL when an identifier has two.
absl::Status SortPackedErrors(PseudonymBatch* out);

class GrpcPseudonymiser : public Pseudonymiser {
 public:
  explicit GrpcPseudonymiser(
      std::shared_ptr<pseudonymisation::v1::PseudonymisationService::StubInterface> stub,
      size_t max_per_call = 20000, absl::Duration deadline = absl::Seconds(60))
      : stub_(std::move(stub)), max_per_call_(max_per_call), deadline_(deadline) {}
  absl::Status Pseudonymise(const std::string& domain, const std::string& job,
                            const std::vector<std::string_view>& identifiers,
                            PseudonymBatch* out) override;

 private:
  std::shared_ptr<pseudonymisation::v1::PseudonymisationService::StubInterface> stub_;
  size_t max_per_call_;
  absl::Duration deadline_;
};

class GrpcVersionStore : public VersionStore {
 public:
  explicit GrpcVersionStore(std::shared_ptr<query::v1::QueryService::StubInterface> stub,
                            absl::Duration deadline = absl::Hours(2))
      : stub_(std::move(stub)), deadline_(deadline) {}
  absl::StatusOr<std::unique_ptr<VersionWriter>> OpenWriter() override;
  absl::StatusOr<int32_t> LatestStoredVersion(const std::string& dataset) override;

 private:
  std::shared_ptr<query::v1::QueryService::StubInterface> stub_;
  absl::Duration deadline_;
};

}  // namespace datalab::ingestion

#endif  // DATALAB_SERVICES_INGESTION_CLIENTS_H_
