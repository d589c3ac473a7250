// Identity commands: `datalab login`, `logout`, `whoami`, and the dev
// identity provider of a local lab (`datalab dev init-idp|token|login`).
// Dev tokens are minted only against a lab started in dev mode
// (DATALAB_DEV=1 in its lab.env); a production gateway trusts only the
// trust's own identity provider, whose JWKS it is given.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/auth/policy.h"
#include "common/crypto/bytes.h"
#include "common/crypto/encoding.h"
#include "common/jwt/signer.h"
#include "common/server/tls.h"
#include "datalab/gateway/v1/gateway.grpc.pb.h"
#include "tools/cli/cli.h"

namespace datalab::cli {
namespace {

constexpr char kDevKid[] = "dev-1";

absl::Status WritePrivateFile(const std::string& path, const std::string& content) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return absl::UnknownError(absl::StrCat("cannot write ", path));
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n <= 0) {
      ::close(fd);
      return absl::UnknownError(absl::StrCat("cannot write ", path));
    }
    off += static_cast<size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::UnknownError(absl::StrCat("cannot write ", path));
  }
  return absl::OkStatus();
}

int InitIdp(const Args& args, std::ostream& out, std::ostream& err) {
  std::string dir = args.GetOr("dir", "");
  std::string issuer = args.GetOr("issuer", "");
  if (dir.empty() || issuer.empty()) {
    return Fail(err, UsageError("--dir and --issuer are required"));
  }
  auto pem = jwt::GeneratePrivateKeyPem(jwt::Algorithm::kEs256);
  if (!pem.ok()) return Fail(err, pem.status());
  auto jwks = jwt::PublicJwksFromPrivateKeyPem(*pem, kDevKid);
  if (!jwks.ok()) return Fail(err, jwks.status());
  for (auto [name, content] : {std::pair<std::string, std::string>{"signing.pem", *pem},
                               {"jwks.json", *jwks}, {"issuer", issuer + "\n"}}) {
    absl::Status s = WritePrivateFile(dir + "/" + name, content);
    if (!s.ok()) return Fail(err, s);
  }
  out << "dev identity provider in " << dir << " (issuer " << issuer << ")\n";
  return kOk;
}

// Mints a dev token for `subject` with `roles`.
absl::StatusOr<std::string> MintDevToken(const LabEnv& env, const std::string& subject,
                                         const std::vector<std::string>& roles, int ttl_seconds) {
  if (env.Var("DATALAB_DEV") != "1") {
    return absl::FailedPreconditionError(
        "dev tokens are only for a lab started in dev mode (scripts/lab.sh up); "
        "log in with your organisation's identity provider instead");
  }
  std::string dir = env.Var("DATALAB_DEV_IDP");
  auto pem = server::ReadFileToString(dir + "/signing.pem");
  if (!pem.ok()) return absl::FailedPreconditionError("the lab's dev identity provider is missing");
  if (subject.empty() || subject.size() > 64 || subject.find('/') != std::string::npos) {
    return UsageError("--subject must be 1-64 characters without '/'");
  }
  if (ttl_seconds <= 0 || ttl_seconds > 24 * 3600) {
    return UsageError("--ttl must be between 1 and 86400 seconds");
  }
  for (const auto& r : roles) {
    if (!auth::RoleFromClaim(r).ok()) {
      return UsageError(absl::StrCat(
          "unknown role '", r, "' (researcher, data_steward, project_approver, dpo, admin)"));
    }
  }
  jwt::SignerOptions so;
  so.private_key_pem = *pem;
  so.kid = kDevKid;
  auto signer = jwt::Signer::Create(so);
  if (!signer.ok()) return signer.status();
  absl::Time now = absl::Now();
  auto jti = crypto::RandomBytes(12);
  if (!jti.ok()) return jti.status();
  nlohmann::json claims = {
      {"iss", env.Var("DATALAB_OIDC_ISSUER")}, {"aud", env.Var("DATALAB_OIDC_AUDIENCE")},
      {"sub", subject}, {"roles", roles}, {"iat", absl::ToUnixSeconds(now)},
      {"nbf", absl::ToUnixSeconds(now)}, {"exp", absl::ToUnixSeconds(now) + ttl_seconds},
      {"jti", crypto::HexEncode(*jti)}};
  return (*signer)->Sign(claims);
}

std::vector<std::string> RolesArg(const Args& args) {
  std::vector<std::string> roles;
  for (absl::string_view r : absl::StrSplit(args.GetOr("role", ""), ',', absl::SkipEmpty())) {
    roles.emplace_back(absl::StripAsciiWhitespace(r));
  }
  return roles;
}

int DevToken(const Args& args, std::ostream& out, std::ostream& err) {
  auto env = LabEnv::Load(args);
  if (!env.ok()) return Fail(err, env.status());
  absl::StatusOr<int> ttl = args.GetInt("ttl", 3600);
  if (!ttl.ok()) return Fail(err, ttl.status());
  auto token = MintDevToken(*env, args.GetOr("subject", ""), RolesArg(args), *ttl);
  if (!token.ok()) return Fail(err, token.status());
  out << *token << "\n";
  return kOk;
}

int DevLogin(const Args& args, std::ostream& out, std::ostream& err) {
  auto env = LabEnv::Load(args);
  if (!env.ok()) return Fail(err, env.status());
  std::string subject = args.GetOr("subject", args.GetOr("as", ""));
  absl::StatusOr<int> ttl = args.GetInt("ttl", 28800);
  if (!ttl.ok()) return Fail(err, ttl.status());
  auto token = MintDevToken(*env, subject, RolesArg(args), *ttl);
  if (!token.ok()) return Fail(err, token.status());
  absl::Status s = WritePrivateFile(env->token_file, *token + "\n");
  if (!s.ok()) return Fail(err, s);
  out << "logged in as users/" << subject << " (" << args.GetOr("role", "") << ")\n";
  return kOk;
}

int Login(const Args& args, std::ostream& out, std::ostream& err) {
  auto env = LabEnv::Load(args);
  if (!env.ok()) return Fail(err, env.status());
  std::string token;
  if (auto t = args.Get("token")) {
    token = *t;
  } else {
    std::getline(std::cin, token);
  }
  token = std::string(absl::StripAsciiWhitespace(token));
  if (token.empty() || std::count(token.begin(), token.end(), '.') != 2) {
    return Fail(err, UsageError(
                         "that is not a JWT: paste the access token your identity provider issued"));
  }
  absl::Status s = WritePrivateFile(env->token_file, token + "\n");
  if (!s.ok()) return Fail(err, s);
  // Check it straight away, so a bad token is caught now, not at first use.
  auto channel = env->GatewayChannel();
  auto ctx = env->Context(10);
  if (channel.ok() && ctx.ok()) {
    gateway::v1::WhoAmIResponse who;
    grpc::Status gs = gateway::v1::GatewayService::NewStub(*channel)->WhoAmI(ctx->get(), {}, &who);
    if (!gs.ok()) return Fail(err, FromGrpc(gs));
    out << "logged in as " << who.principal().subject() << "\n";
    return kOk;
  }
  out << "token stored in " << env->token_file << "\n";
  return kOk;
}

int Logout(const Args& args, std::ostream& out, std::ostream& err) {
  auto env = LabEnv::Load(args);
  if (!env.ok()) return Fail(err, env.status());
  std::error_code ec;
  std::filesystem::remove(env->token_file, ec);
  out << "logged out\n";
  return kOk;
}

int WhoAmI(const Args& args, std::ostream& out, std::ostream& err) {
  auto env = LabEnv::Load(args);
  if (!env.ok()) return Fail(err, env.status());
  auto channel = env->GatewayChannel();
  if (!channel.ok()) return Fail(err, channel.status());
  auto ctx = env->Context(10);
  if (!ctx.ok()) return Fail(err, ctx.status());
  gateway::v1::WhoAmIResponse who;
  grpc::Status s = gateway::v1::GatewayService::NewStub(*channel)->WhoAmI(ctx->get(), {}, &who);
  if (!s.ok()) return Fail(err, FromGrpc(s));
  out << "subject      " << who.principal().subject() << "\nroles        ";
  for (int i = 0; i < who.principal().roles_size(); ++i) {
    out << (i ? ", " : "") << auth::RoleClaimName(who.principal().roles(i));
  }
  out << "\nexpires      "
      << absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::FromUnixMillis(who.token_expiry_unix_ms()),
                          absl::UTCTimeZone())
      << "\npermissions  ";
  for (int i = 0; i < who.permissions_size(); ++i) out << (i ? ", " : "") << who.permissions(i);
  out << "\n";
  return kOk;
}

}  // namespace

void RegisterIdentityCommands(Registry& r) {
  r.Add({"login", "store an access token from your identity provider",
         "usage: datalab login [--token JWT]   (or paste the token on standard input)\n"
         "Stores it in ~/.config/datalab/token (mode 0600) and checks it with the gateway.",
         Login});
  r.Add({"logout", "forget the stored token", "usage: datalab logout [--as NAME]", Logout});
  r.Add({"whoami", "who the lab thinks you are, your roles and permissions",
         "usage: datalab whoami [--as NAME]", WhoAmI});
  r.Add({"dev init-idp", "create a dev identity provider (used by scripts/lab.sh)",
         "usage: datalab dev init-idp --dir DIR --issuer URL", InitIdp});
  r.Add({"dev token", "mint a token from the dev identity provider of a local lab",
         "usage: datalab dev token --subject S --role R[,R2] [--ttl SECONDS]\n"
         "Only against a lab started by scripts/lab.sh (dev mode).",
         DevToken});
  r.Add({"dev login", "mint and store a dev token for a persona of a local lab",
         "usage: datalab dev login --as NAME --role R[,R2] [--subject S] [--ttl SECONDS]\n"
         "Later commands act as that persona with --as NAME.",
         DevLogin});
}

}  // namespace datalab::cli
