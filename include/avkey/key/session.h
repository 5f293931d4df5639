// One `avkey scan` run from a key: the key's policy and signatures decide what is
// scanned and what happens to a detection; every step is journaled on the key.
//
// Use: Open() → db_paths() for the engine → Start() → RunScan(MakeScanOptions(), …,
// Sink(inner)) → Finish(&report). Not thread-safe: RunScan calls the sink on the thread
// that called it, which is the one that owns the session (STYLE.md: one sink owns the
// journal and the quarantine so records are ordered).
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "avkey/engine/status.h"
#include "avkey/key/journal.h"
#include "avkey/key/key.h"
#include "avkey/key/policy.h"
#include "avkey/key/quarantine.h"
#include "avkey/key/store.h"
#include "avkey/platform/env.h"
#include "avkey/scan/scan.h"

namespace avkey::key {

struct SessionOptions {
  std::string root;                // the key's directory
  std::vector<std::string> paths;  // explicit targets; empty: the policy's
  std::string asset_tag;           // from --asset-tag or the operator's answer
  unsigned jobs = 0;
};

class KeySession {
 public:
  // Opens the key and its journal (taking its lock), then checks the policy and the
  // signatures. An error here means nothing can be journaled (no key, journal locked or
  // unwritable). A refused policy or signature set is not an error: see refusal().
  static Result<std::unique_ptr<KeySession>> Open(platform::Env* env, const SessionOptions& options);

  // Why the scan must not run (policy refused, no trusted signatures); empty when it may.
  const std::string& refusal() const { return refusal_; }
  const std::vector<std::string>& warnings() const { return warnings_; }
  const KeyInfo& key() const { return key_; }
  const Policy& policy() const { return policy_.policy; }
  const std::string& scan_id() const { return scan_id_; }
  const std::string& device_id() const { return device_id_; }
  // The generation's signature files, for engine::DatabaseBuilder::AddPath().
  const std::vector<std::string>& db_paths() const { return generation_.files; }
  // The generation's directory when it ships compiled patterns (a read-only cache), else "".
  std::string compiled_cache_dir() const { return generation_.compiled ? generation_.dir : ""; }
  // Size and SHA-256 of every file of the generation, for DatabaseBuilder::SetTrustedFiles().
  const std::vector<Generation::Pinned>& pinned_files() const { return generation_.pinned; }

  void SetAssetTag(std::string tag) { options_.asset_tag = std::move(tag); }
  // Refuses the scan after Open() (e.g. the signatures would not load); before Start().
  void Refuse(std::string why) { refusal_ = std::move(why); }

  // Resolves the targets ("auto": the mount table), journals scan_started (fsynced).
  // New warnings() may appear (a missing mount table).
  Status Start(const std::string& db_identity, uint64_t signatures, const std::string& cache_state = "");
  scan::ScanOptions MakeScanOptions() const;
  // The sink to give RunScan: journals and acts, then forwards to `inner` (may be null).
  scan::ProgressSink* Sink(scan::ProgressSink* inner);
  // Completes the report (action results, signature age, journal trouble), writes the
  // inventory, journals the rest and scan_finished (fsynced), runs the indicator hook.
  void Finish(scan::ScanReport* report);

  ~KeySession();

 private:
  class ActionSink;
  KeySession() = default;
  void Act(const scan::DetectionRecord& d);
  void JournalOrNote(const std::string& type, const nlohmann::json& payload, bool sync);
  void RunIndicatorHook(const scan::ScanReport& report);
  // The explicit PATHs, or the policy's targets with "auto" resolved.
  std::vector<std::string> ResolveTargets();

  platform::Env* env_ = nullptr;
  SessionOptions options_;
  KeyInfo key_;
  LoadedPolicy policy_;
  Generation generation_;
  std::string refusal_;
  std::vector<std::string> warnings_;
  std::vector<std::string> targets_;  // resolved by Start()
  std::unique_ptr<JournalWriter> journal_;
  std::vector<std::string> journal_errors_;
  std::string device_id_, scan_id_, hostname_;
  struct Outcome {
    std::string result;  // quarantined | removed | failed
    std::string detail;  // quarantine id or error
  };
  std::map<std::string, Outcome> outcomes_;  // by path on disk
  std::unique_ptr<Quarantine> quarantine_;
  std::unique_ptr<ActionSink> sink_;
  uint64_t incomplete_journaled_ = 0;
  uint64_t incomplete_more_ = 0;
};

// The "auto" scan targets: mount points of local, non-removable, non-pseudo file systems
// in `mounts` (/proc/self/mounts text), minus the file system holding the key (`key_dev`),
// one per file system. `sys_root` is "/" except in tests; `dev_of` gives a path's st_dev
// (false: the mount point cannot be reached, and is skipped).
std::vector<std::string> AutoTargets(const std::string& mounts, const std::string& sys_root, dev_t key_dev,
                                     const std::function<bool(const std::string&, dev_t*)>& dev_of);

}  // namespace avkey::key
