// `datalab health`: asks every service of the lab whether it is SERVING,
// through each service's plaintext health port (the one Kubernetes probes
// use), and the gateway through its TLS endpoint.
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/server/tls.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tools/cli/cli.h"

namespace datalab::cli {
namespace {

constexpr const char* kServices[] = {"gateway", "catalogue", "ingestion",
                                     "pseudonymisation", "query", "audit"};

std::string Check(std::shared_ptr<grpc::Channel> channel, int deadline_ms) {
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(deadline_ms));
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  grpc::Status s = stub->Check(&ctx, req, &resp);
  if (!s.ok()) return absl::StrCat("DOWN (", s.error_message(), ")");
  return grpc::health::v1::HealthCheckResponse::ServingStatus_Name(resp.status());
}

int RunHealth(const Args& args, std::ostream& out, std::ostream& err) {
  auto env = LabEnv::Load(args);
  if (!env.ok()) return Fail(err, env.status());
  absl::StatusOr<int> timeout = args.GetInt("timeout-ms", 2000);
  if (!timeout.ok()) return Fail(err, timeout.status());
  const int deadline_ms = *timeout;
  bool all_serving = true;
  bool any = false;
  for (const char* svc : kServices) {
    std::string key = absl::StrCat("DATALAB_", absl::AsciiStrToUpper(svc), "_HEALTH");
    std::string addr = env->Var(key);
    if (addr.empty()) continue;
    any = true;
    std::string state =
        Check(grpc::CreateChannel(addr, grpc::InsecureChannelCredentials()), deadline_ms);
    all_serving &= state == "SERVING";
    out << absl::StrCat(svc, std::string(18 - std::string(svc).size(), ' '), state) << "\n";
  }
  if (!env->gateway.empty()) {
    auto ch = env->GatewayChannel();
    std::string state = ch.ok() ? Check(*ch, deadline_ms) : "DOWN (no TLS channel)";
    all_serving &= state == "SERVING";
    any = true;
    out << "gateway (TLS)     " << state << "\n";
  }
  if (!any) {
    return Fail(err, absl::UnavailableError(
                         "no lab found: run scripts/lab.sh up, or set DATALAB_ENV to its lab.env"));
  }
  return all_serving ? kOk : kUnhealthy;
}

}  // namespace

void RegisterHealthCommands(Registry& r) {
  r.Add({"health", "check that every service of the lab is serving",
         "usage: datalab health [--env FILE] [--timeout-ms N]\n"
         "Asks each service's health endpoint and the gateway's TLS endpoint.\n"
         "Exit code 0 when all are SERVING, 8 otherwise.",
         RunHealth});
}

}  // namespace datalab::cli
