// The key's quarantine: inert, verified, restorable copies of removed files
// (docs/key-format.md, "Quarantine"). Not thread-safe; the scanner's sink owns it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "avkey/engine/status.h"
#include "avkey/platform/env.h"
#include "nlohmann/json.hpp"

namespace avkey::key {

// Who and what a quarantine record is about, beside the file's own metadata.
struct QuarantineContext {
  std::string signature, device, hostname, scan, key;
};

struct QuarantineItem {
  std::string id;
  nlohmann::json record;  // the <id>.json content
};

class Quarantine {
 public:
  Quarantine(platform::Env* env, std::string dir) : env_(env), dir_(std::move(dir)) {}

  // Copies `path` into the quarantine, verifies the copy, then removes the original.
  // If anything fails before the removal, the original stays and any partial copy is
  // deleted. Returns the item's id. `expected_sha256` (hex, optional) must match the
  // file's content: a file that changed since it was scanned is not touched.
  Result<std::string> Put(const std::string& path, const QuarantineContext& ctx,
                          const std::string& expected_sha256 = "");
  // Restores byte-identical content, permission bits and times (owner when root) to the
  // original path or `to`. Never overwrites an existing file, never restores setuid,
  // setgid or sticky bits. Without `to`, refuses an item whose device is not `device_id`
  // (when given) or whose original path is not absolute.
  Result<std::string> Restore(const std::string& id, const std::string& to = "", const std::string& device_id = "");
  // Deletes the item for good.
  Status Purge(const std::string& id);
  // Removes what an interrupted Put() or Purge() left: temporary files, and copies
  // without a record (their original was never removed: the record is written before
  // the original goes). Returns how many files were removed.
  int Recover();
  // Every item, oldest first. Records that cannot be read are reported in `problems`.
  std::vector<QuarantineItem> List(std::vector<std::string>* problems) const;
  Result<QuarantineItem> Get(const std::string& id) const;

 private:
  Result<std::string> NewId() const;
  platform::Env* env_;
  std::string dir_;
};

// Deletes `path` outright (policy `remove` with keep_copy = false), after checking its
// content still hashes to `expected_sha256` when given.
Status RemoveFile(platform::Env* env, const std::string& path, const std::string& expected_sha256);

// The file's SHA-256 (hex), read without following a final symlink.
Result<std::string> FileSha256(const std::string& path);

}  // namespace avkey::key
