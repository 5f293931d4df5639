#include "avkey/console/fleet.h"

#include <sqlite3.h>

#include "fmt/format.h"

namespace avkey::console {

const std::vector<std::string>& Migrations();

namespace {

struct StmtFinalizer {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

}  // namespace

void FleetDb::Closer::operator()(sqlite3* db) const { sqlite3_close_v2(db); }

int LatestSchemaVersion() { return static_cast<int>(Migrations().size()); }

std::string AsText(const SqlValue& v) {
  if (auto s = std::get_if<std::string>(&v)) return *s;
  if (auto i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  return "";
}

int64_t AsInt(const SqlValue& v) {
  if (auto i = std::get_if<int64_t>(&v)) return *i;
  if (auto s = std::get_if<std::string>(&v)) return std::atoll(s->c_str());
  return 0;
}

Result<std::unique_ptr<FleetDb>> FleetDb::Open(const std::string& path) {
  std::unique_ptr<FleetDb> f(new FleetDb());
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  f->db_.reset(raw);
  if (rc != SQLITE_OK) {
    return Fail(fmt::format("{}: {}", path, raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  sqlite3_busy_timeout(raw, 10000);
  // WAL: readers (reports) do not block a sync; FULL: a committed import survives power loss.
  Status s = f->Exec("PRAGMA journal_mode=WAL");
  if (s.ok()) s = f->Exec("PRAGMA synchronous=FULL");
  if (s.ok()) s = f->Exec("PRAGMA foreign_keys=ON");
  if (s.ok()) s = f->Migrate();
  if (!s.ok()) return Fail(path + ": " + s.message());
  return f;
}

FleetDb::~FleetDb() = default;

Status FleetDb::Migrate() {
  Status s = Exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
  if (!s.ok()) return s;
  auto rows = Query("SELECT MAX(version) FROM schema_version");
  if (!rows) return Status::Error(rows.error());
  version_ = rows->empty() ? 0 : static_cast<int>(AsInt((*rows)[0][0]));
  const auto& m = Migrations();
  if (version_ > static_cast<int>(m.size())) {
    return Status::Error(fmt::format("the database has schema version {}, newer than this console ({}): upgrade "
                                     "the console",
                                     version_, m.size()));
  }
  for (size_t v = static_cast<size_t>(version_); v < m.size(); ++v) {
    s = Begin();
    if (!s.ok()) return s;
    char* err = nullptr;
    if (sqlite3_exec(db_.get(), m[v].c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = fmt::format("migration {}: {}", v + 1, err ? err : "failed");
      sqlite3_free(err);
      Rollback();
      return Status::Error(msg);
    }
    s = Exec("INSERT INTO schema_version (version) VALUES (?1)", {static_cast<int64_t>(v + 1)});
    if (s.ok()) s = Commit();
    if (!s.ok()) {
      Rollback();
      return s;
    }
    version_ = static_cast<int>(v + 1);
  }
  return Status::Ok();
}

Result<std::vector<SqlRow>> FleetDb::Query(const std::string& sql, const std::vector<SqlValue>& params) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db_.get(), sql.c_str(), static_cast<int>(sql.size()), &raw, nullptr) != SQLITE_OK) {
    return Fail(fmt::format("{} ({})", sqlite3_errmsg(db_.get()), sql.substr(0, 60)));
  }
  StmtPtr stmt(raw);
  for (size_t i = 0; i < params.size(); ++i) {
    int idx = static_cast<int>(i + 1);
    const SqlValue& p = params[i];
    if (auto v = std::get_if<int64_t>(&p)) {
      sqlite3_bind_int64(raw, idx, *v);
    } else if (auto t = std::get_if<std::string>(&p)) {
      sqlite3_bind_text(raw, idx, t->data(), static_cast<int>(t->size()), SQLITE_TRANSIENT);
    } else {
      sqlite3_bind_null(raw, idx);
    }
  }
  std::vector<SqlRow> rows;
  for (;;) {
    int rc = sqlite3_step(raw);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return Fail(fmt::format("{} ({})", sqlite3_errmsg(db_.get()), sql.substr(0, 60)));
    SqlRow row;
    int n = sqlite3_column_count(raw);
    for (int c = 0; c < n; ++c) {
      switch (sqlite3_column_type(raw, c)) {
        case SQLITE_INTEGER: row.emplace_back(static_cast<int64_t>(sqlite3_column_int64(raw, c))); break;
        case SQLITE_NULL: row.emplace_back(nullptr); break;
        default: {
          const unsigned char* t = sqlite3_column_text(raw, c);
          row.emplace_back(std::string(reinterpret_cast<const char*>(t), sqlite3_column_bytes(raw, c)));
        }
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

Status FleetDb::Exec(const std::string& sql, const std::vector<SqlValue>& params) {
  auto r = Query(sql, params);
  return r ? Status::Ok() : Status::Error(r.error());
}

Status FleetDb::Begin() { return Exec("BEGIN IMMEDIATE"); }
Status FleetDb::Commit() { return Exec("COMMIT"); }
void FleetDb::Rollback() { (void)Exec("ROLLBACK"); }

}  // namespace avkey::console
