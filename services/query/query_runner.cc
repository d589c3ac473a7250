#include "services/query/query_runner.h"

#include <openssl/rand.h>

#include <algorithm>
#include <cmath>

#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/crypto/encoding.h"
#include "common/crypto/sha256.h"
#include "common/parallel/parallel_for.h"
#include "common/log/log.h"
#include "common/status/grpc_status.h"
#include "common/status/status_macros.h"
#include "services/query/engine/executor.h"
#include "services/query/release.h"
#include "services/query/sdc/sdc.h"
#include "services/query/sql/parser.h"
#include "services/query/sql/printer.h"

namespace datalab::query {
namespace {

namespace c = ::datalab::common::v1;
namespace cv1 = ::datalab::catalogue::v1;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

std::string RandomId() {
  unsigned char b[8];
  RAND_bytes(b, sizeof b);
  return crypto::HexEncode(crypto::ByteView(b, sizeof b));
}

absl::StatusOr<std::string> ProjectOf(const std::string& name, const char* collection) {
  // projects/{p}/<collection>/{id}
  const std::string marker = absl::StrCat("/", collection, "/");
  const size_t at = name.find(marker);
  if (!absl::StartsWith(name, "projects/") || at == std::string::npos || at <= 9 ||
      at + marker.size() >= name.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("name must be projects/{project}/", collection, "/{id}"));
  }
  return name.substr(0, at);
}

absl::Status CheckProjectName(const std::string& project) {
  if (!absl::StartsWith(project, "projects/") || project.size() <= 9 ||
      project.find('/', 9) != std::string::npos) {
    return absl::InvalidArgumentError("project must be projects/{project}");
  }
  return absl::OkStatus();
}

std::string NoteText(const std::string& rule, int n, const sdc::Settings& s) {
  const std::string cells = absl::StrCat(n, n == 1 ? " cell" : " cells");
  if (rule == "threshold") {
    return absl::StrCat(cells, " suppressed (threshold: fewer than ", s.threshold, " pupils)");
  }
  if (rule == "dominance") {
    return absl::StrCat(cells, " suppressed (dominance: the largest ", s.dominance_n,
                        " contributors hold more than ", s.dominance_k_basis_points / 100.0,
                        "% of the total)");
  }
  if (rule == "p_percent") {
    return absl::StrCat(cells, " suppressed (p% rule: the others hold less than ",
                        s.p_percent_basis_points / 100.0,
                        "% of the largest contribution, so it could be estimated)");
  }
  if (rule == "class_disclosure") {
    return absl::StrCat(cells,
                        " suppressed (class disclosure: a zero or 100% cell would reveal "
                        "something about every pupil in a group)");
  }
  if (rule == "secondary") {
    return absl::StrCat(cells,
                        " suppressed (secondary: so suppressed cells cannot be worked out from "
                        "totals and other cells)");
  }
  if (rule == "differencing") {
    return absl::StrCat(cells, " suppressed (differencing: the population differs from an earlier "
                               "release of the project by fewer than ",
                        s.threshold, " pupils)");
  }
  if (rule == "min_max_forbidden") {
    return absl::StrCat(cells, " suppressed (a single pupil's value is never released)");
  }
  return absl::StrCat(cells, " suppressed (", rule, ")");
}

absl::StatusOr<sdc::Settings> ToSettings(const c::DisclosureSettings& d, const sdc::TrustFloor& floor,
                                         const std::string& rounding_key) {
  sdc::SettingsBuilder b(floor);
  b.SetThreshold(d.threshold() > 0 ? d.threshold() : 10);
  b.SetRoundingBase(d.rounding_base() > 0 ? d.rounding_base() : 5);
  b.SetDominance(d.dominance_n() > 0 ? d.dominance_n() : 2,
                 d.dominance_k_percent() > 0 ? static_cast<int>(std::llround(d.dominance_k_percent() * 100))
                                             : 9000);
  b.SetPPercentBasisPoints(d.p_percent() > 0 ? static_cast<int>(std::llround(d.p_percent() * 100))
                                             : 1000);
  b.SetAllowStructuralZeros(d.allow_structural_zeros());
  b.SetRoundingKey(rounding_key, "query-store-rounding-key-1");
  if (d.epsilon_budget() > 0) {
    b.SetDifferentialPrivacy(std::llround(d.epsilon_per_query() * sdc::kMicrosPerEpsilon));
  }
  return b.Build();
}

// Orders labels as numbers when both are numbers, else as text.
bool LabelLess(const std::string& a, const std::string& b) {
  double x, y;
  if (absl::SimpleAtod(a, &x) && absl::SimpleAtod(b, &y) && x != y) return x < y;
  return a < b;
}

}  // namespace

absl::Status CallControl::Check(const char* phase) const {
  if (cancelled && cancelled()) {
    return absl::CancelledError(absl::StrCat("the query was cancelled (", phase, ")"));
  }
  if (deadline.has_value() && std::chrono::system_clock::now() > *deadline) {
    return absl::DeadlineExceededError(absl::StrCat("the query ran out of time (", phase, ")"));
  }
  return absl::OkStatus();
}

struct QueryRunner::Prepared {
  sql::Query query;
  BoundQuery bound;
};

QueryRunner::QueryRunner(const Options& options) : options_(options) {
  if (options_.random == nullptr) options_.random = &default_random_;
  if (!options_.now_ms) {
    options_.now_ms = [] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
  }
}

absl::StatusOr<std::unique_ptr<QueryRunner>> QueryRunner::Create(const Options& options) {
  if (options.store == nullptr || options.catalogue == nullptr || options.audit == nullptr ||
      options.signing_key == nullptr) {
    return absl::InvalidArgumentError("store, catalogue, audit and signing_key are required");
  }
  if (options.threads < 1 || options.threads > 64) {
    return absl::InvalidArgumentError("threads must be 1..64");
  }
  RETURN_IF_ERROR(sdc::ValidateTrustFloor(options.floor));
  return std::unique_ptr<QueryRunner>(new QueryRunner(options));
}

absl::StatusOr<std::string> StructuredToSql(const v1::StructuredQuery& q) {
  using A = v1::StructuredQuery::Aggregate;
  if (q.datasets().empty()) return absl::InvalidArgumentError("structured.datasets is empty");
  if (q.aggregates().empty()) return absl::InvalidArgumentError("structured.aggregates is empty");
  std::vector<std::string> items(q.group_by().begin(), q.group_by().end());
  for (int i = 0; i < q.aggregates_size(); ++i) {
    const A& a = q.aggregates(i);
    std::string s;
    switch (a.function()) {
      case A::COUNT: s = a.column().empty() ? "COUNT(*)" : absl::StrCat("COUNT(", a.column(), ")"); break;
      case A::COUNT_DISTINCT_SUBJECTS: s = "COUNT(DISTINCT pupil)"; break;
      case A::SUM: s = absl::StrCat("SUM(", a.column(), ")"); break;
      case A::AVG: s = absl::StrCat("AVG(", a.column(), ")"); break;
      case A::STDDEV: s = absl::StrCat("STDDEV(", a.column(), ")"); break;
      case A::MEDIAN: s = absl::StrCat("MEDIAN(", a.column(), ")"); break;
      case A::PERCENTILE: s = absl::StrCat("PERCENTILE(", a.column(), ", ", a.percentile(), ")"); break;
      case A::PROPORTION: s = absl::StrCat("PROPORTION(", a.condition(), ")"); break;
      default:
        return absl::InvalidArgumentError(absl::StrCat("structured.aggregates[", i, "].function is unspecified"));
    }
    if (a.function() != A::COUNT && a.function() != A::COUNT_DISTINCT_SUBJECTS &&
        a.function() != A::PROPORTION && a.column().empty()) {
      return absl::InvalidArgumentError(absl::StrCat("structured.aggregates[", i, "].column is empty"));
    }
    if (!a.alias().empty()) absl::StrAppend(&s, " AS \"", a.alias(), "\"");
    items.push_back(std::move(s));
  }
  std::string sql = absl::StrCat("SELECT ", absl::StrJoin(items, ", "), " FROM ", q.datasets(0));
  std::vector<std::string> keys = {"pupil"};
  keys.insert(keys.end(), q.join_keys().begin(), q.join_keys().end());
  for (int i = 1; i < q.datasets_size(); ++i) {
    absl::StrAppend(&sql, " JOIN ", q.datasets(i), " USING (", absl::StrJoin(keys, ", "), ")");
  }
  if (!q.where().empty()) absl::StrAppend(&sql, " WHERE ", q.where());
  if (!q.group_by().empty()) absl::StrAppend(&sql, " GROUP BY ", absl::StrJoin(q.group_by(), ", "));
  return sql;
}

absl::StatusOr<std::string> QueryRunner::QueryText(const v1::RunQueryRequest& request) const {
  RETURN_IF_ERROR(CheckProjectName(request.project()));
  std::string text;
  if (request.has_structured()) {
    ASSIGN_OR_RETURN(text, StructuredToSql(request.structured()));
  } else {
    text = request.sql();
  }
  if (text.empty()) return absl::InvalidArgumentError("sql is empty");
  if (text.size() > options_.max_query_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("the query is ", text.size(),
                                                   " bytes; the limit is ", options_.max_query_bytes));
  }
  return text;
}

absl::StatusOr<QueryRunner::Prepared> QueryRunner::Prepare(const std::string& text) const {
  sql::ParseOptions po;
  po.max_query_bytes = options_.max_query_bytes;
  Prepared p;
  ASSIGN_OR_RETURN(p.query, sql::ParseQuery(text, po));
  QueryStore* store = options_.store;
  ASSIGN_OR_RETURN(p.bound, Bind(p.query, [store](const std::string& d, std::optional<int64_t> v) {
    return store->ResolveVersion(d, v);
  }));
  return p;
}

absl::StatusOr<cv1::CheckAccessResponse> QueryRunner::CheckAccess(const c::Principal& caller,
                                                                  const std::string& project,
                                                                  const BoundQuery* bound) const {
  cv1::CheckAccessRequest req;
  req.set_principal(caller.subject());
  req.set_project(project);
  if (bound != nullptr) {
    for (const auto& [dataset, cols] : bound->columns_touched) {
      auto* a = req.add_access();
      a->set_dataset(dataset);
      for (const auto& col : cols) a->add_columns(col);
    }
  }
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + options_.catalogue_timeout);
  cv1::CheckAccessResponse resp;
  grpc::Status s = options_.catalogue->CheckAccess(&ctx, req, &resp);
  if (!s.ok()) {
    return absl::UnavailableError(
        absl::StrCat("the catalogue could not decide access: ", s.error_message()));
  }
  return resp;
}

void QueryRunner::RecordHistory(const std::string& project, const std::string& id,
                                const std::string& text, const std::string& status,
                                const std::string& reason, const std::string& user) {
  v1::QueryHistoryEntry e;
  e.set_name(absl::StrCat(project, "/queries/", id));
  e.set_query_text(text);
  e.set_time_unix_ms(options_.now_ms());
  e.set_status(status);
  e.set_reason(reason);
  e.set_user(user);
  absl::Status s = options_.store->PutHistory(e);
  if (!s.ok()) log::Warning("query history write failed", {{"error", std::string(s.message())}});
}

void QueryRunner::AuditDecision(const c::Principal& caller, const std::string& action,
                                const std::string& project, const std::vector<std::string>& resources,
                                c::Decision decision, const std::string& reason,
                                const std::string& purpose) {
  c::AuditEvent e;
  e.set_event_id(audit_client::NewEventId());
  e.set_time_unix_ms(options_.now_ms());
  e.set_service("query");
  *e.mutable_actor() = caller;
  e.set_action(action);
  for (const auto& r : resources) e.add_resources(r);
  e.set_project(project);
  e.set_purpose(purpose);
  e.set_decision(decision);
  e.set_reason(reason);
  absl::Status s = options_.audit->Append(e);
  if (!s.ok()) log::Warning("audit append failed", {{"action", action}, {"error", std::string(s.message())}});
}

absl::StatusOr<v1::QueryResult> QueryRunner::Run(const c::Principal& caller,
                                                 const v1::RunQueryRequest& request,
                                                 const CallControl& control, QueryTimings* timings) {
  QueryTimings local;
  QueryTimings& t = timings != nullptr ? *timings : local;
  auto t0 = Clock::now();
  const std::string& project = request.project();
  const std::string id = RandomId();
  ASSIGN_OR_RETURN(std::string text, QueryText(request));
  auto prepared = Prepare(text);
  if (!prepared.ok()) {
    RecordHistory(project, id, text, "error", std::string(prepared.status().message()), caller.subject());
    return prepared.status();
  }
  BoundQuery& bound = prepared->bound;
  const std::string canonical = bound.canonical_sql;
  auto t1 = Clock::now();
  t.parse_bind = Seconds(t0, t1);

  // Authorise before anything is executed.
  std::vector<std::string> resources;
  for (const auto& in : bound.inputs) resources.push_back(in.manifest.dataset_version());
  ASSIGN_OR_RETURN(cv1::CheckAccessResponse access, CheckAccess(caller, project, &bound));
  if (!access.allowed()) {
    AuditDecision(caller, "query.run", project, resources, c::DENY, access.reason(), request.purpose());
    RecordHistory(project, id, canonical, "refused", access.reason(), caller.subject());
    return absl::PermissionDeniedError(access.reason());
  }
  auto t2 = Clock::now();
  t.authorise = Seconds(t1, t2);
  RETURN_IF_ERROR(control.Check("after authorisation"));

  std::vector<std::shared_ptr<const LoadedVersion>> loaded;
  std::vector<const engine::Table*> tables;
  for (const auto& in : bound.inputs) {
    ASSIGN_OR_RETURN(auto lv, options_.store->Load(in.manifest));
    tables.push_back(lv->table.get());
    loaded.push_back(std::move(lv));
  }
  RETURN_IF_ERROR(FixBands(bound, tables));
  auto t3 = Clock::now();
  t.load = Seconds(t2, t3);
  RETURN_IF_ERROR(control.Check("after loading"));

  engine::Options eo;
  eo.threads = options_.threads;
  eo.max_groups = options_.max_groups;
  auto executed = engine::Execute(bound.plan, tables, eo);
  if (!executed.ok()) {
    RecordHistory(project, id, canonical, "error", std::string(executed.status().message()), caller.subject());
    return executed.status();
  }
  auto t4 = Clock::now();
  t.execute = Seconds(t3, t4);
  RETURN_IF_ERROR(control.Check("after execution"));

  // Disclosure control.
  ASSIGN_OR_RETURN(std::string rounding_key, options_.store->RoundingKey());
  ASSIGN_OR_RETURN(sdc::Settings settings, ToSettings(access.disclosure(), options_.floor, rounding_key));
  if (settings.dp_enabled) {
    RETURN_IF_ERROR(options_.store->SetEpsilonBudget(
        project, std::llround(access.disclosure().epsilon_budget() * sdc::kMicrosPerEpsilon)));
  }
  sdc::SdcEngine::Options so;
  so.settings = settings;
  so.floor = options_.floor;
  so.release_ledger = &options_.store->release_ledger();
  so.epsilon_ledger = &options_.store->epsilon_ledger();
  so.random = options_.random;
  so.threads = options_.threads;
  ASSIGN_OR_RETURN(auto sdc_engine, sdc::SdcEngine::Create(so));

  sdc::Table table;
  for (const auto& o : bound.outputs) {
    if (o.is_group) table.group_columns.push_back(o.name);
  }
  std::vector<const BoundOutput*> agg_outputs;
  for (const auto& o : bound.outputs) {
    if (!o.is_group) {
      table.output_columns.push_back(o.name);
      agg_outputs.push_back(&o);
    }
  }
  // Every distinct population as a roaring set, built once and on
  // options_.threads threads (a GROUP BY's thousands of groups add up);
  // cells then share them (SubjectSet copies share one bitmap).
  absl::flat_hash_map<const engine::SubjectSet*, sdc::SubjectSet> pops;
  {
    std::vector<const engine::SubjectSet*> distinct;
    auto note = [&](const std::shared_ptr<const engine::SubjectSet>& s) {
      if (s != nullptr && pops.emplace(s.get(), sdc::SubjectSet()).second) distinct.push_back(s.get());
    };
    for (const auto& rr : executed->rows) {
      note(rr.population);
      for (const auto& av : rr.aggregates) {
        note(av.population);
        note(av.denominator_population);
      }
    }
    std::vector<sdc::SubjectSet> built(distinct.size());
    parallel::ParallelFor(options_.threads, distinct.size(), [&](size_t, size_t i) {
      built[i] = sdc::SubjectSet(absl::MakeConstSpan(distinct[i]->ids()));
    });
    for (size_t i = 0; i < distinct.size(); ++i) pops[distinct[i]] = std::move(built[i]);
  }
  auto pop = [&](const std::shared_ptr<const engine::SubjectSet>& s) -> sdc::SubjectSet {
    if (s == nullptr) return sdc::SubjectSet();
    return pops.at(s.get());
  };
  constexpr int kMagnitudeDecimals = 3;
  const double scale = std::pow(10.0, kMagnitudeDecimals);
  for (const auto& rr : executed->rows) {
    sdc::Row row;
    for (const auto& o : bound.outputs) {
      if (!o.is_group) continue;
      const auto& kv = rr.keys[o.index];
      row.key.push_back(kv.missing ? std::string("(missing)") : kv.label);
    }
    for (const BoundOutput* o : agg_outputs) {
      const engine::AggregateValue& av = rr.aggregates[o->index];
      const BoundAggregate& ba = bound.aggregates[o->index];
      sdc::Cell cell;
      cell.kind = ba.kind;
      cell.value = av.missing ? 0 : av.value;
      cell.population = pop(av.population != nullptr ? av.population : rr.population);
      switch (ba.kind) {
        case sdc::AggregateKind::kCountDistinct:
          cell.value = static_cast<double>(cell.population.Cardinality());
          break;
        case sdc::AggregateKind::kSum:
        case sdc::AggregateKind::kAvg: {
          sdc::Magnitudes m;
          if (av.has_contributions && av.contributions.contributors > 0) {
            const auto& ct = av.contributions;
            const size_t n = std::min<uint64_t>(ct.contributors, sdc::kMaxDominanceN);
            m.largest.push_back(std::llround(ct.top1 * scale));
            if (n >= 2) m.largest.push_back(std::llround(ct.top2 * scale));
            int64_t sum = 0;
            for (int64_t v : m.largest) sum += v;
            m.total = std::max<int64_t>(std::llround(ct.total * scale), sum);
          }
          cell.magnitudes = m;
          break;
        }
        case sdc::AggregateKind::kPercentile:
          cell.percentile = ba.percentile;
          break;
        case sdc::AggregateKind::kProportion:
          cell.population = pop(av.denominator_population);
          cell.numerator = pop(av.population);
          if (ba.is_rate) {
            const auto& num = rr.aggregates[ba.rate_numerator_sum];
            const auto& den = rr.aggregates[ba.rate_denominator_sum];
            cell.numerator_value = num.missing ? 0 : std::llround(num.value);
            cell.denominator_value = den.missing ? 0 : std::llround(den.value);
          }
          break;
        default:
          break;
      }
      row.cells.push_back(std::move(cell));
    }
    table.rows.push_back(std::move(row));
  }
  const std::string release_name = absl::StrCat(project, "/releases/", id);
  sdc::ReleaseRequest rreq;
  rreq.project = project;
  rreq.release_id = id;
  rreq.table = &table;
  absl::StatusOr<sdc::ReleasedTable> released;
  {
    absl::MutexLock l(&release_mu_);
    RETURN_IF_ERROR(control.Check("before disclosure control"));
    released = sdc_engine->Release(rreq);
  }
  if (!released.ok()) {
    RecordHistory(project, id, canonical, "error", std::string(released.status().message()), caller.subject());
    return released.status();
  }
  auto t5 = Clock::now();
  t.sdc = Seconds(t4, t5);

  // The result, built only from decisions.
  v1::QueryResult result;
  result.set_release(release_name);
  result.set_query_text(canonical);
  for (const auto& o : bound.outputs) {
    auto* h = result.add_columns();
    h->set_name(o.name);
    h->set_is_group(o.is_group);
    h->set_aggregate(o.aggregate);
  }
  std::vector<int> order(released->cells.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  if (!bound.order_by.empty()) {
    // Key position of group key g within the sdc row keys.
    std::vector<int> key_pos(bound.plan.group_keys.size(), -1);
    int k = 0;
    for (const auto& o : bound.outputs) {
      if (o.is_group) key_pos[o.index] = k++;
    }
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
      for (const auto& [g, desc] : bound.order_by) {
        const std::string& x = *released->keys[a][key_pos[g]];
        const std::string& y = *released->keys[b][key_pos[g]];
        if (x == y) continue;
        return desc ? LabelLess(y, x) : LabelLess(x, y);
      }
      return false;
    });
  }
  if (bound.limit.has_value() && static_cast<int64_t>(order.size()) > *bound.limit) {
    order.resize(static_cast<size_t>(*bound.limit));
  }
  int cells_released = 0, cells_suppressed = 0;
  for (int ri : order) {
    auto* row = result.add_rows();
    int key = 0, agg = 0;
    for (const auto& o : bound.outputs) {
      auto* cell = row->add_cells();
      if (o.is_group) {
        cell->set_status(v1::Cell::RELEASED);
        cell->set_text(released->keys[ri][key++].value_or(""));
        continue;
      }
      const sdc::CellDecision& d = released->cells[ri][agg];
      const sdc::AggregateKind kind = bound.aggregates[o.index].kind;
      ++agg;
      switch (d.status()) {
        case sdc::CellStatus::kSuppressed:
          cell->set_status(v1::Cell::SUPPRESSED);
          cell->set_rule(std::string(sdc::RuleName(d.rule())));
          ++cells_suppressed;
          break;
        case sdc::CellStatus::kRounded:
          cell->set_status(v1::Cell::ROUNDED);
          cell->set_number(*d.value());
          cell->set_decimals(d.decimals());
          cell->set_rule(settings.dp_enabled && (kind == sdc::AggregateKind::kCount ||
                                                 kind == sdc::AggregateKind::kCountDistinct)
                             ? "dp_noise,rounding"
                             : "rounding");
          ++cells_released;
          break;
        case sdc::CellStatus::kReleased:
          cell->set_status(v1::Cell::RELEASED);
          cell->set_number(*d.value());
          cell->set_decimals(d.decimals());
          ++cells_released;
          break;
      }
    }
  }
  for (const auto& [rule, n] : released->summary.suppressed_by_rule) {
    auto* note = result.add_notes();
    note->set_rule(rule);
    note->set_cells(n);
    note->set_explanation(NoteText(rule, n, settings));
  }
  if (released->summary.rounded > 0) {
    auto* note = result.add_notes();
    note->set_rule("rounding");
    note->set_cells(released->summary.rounded);
    note->set_explanation(absl::StrCat("counts rounded to base ", settings.rounding_base,
                                       " (after suppression)"));
  }
  c::DisclosureSettings* ds = result.mutable_settings();
  *ds = access.disclosure();
  ds->set_threshold(settings.threshold);
  ds->set_rounding_base(settings.rounding_base);
  ds->set_dominance_n(settings.dominance_n);
  ds->set_dominance_k_percent(settings.dominance_k_basis_points / 100.0);
  ds->set_p_percent(settings.p_percent_basis_points / 100.0);
  for (const auto& in : bound.inputs) result.add_dataset_versions(in.manifest.dataset_version());
  result.set_release_time_unix_ms(options_.now_ms());
  if (settings.dp_enabled) {
    result.set_epsilon_spent(settings.dp_epsilon_per_release_micros / double{sdc::kMicrosPerEpsilon});
    auto b = options_.store->EpsilonBudget(project);
    if (b.ok()) result.set_epsilon_remaining((b->first - b->second) / double{sdc::kMicrosPerEpsilon});
  }
  const std::string csv = ExportCsv(result);
  result.set_output_sha256(crypto::HexEncode(crypto::Sha256(csv)));

  // The signed release record, durable in the audit log before anything leaves.
  c::ReleaseRecord rec;
  rec.set_release(release_name);
  rec.set_query_text(canonical);
  for (const auto& in : bound.inputs) {
    rec.add_dataset_versions(in.manifest.dataset_version());
    rec.add_dataset_version_hashes(in.manifest.content_sha256());
  }
  nlohmann::ordered_json rules = nlohmann::ordered_json::object();
  for (const auto& [k2, v] : released->parameters) rules[k2] = v;
  nlohmann::ordered_json by_rule = nlohmann::ordered_json::object();
  for (const auto& [k2, v] : released->summary.suppressed_by_rule) by_rule[k2] = v;
  rules["suppressed_by_rule"] = by_rule;
  rules["rounded_cells"] = released->summary.rounded;
  rec.set_rules(rules.dump());
  rec.set_engine_version(kQueryEngineVersion);
  rec.set_output_sha256(result.output_sha256());
  rec.set_cells_released(cells_released);
  rec.set_cells_suppressed(cells_suppressed);
  RETURN_IF_ERROR(SignReleaseRecord(*options_.signing_key, options_.signing_key_id, &rec));
  RETURN_IF_ERROR(control.Check("before release"));

  c::AuditEvent ev;
  // A time-ordered id like every other event's (the release is named in
  // resources): the audit store's id index then takes it at its end.
  ev.set_event_id(audit_client::NewEventId());
  ev.set_time_unix_ms(options_.now_ms());
  ev.set_service("query");
  *ev.mutable_actor() = caller;
  ev.set_action("query.release");
  ev.add_resources(release_name);
  for (const auto& r : resources) ev.add_resources(r);
  ev.set_project(project);
  ev.set_purpose(request.purpose());
  ev.set_decision(c::ALLOW);
  ev.set_reason("released after disclosure control");
  ev.set_request_sha256(crypto::HexEncode(crypto::Sha256(canonical)));
  ev.set_result_sha256(result.output_sha256());
  *ev.mutable_release() = rec;
  (*ev.mutable_details())["cells_released"] = absl::StrCat(cells_released);
  (*ev.mutable_details())["cells_suppressed"] = absl::StrCat(cells_suppressed);
  // Bounded by the caller's deadline too: a release recorded after the caller
  // gave up would be audited but never delivered.
  absl::Status audited = options_.audit->AppendSync(
      ev, control.deadline ? absl::FromChrono(*control.deadline) : absl::InfiniteFuture());
  if (!audited.ok()) {
    RecordHistory(project, id, canonical, "error", "the audit log is unavailable; nothing was released",
                  caller.subject());
    return absl::UnavailableError("the audit log is unavailable; nothing was released");
  }
  v1::StoredRelease stored;
  *stored.mutable_result() = result;
  stored.set_user(caller.subject());
  stored.set_release_record(rec.SerializeAsString());
  v1::QueryHistoryEntry entry;
  entry.set_name(absl::StrCat(project, "/queries/", id));
  entry.set_query_text(canonical);
  entry.set_time_unix_ms(result.release_time_unix_ms());
  entry.set_status("released");
  entry.set_release(release_name);
  entry.set_user(caller.subject());
  RETURN_IF_ERROR(options_.store->PutRelease(release_name, stored, entry));
  t.release = Seconds(t5, Clock::now());
  return result;
}

absl::StatusOr<v1::ExplainQueryResponse> QueryRunner::Explain(const c::Principal& caller,
                                                              const v1::RunQueryRequest& request) {
  ASSIGN_OR_RETURN(std::string text, QueryText(request));
  ASSIGN_OR_RETURN(Prepared p, Prepare(text));
  v1::ExplainQueryResponse resp;
  resp.set_canonical_sql(p.bound.canonical_sql);
  for (const auto& in : p.bound.inputs) resp.add_datasets(in.manifest.dataset_version());
  for (const auto& [d, cols] : p.bound.columns_touched) {
    for (const auto& col : cols) resp.add_columns(absl::StrCat(d, "/columns/", col));
  }
  ASSIGN_OR_RETURN(auto access, CheckAccess(caller, request.project(), &p.bound));
  resp.set_allowed(access.allowed());
  resp.set_reason(access.reason());
  if (!access.allowed()) {
    AuditDecision(caller, "query.explain", request.project(), {}, c::DENY, access.reason(),
                  request.purpose());
  }
  return resp;
}

absl::StatusOr<v1::ListQueryHistoryResponse> QueryRunner::ListHistory(
    const c::Principal& caller, const v1::ListQueryHistoryRequest& request) {
  RETURN_IF_ERROR(CheckProjectName(request.project()));
  v1::ListQueryHistoryResponse resp;
  std::string next;
  ASSIGN_OR_RETURN(auto entries, options_.store->ListHistory(request.project(), caller.subject(),
                                                             request.page_size(), request.page_token(),
                                                             &next));
  for (auto& e : entries) *resp.add_entries() = std::move(e);
  resp.set_next_page_token(next);
  return resp;
}

absl::StatusOr<v1::QueryResult> QueryRunner::GetRelease(const c::Principal& caller,
                                                        const std::string& name) {
  ASSIGN_OR_RETURN(std::string project, ProjectOf(name, "releases"));
  // A current member of the project may re-read its releases.
  ASSIGN_OR_RETURN(auto access, CheckAccess(caller, project, nullptr));
  if (!access.allowed()) {
    AuditDecision(caller, "query.release.read", project, {name}, c::DENY, access.reason(), "");
    return absl::PermissionDeniedError(access.reason());
  }
  ASSIGN_OR_RETURN(v1::StoredRelease r, options_.store->GetRelease(name));
  return r.result();
}

absl::StatusOr<v1::ExportReleaseResponse> QueryRunner::ExportRelease(
    const c::Principal& caller, const v1::ExportReleaseRequest& request) {
  ASSIGN_OR_RETURN(v1::QueryResult r, GetRelease(caller, request.name()));
  v1::ExportReleaseResponse resp;
  if (request.format() == v1::JSON) {
    resp.set_content_type("application/json");
    resp.set_content(ExportJson(r));
  } else if (request.format() == v1::CSV || request.format() == v1::OUTPUT_FORMAT_UNSPECIFIED) {
    resp.set_content_type("text/csv");
    resp.set_content(ExportCsv(r));
  } else {
    return absl::InvalidArgumentError("format must be CSV or JSON");
  }
  return resp;
}

absl::StatusOr<v1::SubjectRecordsResponse> QueryRunner::FindSubjectRecords(
    const c::Principal& caller, const v1::SubjectRecordsRequest& request) {
  if (request.pseudonyms().empty()) return absl::InvalidArgumentError("pseudonyms is empty");
  std::vector<std::string> ps(request.pseudonyms().begin(), request.pseudonyms().end());
  ASSIGN_OR_RETURN(auto resp, options_.store->FindSubjectRecords(ps));
  int64_t total = 0;
  for (const auto& d : resp.datasets()) total += d.records();
  c::AuditEvent e;
  e.set_event_id(audit_client::NewEventId());
  e.set_time_unix_ms(options_.now_ms());
  e.set_service("query");
  *e.mutable_actor() = caller;
  e.set_action("query.subject.find");
  for (const auto& d : resp.datasets()) e.add_resources(d.dataset());
  e.set_decision(c::ALLOW);
  e.set_reason("subject access request");
  (*e.mutable_details())["reference"] = request.reference();
  (*e.mutable_details())["records"] = absl::StrCat(total);
  RETURN_IF_ERROR(options_.audit->Append(e));
  return resp;
}

absl::StatusOr<v1::SubjectRecordsResponse> QueryRunner::EraseSubjectRecords(
    const c::Principal& caller, const v1::SubjectRecordsRequest& request) {
  if (request.pseudonyms().empty()) return absl::InvalidArgumentError("pseudonyms is empty");
  if (request.reference().empty()) return absl::InvalidArgumentError("reference (the DPO case) is required");
  std::vector<std::string> ps(request.pseudonyms().begin(), request.pseudonyms().end());
  ASSIGN_OR_RETURN(auto resp, options_.store->EraseSubjectRecords(ps));
  int64_t total = 0;
  c::AuditEvent e;
  e.set_event_id(audit_client::NewEventId());
  e.set_time_unix_ms(options_.now_ms());
  e.set_service("query");
  *e.mutable_actor() = caller;
  e.set_action("query.subject.erase");
  for (const auto& d : resp.datasets()) {
    total += d.records();
    e.add_resources(d.new_version());
    for (const auto& v : d.versions()) e.add_resources(v);
  }
  e.set_decision(c::ALLOW);
  e.set_reason("erasure: new versions written without the subject");
  (*e.mutable_details())["reference"] = request.reference();
  (*e.mutable_details())["records"] = absl::StrCat(total);
  (*e.mutable_details())["datasets"] = absl::StrCat(resp.datasets_size());
  // Not bounded by the caller's deadline: the erasure is done, and its record
  // must be made even if the DPO's call has gone.
  RETURN_IF_ERROR(options_.audit->AppendSync(e, absl::InfiniteFuture()));
  return resp;
}

void QueryRunner::AuditVersionCommit(const c::Principal& caller,
                                     const v1::WriteDatasetVersionResponse& r) {
  c::AuditEvent e;
  e.set_event_id(audit_client::NewEventId());
  e.set_time_unix_ms(options_.now_ms());
  e.set_service("query");
  *e.mutable_actor() = caller;
  e.set_action("query.version.commit");
  e.add_resources(r.dataset_version());
  e.set_decision(c::ALLOW);
  e.set_reason(r.already_committed() ? "already committed" : "committed");
  e.set_result_sha256(r.content_sha256());
  (*e.mutable_details())["rows"] = absl::StrCat(r.rows());
  (*e.mutable_details())["distinct_subjects"] = absl::StrCat(r.distinct_subjects());
  absl::Status s = options_.audit->Append(e);
  if (!s.ok()) log::Warning("audit append failed", {{"action", "query.version.commit"}});
}

}  // namespace datalab::query
