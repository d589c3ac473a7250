// The `datalab` command-line client: a table of commands, a small argument
// parser, the lab connection settings and stable exit codes. Each area adds
// its commands in its own file through a Register*Commands(Registry&)
// function called from main.cc (no static self-registration).
#ifndef DATALAB_TOOLS_CLI_CLI_H_
#define DATALAB_TOOLS_CLI_CLI_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/server/client.h"

namespace datalab::cli {

// Stable exit codes (documented in `datalab --help`).
enum ExitCode {
  kOk = 0,
  kError = 1,            // anything else
  kUsage = 2,            // bad command line
  kUnauthenticated = 3,  // log in again
  kDenied = 4,           // not allowed
  kNotFound = 5,
  kUnavailable = 6,      // lab or service down; retry later
  kInvalid = 7,          // the lab refused the input (see message)
  kUnhealthy = 8,        // `health`: some service is not serving
};

int ExitCodeFor(const absl::Status& s);

// A mistake in the command line itself (a missing or malformed flag or
// argument), found before anything is sent: exit code kUsage, where an
// INVALID_ARGUMENT from the lab (input it refused) is kInvalid.
absl::Status UsageError(std::string_view message);
bool IsUsageError(const absl::Status& s);

// Parsed arguments: --name=value, --name value, --flag, and positionals.
class Args {
 public:
  static absl::StatusOr<Args> Parse(const std::vector<std::string>& argv,
                                    const std::vector<std::string>& boolean_flags = {});
  std::optional<std::string> Get(const std::string& name) const;
  std::string GetOr(const std::string& name, const std::string& fallback) const;
  // The flag as a whole number, `fallback` when absent; a UsageError naming
  // the flag when it is not one.
  absl::StatusOr<int> GetInt(const std::string& name, int fallback) const;
  bool Has(const std::string& name) const { return flags_.count(name) > 0; }
  const std::vector<std::string>& positionals() const { return positionals_; }
  // Flags that were given but not in `known`: usage errors.
  std::vector<std::string> Unknown(const std::vector<std::string>& known) const;

 private:
  std::map<std::string, std::string> flags_;
  std::vector<std::string> positionals_;
};

// Where the lab is and who we are. Read from the environment file written by
// `scripts/lab.sh up` (var/lab.env, or $DATALAB_ENV), overridable by
// --gateway, --ca and --token-file, and $DATALAB_TOKEN_FILE.
struct LabEnv {
  std::map<std::string, std::string> vars;  // KEY=VALUE lines of lab.env
  std::string gateway;                      // host:port
  std::string ca_file;
  std::string token_file;                   // 0600 file holding the token
  std::string server_name = "localhost";

  std::string Var(const std::string& key) const;
  static absl::StatusOr<LabEnv> Load(const Args& args);
  // A TLS channel to the gateway, with the caller's token attached to calls.
  absl::StatusOr<std::shared_ptr<grpc::Channel>> GatewayChannel() const;
  // The stored token, UNAUTHENTICATED with advice when there is none.
  absl::StatusOr<std::string> Token() const;
  // A client context with the bearer token and a deadline.
  absl::StatusOr<std::unique_ptr<grpc::ClientContext>> Context(int deadline_seconds = 60) const;
};

struct Command {
  std::string name;      // "health", "catalogue search", ...
  std::string summary;   // one line for the command list
  std::string usage;     // full help text
  std::function<int(const Args& args, std::ostream& out, std::ostream& err)> run;
};

class Registry {
 public:
  void Add(Command c);
  // Longest match of argv words against command names; nullptr if none.
  const Command* Find(const std::vector<std::string>& words, size_t* consumed) const;
  // The longest leading run of `words` that some longer command names begin
  // with ("audit", "catalogue schema"): those commands, and in `*group_words`
  // how many words the run has. Empty when no command is longer than and
  // starts with words[0].
  std::vector<const Command*> Group(const std::vector<std::string>& words,
                                    size_t* group_words) const;
  const std::vector<Command>& commands() const { return commands_; }

 private:
  std::vector<Command> commands_;
};

// Prints "error: <message>" plus advice for the code, returns the exit code.
int Fail(std::ostream& err, const absl::Status& s);
absl::Status FromGrpc(const grpc::Status& s);

// What a command of one service needs: its arguments, its output streams,
// and a connection through the gateway that is opened on the first call, so
// the command checks its own arguments before it needs a lab.
template <typename Service>
class GatewaySession {
 public:
  // gRPC's generated client class for the service.
  using Client = server::ClientOf<Service>;

  GatewaySession(const Args& a, std::ostream& o, std::ostream& e) : args(a), out(o), err(e) {}

  // Opens the connection if it is not open yet.
  absl::Status Connect() {
    if (client_ != nullptr) return absl::OkStatus();
    absl::StatusOr<LabEnv> env = LabEnv::Load(args);
    if (!env.ok()) return env.status();
    auto channel = env->GatewayChannel();
    if (!channel.ok()) return channel.status();
    env_ = *std::move(env);
    client_ = server::NewClient<Service>(*channel);
    return absl::OkStatus();
  }
  // After a successful Connect(): for calls Call() does not cover.
  const LabEnv& env() const { return env_; }
  Client* client() { return client_.get(); }

  // Runs one unary RPC with the caller's token, connecting first if needed.
  template <typename Req, typename Resp>
  absl::Status Call(grpc::Status (Client::*method)(grpc::ClientContext*, const Req&, Resp*),
                    const Req& req, Resp* resp, int deadline_seconds = 300) {
    if (absl::Status s = Connect(); !s.ok()) return s;
    auto ctx = env_.Context(deadline_seconds);
    if (!ctx.ok()) return ctx.status();
    return FromGrpc(((*client_).*method)(ctx->get(), req, resp));
  }

  const Args& args;
  std::ostream& out;
  std::ostream& err;

 private:
  LabEnv env_;
  std::unique_ptr<Client> client_;
};

// A command's run function from a body over a GatewaySession: a failed
// status prints as an error line and becomes the exit code.
template <typename Service>
std::function<int(const Args&, std::ostream&, std::ostream&)> WithSession(
    std::function<absl::StatusOr<int>(GatewaySession<Service>&)> body) {
  return [body = std::move(body)](const Args& args, std::ostream& out, std::ostream& err) {
    GatewaySession<Service> s(args, out, err);
    absl::StatusOr<int> rc = body(s);
    if (!rc.ok()) return Fail(err, rc.status());
    return *rc;
  };
}

void RegisterHealthCommands(Registry& r);
void RegisterIdentityCommands(Registry& r);
void RegisterAuditCommands(Registry& r);
// catalogue_commands.cc: catalogue, projects, users, floor.
void RegisterCatalogueCommands(Registry& r);
// query_commands.cc: query, history, release show|export.
void RegisterQueryCommands(Registry& r);
void RegisterPseudonymisationCommands(Registry& r);

// upload_commands.cc: upload, jobs list|show|cancel, report.
void RegisterUploadCommands(Registry& r);

// Every command of the client, in the order `datalab --help` lists them.
void RegisterAllCommands(Registry& r);

// The whole command line after argv[0]: global options, `--help` for the
// client, a command group ("datalab audit --help" lists the audit
// commands) or a command, then the command. Returns the exit code.
int Main(const Registry& r, const std::vector<std::string>& argv, std::ostream& out,
         std::ostream& err);

}  // namespace datalab::cli

#endif  // DATALAB_TOOLS_CLI_CLI_H_
