// The fleet database: every key's journal, imported, as devices, scans, detections and
// actions, plus quarantine records, inventories and signature generations.
//
// SQLite by default. The schema lives in one place (fleet_schema.cpp) as numbered
// migrations in plain SQL that PostgreSQL also accepts (TEXT times in RFC 3339, which
// sort as strings; no AUTOINCREMENT, no SQLite-only types), so a libpq back end can
// follow with the same schema and the same tests. Not thread-safe: one per thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <variant>
#include <string>
#include <vector>

#include "avkey/engine/status.h"
#include "nlohmann/json.hpp"

struct sqlite3;

namespace avkey::console {

// One value bound to a statement parameter or read from a column.
using SqlValue = std::variant<std::nullptr_t, int64_t, std::string>;
using SqlRow = std::vector<SqlValue>;

class FleetDb {
 public:
  // Opens (creating) the database file and applies pending migrations in one transaction.
  static Result<std::unique_ptr<FleetDb>> Open(const std::string& path);
  ~FleetDb();

  int schema_version() const { return version_; }

  // Runs one statement with `params` bound to ?1, ?2…; returns every row.
  Result<std::vector<SqlRow>> Query(const std::string& sql, const std::vector<SqlValue>& params = {});
  Status Exec(const std::string& sql, const std::vector<SqlValue>& params = {});
  // BEGIN IMMEDIATE / COMMIT / ROLLBACK.
  Status Begin();
  Status Commit();
  void Rollback();

 private:
  FleetDb() = default;
  Status Migrate();
  struct Closer {
    void operator()(sqlite3* db) const;
  };
  std::unique_ptr<sqlite3, Closer> db_;
  int version_ = 0;
};

// Number of migrations this build knows; the database's schema_version after Open().
int LatestSchemaVersion();

// Helpers to read columns.
std::string AsText(const SqlValue& v);
int64_t AsInt(const SqlValue& v);

}  // namespace avkey::console
