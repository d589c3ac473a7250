// datalab-gateway: the lab's only public endpoint. Wiring only.
#include <map>
#include <memory>

#include "absl/flags/flag.h"
#include "common/audit_client/audit_client.h"
#include "common/auth/identity_assertion.h"
#include "common/jwt/jwks.h"
#include "common/log/log.h"
#include "common/server/main_support.h"
#include "datalab/audit/v1/audit.pb.h"
#include "datalab/catalogue/v1/catalogue.pb.h"
#include "datalab/ingestion/v1/ingestion.pb.h"
#include "datalab/pseudonymisation/v1/pseudonymisation.pb.h"
#include "datalab/query/v1/query.pb.h"
#include "services/gateway/forwarder.h"
#include "services/gateway/gateway_service.h"
#include "services/gateway/jwt_authenticator.h"

ABSL_FLAG(std::string, jwks_file, "", "JWKS of the trust's identity provider (mounted secret/config)");
ABSL_FLAG(std::string, oidc_issuer, "", "expected token issuer (iss)");
ABSL_FLAG(std::string, oidc_audience, "datalab", "expected token audience (aud)");
ABSL_FLAG(std::string, roles_claim, "roles", "claim holding the lab roles (dotted path allowed)");
ABSL_FLAG(std::string, assertion_signing_key, "",
          "Ed25519 PEM key that signs identities forwarded to backends (mounted secret)");
ABSL_FLAG(std::string, catalogue_target, "", "catalogue service host:port");
ABSL_FLAG(std::string, ingestion_target, "", "ingestion service host:port");
ABSL_FLAG(std::string, pseudonymisation_target, "", "pseudonymisation service host:port");
ABSL_FLAG(std::string, query_target, "", "query service host:port");
ABSL_FLAG(std::string, audit_target_public, "", "audit service host:port for DPO reads");
ABSL_FLAG(std::string, audit_target, "", "audit service host:port for this gateway's own events");
ABSL_FLAG(double, rate_limit_per_second, 200, "sustained calls per second per user");
ABSL_FLAG(double, rate_limit_burst, 400, "burst of calls per user");
ABSL_FLAG(int, max_concurrent_queries, 4, "queries one user may run at once");
ABSL_FLAG(int, forward_threads, 1,
          "threads forwarding calls to the backends, each with its own completion queue. "
          "They share the process's one epoll set and hand calls to each other: on two "
          "shared cores 2 threads cost ~50% more CPU per call than 1, so scale out with "
          "replicas and raise this only for a gateway with several cores of its own");

namespace {

using datalab::server::ExitIfError;

// Generated descriptors sit in static libraries; touching one message per
// API keeps them linked, so the gateway knows every method's permission.
void LinkAllApis() {
  (void)datalab::catalogue::v1::Dataset::descriptor();
  (void)datalab::ingestion::v1::Job::descriptor();
  (void)datalab::query::v1::QueryResult::descriptor();
  (void)datalab::pseudonymisation::v1::Domain::descriptor();
  (void)datalab::audit::v1::SignedTreeHead::descriptor();
}

std::string Required(const absl::Flag<std::string>& flag, const char* name) {
  std::string v = absl::GetFlag(flag);
  if (v.empty()) ExitIfError(absl::InvalidArgumentError(std::string("--") + name + " is required"), "bad flags");
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  datalab::server::InitMain(argc, argv, "gateway",
                            "datalab-gateway: authenticated front door of the lab");
  LinkAllApis();

  auto jwks_text = datalab::server::ReadFileToString(Required(FLAGS_jwks_file, "jwks_file"));
  ExitIfError(jwks_text.status(), "cannot read JWKS");
  auto jwks = datalab::jwt::Jwks::Parse(*jwks_text);
  ExitIfError(jwks.status(), "invalid JWKS");
  datalab::jwt::Verifier::Options vo;
  vo.issuer = Required(FLAGS_oidc_issuer, "oidc_issuer");
  vo.audience = absl::GetFlag(FLAGS_oidc_audience);
  vo.roles_claim = absl::GetFlag(FLAGS_roles_claim);
  auto verifier = datalab::jwt::Verifier::Create(vo, *jwks);
  ExitIfError(verifier.status(), "invalid token settings");
  auto authenticator = std::make_shared<datalab::gateway::JwtAuthenticator>(std::move(*verifier));

  auto key_pem = datalab::server::ReadFileToString(
      Required(FLAGS_assertion_signing_key, "assertion_signing_key"));
  ExitIfError(key_pem.status(), "cannot read the assertion signing key");
  auto key = datalab::crypto::Ed25519PrivateKey::FromPem(*key_pem);
  ExitIfError(key.status(), "invalid assertion signing key");
  auto signer = std::make_shared<datalab::auth::AssertionSigner>(*key);

  datalab::server::TlsFiles tls = datalab::server::ClientTlsFromFlags();
  std::map<std::string, std::shared_ptr<grpc::Channel>> by_package;
  std::map<std::string, std::shared_ptr<grpc::Channel>> by_service;
  struct Route { const char* service; const char* package; const absl::Flag<std::string>* flag; const char* flag_name; };
  const Route routes[] = {
      {"catalogue", "datalab.catalogue.v1", &FLAGS_catalogue_target, "catalogue_target"},
      {"ingestion", "datalab.ingestion.v1", &FLAGS_ingestion_target, "ingestion_target"},
      {"pseudonymisation", "datalab.pseudonymisation.v1", &FLAGS_pseudonymisation_target, "pseudonymisation_target"},
      {"query", "datalab.query.v1", &FLAGS_query_target, "query_target"},
      {"audit", "datalab.audit.v1", &FLAGS_audit_target_public, "audit_target_public"},
  };
  for (const Route& r : routes) {
    auto channel = datalab::server::MakeChannel(Required(*r.flag, r.flag_name), tls);
    ExitIfError(channel.status(), "cannot create backend channel");
    by_package[r.package] = *channel;
    by_service[r.service] = *channel;
  }

  auto limiter = std::make_shared<datalab::gateway::RateLimiter>(datalab::gateway::RateLimitOptions{
      .calls_per_second = absl::GetFlag(FLAGS_rate_limit_per_second),
      .burst = absl::GetFlag(FLAGS_rate_limit_burst),
      .max_concurrent_queries = absl::GetFlag(FLAGS_max_concurrent_queries)});
  datalab::gateway::ForwarderOptions fo;
  fo.threads = absl::GetFlag(FLAGS_forward_threads);
  if (fo.threads < 1 || fo.threads > 256) {
    ExitIfError(absl::InvalidArgumentError("--forward_threads must be between 1 and 256"), "bad flags");
  }
  datalab::gateway::Forwarder forwarder(authenticator, signer, limiter, by_package, fo);
  datalab::gateway::GatewayService gateway_service(authenticator, by_service, "0.1.0");

  std::shared_ptr<datalab::audit_client::AuditClient> audit =
      datalab::server::AuditClientFromFlags(absl::GetFlag(FLAGS_audit_target), "gateway");

  auto server = datalab::server::Server::Start(
      datalab::server::ServerOptionsFromFlags("gateway"), {&gateway_service}, authenticator,
      datalab::server::AuditDenials(audit.get(), "gateway"), &forwarder);
  ExitIfError(server.status(), "cannot start");
  return datalab::server::ServeUntilSignal(**server);
}
