// avkey-console: the admin desk. Prepares keys, keeps the signed signature generations and
// the policy, imports every key's journal into the fleet database, queries and reports.
//
// The console home (--home DIR):
//   signer.pem, name, keys/<key_id>.secret   the signing identity (key.h's signer directory)
//   fleet.sqlite                             the fleet database (fleet.h)
//   signatures/gen-N/                        every signed generation (same format as on a key)
//   policy.toml                              the policy signed onto keys
//   bin/avkey                                the scanner copied onto keys
// Not thread-safe; one Console per process.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "avkey/console/fleet.h"
#include "avkey/console/report.h"
#include "avkey/engine/status.h"
#include "avkey/key/crypto.h"
#include "avkey/platform/env.h"

namespace avkey::console {

class Console {
 public:
  // Creates the home: signing key, database, the scanner's copy (from `scanner_path`).
  static Result<std::unique_ptr<Console>> Init(const std::string& home, const std::string& name,
                                               const std::string& scanner_path);
  // Opens an initialised home (error if there is none).
  static Result<std::unique_ptr<Console>> Open(const std::string& home);

  FleetDb& db() { return *db_; }
  const std::string& home() const { return home_; }
  const std::string& name() const { return name_; }

  struct AddedGeneration {
    int generation = 0;
    uint64_t signatures = 0;
    std::vector<std::string> files;
    std::vector<std::string> problems;  // signatures skipped while loading, "file:line: why"
  };
  // Expands directories (their signature files, not recursively), checks the set loads
  // (all of it compiled once, with the built-in signatures, as the scanner will), then
  // makes it the next signed generation.
  Result<AddedGeneration> AddSignatures(const std::vector<std::string>& paths,
                                        std::chrono::system_clock::time_point created);
  // The newest generation's directory, or "" when there is none.
  std::string NewestGeneration() const;

  // Checks `text` as the scanner would and stores it as the policy for keys.
  Status SetPolicy(const std::string& text);

  // Lays out a key in `dir`: key.json and secret, the scanner, signed policy, newest
  // signatures; records it in the fleet database with its site.
  Result<std::string> PrepareKey(const std::string& dir, const std::string& site);

  struct SyncSummary {
    std::string key_id;
    bool refused = false;               // the journal was not imported
    std::vector<std::string> problems;  // why, when refused; each names a record
    std::vector<std::string> notes;     // torn records acknowledged, torn tail left for next time
    uint64_t records = 0, scans = 0, detections = 0, actions = 0, devices = 0;
    uint64_t inventories = 0, quarantine_items = 0;
    int generation_pushed = 0;
    bool policy_pushed = false;
    bool binary_replaced = false;
  };
  // Verifies the key's journal (chain, MACs, continuity with the last import), imports
  // what is new in one transaction (idempotent), collects inventories and quarantine
  // records, then pushes the newest generation, the policy and the scanner.
  Result<SyncSummary> SyncKey(const std::string& dir);

  // Fills an audit report from the database. `since`: RFC 3339 or empty; `site` or empty.
  Result<AuditReport> BuildReport(const std::string& since, const std::string& site);

  struct HuntHit {
    std::string device_id, hostname, scan_id, collected_at, path, sha256, signature;
  };
  struct HuntResult {
    std::vector<HuntHit> hits;
    uint64_t sha256_signatures = 0;  // usable: inventories hold SHA-256 only
    uint64_t other_signatures = 0;   // MD5/SHA-1 hash signatures, which cannot be checked
    std::vector<std::string> problems;
  };
  // Checks the stored file-hash inventories against the SHA-256 hash signatures in
  // `files` (.hdb/.hsb lines HASH:SIZE:NAME).
  Result<HuntResult> Hunt(const std::vector<std::string>& files);

 private:
  Console() = default;
  std::string home_, name_;
  std::unique_ptr<key::SigningKey> signer_;
  std::unique_ptr<FleetDb> db_;
  platform::Env* env_ = platform::Env::Default();
};

// $AVKEY_CONSOLE_HOME, else $HOME/.local/share/avkey-console.
std::string DefaultHome();

}  // namespace avkey::console
