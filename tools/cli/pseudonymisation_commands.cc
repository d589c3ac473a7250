// `datalab domains|keys|reid|subject ...`: the pseudonymisation service's
// commands, through the gateway (which forwards every RPC unchanged and
// enforces the caller's permission). Output: an aligned table by default,
// the response as JSON with --json. Identifiers typed on the command line
// are sent once and never echoed back except by `reid collect`.
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <functional>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "datalab/pseudonymisation/v1/pseudonymisation.grpc.pb.h"
#include "tools/cli/cli.h"

namespace datalab::cli {
namespace {

namespace pv1 = ::datalab::pseudonymisation::v1;

using Ctx = GatewaySession<pv1::PseudonymisationService>;

using Body = std::function<int(Ctx&)>;

std::function<int(const Args&, std::ostream&, std::ostream&)> Run(std::vector<std::string> known,
                                                                  Body body) {
  return [known = std::move(known), body = std::move(body)](const Args& args, std::ostream& out,
                                                            std::ostream& err) {
    std::vector<std::string> all = known;
    for (const char* k : {"json", "env", "gateway", "ca", "token-file", "as"}) all.push_back(k);
    auto unknown = args.Unknown(all);
    if (!unknown.empty()) {
      err << "error: unknown flag --" << unknown[0] << "\n";
      return static_cast<int>(kUsage);
    }
    Ctx c(args, out, err);  // connects at its first call
    return body(c);
  };
}

absl::StatusOr<std::string> Need(const Args& a, const std::string& flag) {
  auto v = a.Get(flag);
  if (!v || v->empty()) return UsageError(absl::StrCat("--", flag, " is required"));
  return *v;
}

std::string DomainName(const std::string& d) {
  return d.rfind("domains/", 0) == 0 ? d : "domains/" + d;
}
std::string ReidName(const std::string& r) {
  return r.rfind("reidentificationRequests/", 0) == 0 ? r : "reidentificationRequests/" + r;
}

void Table(std::ostream& out, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> w;
  for (const auto& r : rows) {
    if (w.size() < r.size()) w.resize(r.size(), 0);
    for (size_t i = 0; i < r.size(); ++i) w[i] = std::max(w[i], r[i].size());
  }
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(w[i] - r[i].size() + 2, ' ');
    }
    out << line << "\n";
  }
}

int Print(Ctx& c, const google::protobuf::Message& m, const std::function<void()>& table) {
  if (c.args.Has("json")) {
    std::string s;
    google::protobuf::util::JsonPrintOptions o;
    o.add_whitespace = true;
    o.preserve_proto_field_names = true;
    (void)google::protobuf::util::MessageToJsonString(m, &s, o);
    c.out << s;
  } else {
    table();
  }
  return kOk;
}

void DomainRows(std::vector<std::vector<std::string>>& rows, const pv1::Domain& d) {
  rows.push_back({d.name(), pv1::IdentifierKind_Name(d.kind()), d.reversible() ? "yes" : "no",
                  absl::StrCat(d.current_key_version()),
                  d.keys_size() ? d.keys(d.keys_size() - 1).kek_id() : ""});
}

absl::StatusOr<pv1::IdentifierKind> ParseKind(const std::string& k) {
  std::string upper;
  for (char ch : k) upper += ch == '-' ? '_' : static_cast<char>(std::toupper(ch));
  pv1::IdentifierKind kind;
  if (!pv1::IdentifierKind_Parse(upper, &kind) || kind == pv1::IDENTIFIER_KIND_UNSPECIFIED) {
    return UsageError("--kind must be upn, uln, urn, staff-number or free-text");
  }
  return kind;
}

void ReidRows(std::vector<std::vector<std::string>>& rows, const pv1::ReidentificationRequest& r) {
  rows.push_back({r.name(), r.domain(), pv1::ReidentificationRequest::State_Name(r.state()),
                  r.requester(), r.approver().empty() ? "-" : r.approver()});
}

int SubjectCommand(Ctx& c, pv1::ProcessSubjectRequestRequest::Kind kind) {
  auto domain = Need(c.args, "domain");
  auto id = Need(c.args, "identifier");
  auto ref = Need(c.args, "reference");
  for (const auto* s : {&domain, &id, &ref}) {
    if (!s->ok()) return Fail(c.err, s->status());
  }
  pv1::ProcessSubjectRequestRequest req;
  req.set_domain(DomainName(*domain));
  req.set_identifier(*id);
  req.set_kind(kind);
  req.set_reference(*ref);
  pv1::SubjectRequestReport resp;
  if (absl::Status st = c.Call(&Ctx::Client::ProcessSubjectRequest, req, &resp, 60); !st.ok()) {
    return Fail(c.err, st);
  }
  return Print(c, resp, [&] {
    c.out << "reference " << resp.reference() << ": " << resp.key_versions_searched()
          << " key version(s) searched" << (resp.erased() ? ", subject erased" : "") << "\n";
    std::vector<std::vector<std::string>> rows = {{"DATASET", "RECORDS", "VERSIONS"}};
    for (const auto& r : resp.records()) {
      std::string v;
      for (int x : r.versions()) absl::StrAppend(&v, v.empty() ? "" : ",", x);
      rows.push_back({r.dataset(), absl::StrCat(r.records()), v});
    }
    Table(c.out, rows);
  });
}

}  // namespace

void RegisterPseudonymisationCommands(Registry& r) {
  r.Add({"domains create", "create an identifier domain (admin)",
         "usage: datalab domains create --domain ID --kind upn|uln|urn|staff-number|free-text\n"
         "         [--reversible=true] [--description TEXT] [--json]\n"
         "A reversible domain keeps identifiers encrypted for dual-control re-identification.",
         Run({"domain", "kind", "reversible", "description"}, [](Ctx& c) {
           auto id = Need(c.args, "domain");
           if (!id.ok()) return Fail(c.err, id.status());
           auto kind = ParseKind(c.args.GetOr("kind", ""));
           if (!kind.ok()) return Fail(c.err, kind.status());
           pv1::CreateDomainRequest req;
           req.set_domain_id(*id);
           req.mutable_domain()->set_kind(*kind);
           req.mutable_domain()->set_reversible(c.args.GetOr("reversible", "false") == "true");
           req.mutable_domain()->set_description(c.args.GetOr("description", ""));
           pv1::Domain resp;
           if (absl::Status st = c.Call(&Ctx::Client::CreateDomain, req, &resp, 60); !st.ok()) {
             return Fail(c.err, st);
           }
           return Print(c, resp, [&] {
             std::vector<std::vector<std::string>> rows = {
                 {"NAME", "KIND", "REVERSIBLE", "KEY VERSION", "KEK"}};
             DomainRows(rows, resp);
             Table(c.out, rows);
           });
         })});
  r.Add({"domains list", "list identifier domains",
         "usage: datalab domains list [--page-size N] [--json]",
         Run({"page-size"}, [](Ctx& c) {
           pv1::ListDomainsRequest req;
           req.set_page_size(std::atoi(c.args.GetOr("page-size", "0").c_str()));
           pv1::ListDomainsResponse all;
           while (true) {
             pv1::ListDomainsResponse resp;
             if (absl::Status st = c.Call(&Ctx::Client::ListDomains, req, &resp, 60); !st.ok()) {
               return Fail(c.err, st);
             }
             for (auto& d : *resp.mutable_domains()) *all.add_domains() = std::move(d);
             if (resp.next_page_token().empty()) break;
             req.set_page_token(resp.next_page_token());
           }
           return Print(c, all, [&] {
             std::vector<std::vector<std::string>> rows = {
                 {"NAME", "KIND", "REVERSIBLE", "KEY VERSION", "KEK"}};
             for (const auto& d : all.domains()) DomainRows(rows, d);
             Table(c.out, rows);
           });
         })});
  r.Add({"domains show", "show a domain and its key versions (metadata only)",
         "usage: datalab domains show --domain ID [--json]",
         Run({"domain"}, [](Ctx& c) {
           auto id = Need(c.args, "domain");
           if (!id.ok()) return Fail(c.err, id.status());
           pv1::GetDomainRequest req;
           req.set_name(DomainName(*id));
           pv1::Domain resp;
           if (absl::Status st = c.Call(&Ctx::Client::GetDomain, req, &resp, 60); !st.ok()) {
             return Fail(c.err, st);
           }
           return Print(c, resp, [&] {
             c.out << resp.name() << "  " << pv1::IdentifierKind_Name(resp.kind())
                   << (resp.reversible() ? "  reversible" : "") << "\n";
             std::vector<std::vector<std::string>> rows = {{"VERSION", "CREATED (ms)", "KEK", "CURRENT"}};
             for (const auto& k : resp.keys()) {
               rows.push_back({absl::StrCat(k.version()), absl::StrCat(k.create_time_unix_ms()),
                               k.kek_id(), k.current() ? "yes" : ""});
             }
             Table(c.out, rows);
           });
         })});
  r.Add({"keys rotate", "rotate a domain's key (linkage is kept)",
         "usage: datalab keys rotate --domain ID [--json]\n"
         "Adds a key version for the vault and project derivations; pseudonyms do not change.",
         Run({"domain"}, [](Ctx& c) {
           auto id = Need(c.args, "domain");
           if (!id.ok()) return Fail(c.err, id.status());
           pv1::RotateDomainKeyRequest req;
           req.set_name(DomainName(*id));
           pv1::Domain resp;
           if (absl::Status st = c.Call(&Ctx::Client::RotateDomainKey, req, &resp, 60); !st.ok()) {
             return Fail(c.err, st);
           }
           return Print(c, resp, [&] {
             c.out << resp.name() << " now at key version " << resp.current_key_version() << "\n";
           });
         })});
  r.Add({"keys rotate-kek", "re-wrap every key under the KEK mounted as --new_kek_file",
         "usage: datalab keys rotate-kek [--json]\n"
         "The service reads the new key-encryption key from the file its operator mounted\n"
         "(--new_kek_file); no key material ever travels in the request.",
         Run({}, [](Ctx& c) {
           pv1::RotateKekResponse resp;
           if (absl::Status st = c.Call(&Ctx::Client::RotateKek, pv1::RotateKekRequest(), &resp, 60); !st.ok()) {
             return Fail(c.err, st);
           }
           return Print(c, resp, [&] {
             c.out << resp.keys_rewrapped() << " key(s) now wrapped under KEK " << resp.kek_id()
                   << "\n";
           });
         })});
  r.Add({"reid request", "open a re-identification request (dpo)",
         "usage: datalab reid request --domain ID --pseudonym P --reason TEXT [--json]",
         Run({"domain", "pseudonym", "reason"}, [](Ctx& c) {
           auto d = Need(c.args, "domain");
           auto p = Need(c.args, "pseudonym");
           auto why = Need(c.args, "reason");
           for (const auto* s : {&d, &p, &why}) {
             if (!s->ok()) return Fail(c.err, s->status());
           }
           pv1::CreateReidentificationRequestRequest req;
           req.set_domain(DomainName(*d));
           req.set_pseudonym(*p);
           req.set_reason(*why);
           pv1::ReidentificationRequest resp;
           if (absl::Status st = c.Call(&Ctx::Client::CreateReidentificationRequest, req, &resp, 60); !st.ok()) {
             return Fail(c.err, st);
           }
           return Print(c, resp, [&] {
             std::vector<std::vector<std::string>> rows = {
                 {"NAME", "DOMAIN", "STATE", "REQUESTER", "APPROVER"}};
             ReidRows(rows, resp);
             Table(c.out, rows);
           });
         })});
  r.Add({"reid approve", "approve someone else's re-identification request",
         "usage: datalab reid approve --request NAME [--comment TEXT] [--json]",
         Run({"request", "comment"}, [](Ctx& c) {
           auto n = Need(c.args, "request");
           if (!n.ok()) return Fail(c.err, n.status());
           pv1::ApproveReidentificationRequestRequest req;
           req.set_name(ReidName(*n));
           req.set_comment(c.args.GetOr("comment", ""));
           pv1::ReidentificationRequest resp;
           if (absl::Status st = c.Call(&Ctx::Client::ApproveReidentificationRequest, req, &resp, 60); !st.ok()) {
             return Fail(c.err, st);
           }
           return Print(c, resp, [&] {
             std::vector<std::vector<std::string>> rows = {
                 {"NAME", "DOMAIN", "STATE", "REQUESTER", "APPROVER"}};
             ReidRows(rows, resp);
             Table(c.out, rows);
           });
         })});
  r.Add({"reid collect", "collect an approved re-identification (requester, once)",
         "usage: datalab reid collect --request NAME [--json]\n"
         "Prints the identifier once; the collection is audited before it is shown.",
         Run({"request"}, [](Ctx& c) {
           auto n = Need(c.args, "request");
           if (!n.ok()) return Fail(c.err, n.status());
           pv1::CollectReidentificationRequest req;
           req.set_name(ReidName(*n));
           pv1::CollectReidentificationResponse resp;
           if (absl::Status st = c.Call(&Ctx::Client::CollectReidentification, req, &resp, 60); !st.ok()) {
             return Fail(c.err, st);
           }
           return Print(c, resp, [&] { c.out << resp.identifier() << "\n"; });
         })});
  r.Add({"reid list", "list re-identification requests",
         "usage: datalab reid list [--state pending|approved|collected|refused|expired] [--json]",
         Run({"state"}, [](Ctx& c) {
           pv1::ListReidentificationRequestsRequest req;
           if (auto st = c.args.Get("state")) {
             std::string upper;
             for (char ch : *st) upper += static_cast<char>(std::toupper(ch));
             pv1::ReidentificationRequest::State s;
             if (!pv1::ReidentificationRequest::State_Parse(upper, &s)) {
               return Fail(c.err, UsageError("unknown --state"));
             }
             req.set_state(s);
           }
           pv1::ListReidentificationRequestsResponse all;
           while (true) {
             pv1::ListReidentificationRequestsResponse resp;
             if (absl::Status st = c.Call(&Ctx::Client::ListReidentificationRequests, req, &resp, 60); !st.ok()) {
               return Fail(c.err, st);
             }
             for (auto& x : *resp.mutable_requests()) *all.add_requests() = std::move(x);
             if (resp.next_page_token().empty()) break;
             req.set_page_token(resp.next_page_token());
           }
           return Print(c, all, [&] {
             std::vector<std::vector<std::string>> rows = {
                 {"NAME", "DOMAIN", "STATE", "REQUESTER", "APPROVER"}};
             for (const auto& x : all.requests()) ReidRows(rows, x);
             Table(c.out, rows);
           });
         })});
  r.Add({"subject access", "Art. 15: report every record held about a subject (dpo)",
         "usage: datalab subject access --domain ID --identifier X --reference CASE [--json]",
         Run({"domain", "identifier", "reference"},
             [](Ctx& c) { return SubjectCommand(c, pv1::ProcessSubjectRequestRequest::ACCESS); })});
  r.Add({"subject erase", "Art. 17: erase every record held about a subject (dpo)",
         "usage: datalab subject erase --domain ID --identifier X --reference CASE [--json]",
         Run({"domain", "identifier", "reference"},
             [](Ctx& c) { return SubjectCommand(c, pv1::ProcessSubjectRequestRequest::ERASURE); })});
}

}  // namespace datalab::cli
