// The signed policy KEY/avkey.toml (docs/key-format.md, "Policy"). One parser for the
// scanner and the console; the console refuses to sign what the scanner would refuse.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "avkey/engine/status.h"
#include "avkey/key/key.h"
#include "avkey/scan/scan.h"

namespace avkey::key {

enum class Action { kReport, kQuarantine, kRemove };
const char* ActionName(Action a);  // "report", "quarantine", "remove"

struct Policy {
  std::vector<std::string> targets = {"auto"};
  std::vector<std::string> excludes;
  uint64_t max_file_size = 100ull << 20;
  bool one_file_system = true;
  scan::ArchiveLimits limits;
  Action action = Action::kReport;
  bool keep_copy = true;
  uint32_t max_age_days = 30;
  bool inventory = true;
  bool file_hashes = false;
  std::string asset_tag = "optional";  // never | optional | required
  std::string indicator_hook;          // relative to the key root; empty: none
  std::string indicator_hook_sha256;   // the hook's content, pinned by the signed policy (hex)
};

// Parses policy text. Errors are "avkey.toml:LINE:COL: reason"; unknown keys are errors.
Result<Policy> ParsePolicy(std::string_view text, const std::string& origin = "avkey.toml");

struct LoadedPolicy {
  Policy policy;
  bool is_default = true;   // no avkey.toml on the key
  std::string sha256;       // of the policy file's bytes; empty for the default
};

// Reads KEY/avkey.toml, checks KEY/avkey.toml.sig against the key's console public key,
// parses it. A missing policy gives the defaults; a present but unsigned, tampered or
// invalid one is an error saying which.
Result<LoadedPolicy> LoadPolicy(const KeyInfo& key);

}  // namespace avkey::key
