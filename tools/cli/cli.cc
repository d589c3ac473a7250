#include "tools/cli/cli.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/server/tls.h"
#include "common/status/grpc_status.h"

namespace datalab::cli {

namespace {
constexpr char kUsagePayload[] = "type.datalab.local/cli.usage";
}  // namespace

absl::Status UsageError(std::string_view message) {
  absl::Status s = absl::InvalidArgumentError(absl::string_view(message.data(), message.size()));
  s.SetPayload(kUsagePayload, absl::Cord("1"));
  return s;
}

bool IsUsageError(const absl::Status& s) {
  return s.code() == absl::StatusCode::kInvalidArgument && s.GetPayload(kUsagePayload).has_value();
}

int ExitCodeFor(const absl::Status& s) {
  if (IsUsageError(s)) return kUsage;
  switch (s.code()) {
    case absl::StatusCode::kOk: return kOk;
    case absl::StatusCode::kUnauthenticated: return kUnauthenticated;
    case absl::StatusCode::kPermissionDenied: return kDenied;
    case absl::StatusCode::kNotFound: return kNotFound;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted: return kUnavailable;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kOutOfRange: return kInvalid;
    default: return kError;
  }
}

absl::StatusOr<Args> Args::Parse(const std::vector<std::string>& argv,
                                 const std::vector<std::string>& boolean_flags) {
  Args a;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& w = argv[i];
    if (w == "--") {
      for (size_t j = i + 1; j < argv.size(); ++j) a.positionals_.push_back(argv[j]);
      break;
    }
    if (absl::StartsWith(w, "--") && w.size() > 2) {
      std::string body = w.substr(2);
      size_t eq = body.find('=');
      if (eq != std::string::npos) {
        a.flags_[body.substr(0, eq)] = body.substr(eq + 1);
        continue;
      }
      bool is_bool = false;
      for (const auto& b : boolean_flags) is_bool |= b == body;
      if (is_bool || body == "help") {
        a.flags_[body] = "true";
      } else if (i + 1 < argv.size()) {
        a.flags_[body] = argv[++i];
      } else {
        return UsageError(absl::StrCat("--", body, " needs a value"));
      }
      continue;
    }
    a.positionals_.push_back(w);
  }
  return a;
}

std::optional<std::string> Args::Get(const std::string& name) const {
  auto it = flags_.find(name);
  if (it == flags_.end()) return std::nullopt;
  return it->second;
}

std::string Args::GetOr(const std::string& name, const std::string& fallback) const {
  auto v = Get(name);
  return v ? *v : fallback;
}

std::vector<std::string> Args::Unknown(const std::vector<std::string>& known) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : flags_) {
    bool ok = k == "help";
    for (const auto& n : known) ok |= n == k;
    if (!ok) out.push_back(k);
  }
  return out;
}

std::string LabEnv::Var(const std::string& key) const {
  auto it = vars.find(key);
  return it == vars.end() ? "" : it->second;
}

absl::StatusOr<LabEnv> LabEnv::Load(const Args& args) {
  LabEnv env;
  std::string path = args.GetOr("env", "");
  if (path.empty()) {
    const char* e = std::getenv("DATALAB_ENV");
    path = e && *e ? e : "var/lab.env";
  }
  std::ifstream in(path);
  if (in) {
    std::string line;
    while (std::getline(in, line)) {
      absl::string_view l = absl::StripAsciiWhitespace(line);
      if (l.empty() || l[0] == '#') continue;
      size_t eq = l.find('=');
      if (eq == absl::string_view::npos) continue;
      std::string value(l.substr(eq + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      env.vars[std::string(l.substr(0, eq))] = value;
    }
  }
  env.gateway = args.GetOr("gateway", env.Var("DATALAB_GATEWAY"));
  env.ca_file = args.GetOr("ca", env.Var("DATALAB_CA"));
  const char* tf = std::getenv("DATALAB_TOKEN_FILE");
  std::string default_token = env.Var("DATALAB_TOKEN_FILE");
  if (default_token.empty()) {
    const char* home = std::getenv("HOME");
    default_token = std::string(home ? home : ".") + "/.config/datalab/token";
  }
  env.token_file = args.GetOr("token-file", tf && *tf ? tf : default_token);
  if (auto as = args.Get("as")) {
    // --as NAME picks a persona's token in a dev lab (var/tokens/NAME).
    for (char c : *as) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) {
        return UsageError("--as takes a simple name (letters, digits, - and _)");
      }
    }
    std::string dir = env.Var("DATALAB_TOKEN_DIR");
    if (dir.empty()) {
      return UsageError("--as needs a dev lab (no DATALAB_TOKEN_DIR in lab.env)");
    }
    env.token_file = dir + "/" + *as;
  }
  return env;
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> LabEnv::GatewayChannel() const {
  if (gateway.empty()) {
    // How the command was run, not something the lab refused: exit 2.
    return UsageError(
        "no gateway address: start a lab with scripts/lab.sh up, or pass --gateway host:port");
  }
  server::TlsFiles tls;
  tls.ca_file = ca_file;
  return server::MakeChannel(gateway, tls, {.server_name_override = server_name});
}

absl::StatusOr<std::string> LabEnv::Token() const {
  std::ifstream in(token_file);
  if (!in) {
    return absl::UnauthenticatedError(
        "not logged in: run `datalab login` (or `datalab dev login` in a dev lab)");
  }
  std::string token;
  std::getline(in, token);
  token = std::string(absl::StripAsciiWhitespace(token));
  if (token.empty()) return absl::UnauthenticatedError("the stored token is empty: log in again");
  return token;
}

absl::StatusOr<std::unique_ptr<grpc::ClientContext>> LabEnv::Context(int deadline_seconds) const {
  auto token = Token();
  if (!token.ok()) return token.status();
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->AddMetadata("authorization", "Bearer " + *token);
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(deadline_seconds));
  return ctx;
}

void Registry::Add(Command c) { commands_.push_back(std::move(c)); }

const Command* Registry::Find(const std::vector<std::string>& words, size_t* consumed) const {
  const Command* best = nullptr;
  size_t best_len = 0;
  for (const auto& c : commands_) {
    std::vector<std::string> parts = absl::StrSplit(c.name, ' ');
    if (parts.size() > words.size() || parts.size() <= best_len) continue;
    bool match = true;
    for (size_t i = 0; i < parts.size(); ++i) match &= parts[i] == words[i];
    if (match) {
      best = &c;
      best_len = parts.size();
    }
  }
  *consumed = best_len;
  return best;
}

absl::StatusOr<int> Args::GetInt(const std::string& name, int fallback) const {
  std::optional<std::string> v = Get(name);
  if (!v.has_value()) return fallback;
  int n = 0;
  if (!absl::SimpleAtoi(*v, &n)) return UsageError(absl::StrCat("--", name, ": not a whole number"));
  return n;
}

std::vector<const Command*> Registry::Group(const std::vector<std::string>& words,
                                            size_t* group_words) const {
  std::vector<const Command*> best;
  for (size_t len = 1; len <= words.size(); ++len) {
    std::vector<const Command*> members;
    for (const auto& c : commands_) {
      std::vector<std::string> parts = absl::StrSplit(c.name, ' ');
      if (parts.size() <= len) continue;  // a command itself, not a group member
      bool match = true;
      for (size_t i = 0; i < len; ++i) match &= parts[i] == words[i];
      if (match) members.push_back(&c);
    }
    if (members.empty()) break;
    best = std::move(members);
    *group_words = len;
  }
  return best;
}

absl::Status FromGrpc(const grpc::Status& s) { return FromGrpcStatus(s); }

namespace {

void PrintCommandList(const std::vector<const Command*>& commands, std::ostream& out) {
  for (const Command* c : commands) {
    out << "  " << c->name << std::string(c->name.size() < 28 ? 28 - c->name.size() : 1, ' ')
        << c->summary << "\n";
  }
}

void PrintHelp(const Registry& r, std::ostream& out) {
  out << "datalab: the command-line client of the datalab virtual data lab\n\n"
         "usage: datalab <command> [options]      datalab <command> --help\n\n"
         "commands:\n";
  std::vector<const Command*> all;
  for (const auto& c : r.commands()) all.push_back(&c);
  PrintCommandList(all, out);
  out << "\ncommon options: --env FILE (lab.env of a local lab; default var/lab.env or\n"
         "$DATALAB_ENV), --gateway HOST:PORT, --ca FILE, --token-file FILE\n\n"
         "exit codes: 0 ok, 1 error, 2 usage, 3 not logged in, 4 not allowed,\n"
         "5 not found, 6 lab unavailable (retry), 7 input refused, 8 unhealthy\n";
}

bool IsHelp(const std::string& w) { return w == "--help" || w == "-h" || w == "help"; }

}  // namespace

int Main(const Registry& r, const std::vector<std::string>& all, std::ostream& out,
         std::ostream& err) {
  // Options common to every command may also come before it:
  //   datalab --as researcher query ...
  std::vector<std::string> globals;
  std::vector<std::string> words;
  for (size_t i = 0; i < all.size(); ++i) {
    const std::string& w = all[i];
    bool global = false;
    for (const char* g : {"--as", "--env", "--gateway", "--ca", "--token-file"}) {
      std::string flag(g);
      if (w == flag && i + 1 < all.size() && words.empty()) {
        globals.push_back(w);
        globals.push_back(all[++i]);
        global = true;
        break;
      }
      if (w.rfind(flag + "=", 0) == 0 && words.empty()) {
        globals.push_back(w);
        global = true;
        break;
      }
    }
    if (!global) words.push_back(w);
  }
  if (words.empty() || IsHelp(words[0])) {
    PrintHelp(r, out);
    return words.empty() ? kUsage : kOk;
  }
  size_t consumed = 0;
  const Command* cmd = r.Find(words, &consumed);
  if (cmd == nullptr) {
    // A command group ("datalab audit", "datalab catalogue schema --help"):
    // list its commands, or say which word after it is unknown.
    size_t group_words = 0;
    std::vector<const Command*> members = r.Group(words, &group_words);
    if (members.empty()) {
      err << "error: unknown command '" << words[0]
          << "' (run `datalab --help` for the list)\n";
      return kUsage;
    }
    const std::string group = absl::StrJoin(
        words.begin(), words.begin() + static_cast<long>(group_words), " ");
    const bool help = std::any_of(words.begin() + static_cast<long>(group_words), words.end(),
                                  IsHelp);
    if (words.size() > group_words && !help) {
      const std::string& next = words[group_words];
      if (next.rfind("-", 0) == 0) {
        err << "error: '" << group << "' needs a command before its options (run `datalab "
            << group << " --help` for the " << group << " commands)\n";
      } else {
        err << "error: unknown command '" << group << " " << next << "' (run `datalab " << group
            << " --help` for the " << group << " commands)\n";
      }
      return kUsage;
    }
    out << "usage: datalab " << group << " <command> [options]      datalab " << group
        << " <command> --help\n\ncommands:\n";
    PrintCommandList(members, out);
    return help ? kOk : kUsage;
  }
  std::vector<std::string> rest(words.begin() + static_cast<long>(consumed), words.end());
  rest.insert(rest.end(), globals.begin(), globals.end());
  auto args = Args::Parse(rest, {"json", "csv", "yes", "quiet", "wait", "allow-duplicate", "reversible"});
  if (!args.ok()) {
    err << "error: " << args.status().message() << " (see `datalab " << cmd->name
        << " --help`)\n";
    return kUsage;
  }
  if (args->Has("help")) {
    out << cmd->usage << "\n";
    return kOk;
  }
  return cmd->run(*args, out, err);
}

int Fail(std::ostream& err, const absl::Status& s) {
  err << "error: " << s.message();
  switch (s.code()) {
    case absl::StatusCode::kUnavailable:
      err << " (the lab is not reachable: is it running? try `datalab health`)";
      break;
    case absl::StatusCode::kUnauthenticated:
      if (!absl::StrContains(s.message(), "log in")) err << " (log in again with `datalab login`)";
      break;
    case absl::StatusCode::kPermissionDenied:
      if (!absl::StrContains(s.message(), "role")) err << " (your roles do not allow this)";
      break;
    case absl::StatusCode::kInvalidArgument:
      if (IsUsageError(s) && !absl::StartsWith(s.message(), "usage:")) {
        err << " (add --help to the command for its options)";
      }
      break;
    default:
      break;
  }
  err << "\n";
  return ExitCodeFor(s);
}

}  // namespace datalab::cli
