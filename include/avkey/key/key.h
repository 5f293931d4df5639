// A prepared avkey USB key (docs/key-format.md): its identity, its trust anchor, and
// the operations that prepare one (used by `avkey key …` and, later, the console).
//
// Reading functions never trust the key's content beyond what the console signed: the
// console's public key in key.json is the trust anchor (whoever can rewrite key.json can
// also rewrite the binary next to it; that limit is stated in docs/key-format.md).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "avkey/engine/status.h"
#include "avkey/key/crypto.h"
#include "avkey/platform/env.h"

namespace avkey::key {

inline constexpr std::string_view kPolicyDomain = "avkey-policy/1";
inline constexpr std::string_view kManifestDomain = "avkey-signatures/1";

struct KeyInfo {
  std::string root;                // the key's directory
  std::string key_id;              // "K-" + 16 hex digits
  std::string enrolled;            // RFC 3339
  std::string console_public_key;  // raw 32-byte Ed25519 public key
  std::string console;             // the console's name
  std::string secret;              // raw 32-byte journal MAC secret (key.secret)
};

// Reads KEY/key.json and KEY/key.secret. Errors name the file and the member.
Result<KeyInfo> OpenKey(const std::string& root);

// The key root for an executable at `exe_path`: three levels up when that directory holds
// key.json (KEY/bin/linux-x86_64/avkey); empty when the executable is not on a key.
std::string KeyRootForExecutable(const std::string& exe_path);

// RFC 3339 UTC with milliseconds ("2026-11-29T04:25:44.123Z") and its inverse.
std::string TimeMs(std::chrono::system_clock::time_point t);
Result<std::chrono::system_clock::time_point> ParseTime(std::string_view text);

// ---- preparing a key (console side) ----

// The console's signing identity: DIR/signer.pem (private, mode 0600) and DIR/name.
// Generated on first use. Secrets of enrolled keys are kept in DIR/keys/<key_id>.secret.

// Creates `root` as a new key signed by the signer in `signer_dir` (generated if absent):
// key.json, key.secret, journal/, quarantine/, inventory/, signatures/. Refuses an existing key.
Result<KeyInfo> InitKey(platform::Env* env, const std::string& root, const std::string& signer_dir,
                        const std::string& console_name);

// Signs `policy_text` (validated first: a policy the scanner would refuse is not signed)
// and writes KEY/avkey.toml and KEY/avkey.toml.sig durably.
Status SignPolicy(platform::Env* env, const std::string& root, const std::string& signer_dir,
                  const std::string& policy_text);

// The console's signing key in `dir` (DIR/signer.pem, mode 0600, and DIR/name), generated
// with `name` when absent and `create` is set.
Result<SigningKey> LoadSigner(platform::Env* env, const std::string& dir, const std::string& name, bool create);

// Writes `path` with the base64 signature of domain NUL content (docs/key-format.md).
Status WriteSignature(platform::Env* env, const std::string& path, const SigningKey& k, std::string_view domain,
                      std::string_view content);

// Makes the next generation gen-N in `sigdir` (a key's signatures/ or the console's own
// store) from `files`: copies them, writes and signs the manifest, renames the complete
// generation into place, switches `current`. Keeps the newest `keep` (0: all). Returns N.
Result<int> BuildGeneration(platform::Env* env, const std::string& sigdir, const SigningKey& signer,
                            const std::vector<std::string>& files, std::chrono::system_clock::time_point created,
                            int keep);

// Copies the signed generation `source_dir` (".../gen-N", e.g. from the console's store)
// onto the key unchanged, after verifying it against the key's console key; refuses one
// not newer than what the key holds. Switches `current`; keeps the two newest.
Result<int> InstallGeneration(platform::Env* env, const KeyInfo& key, const std::string& source_dir);

// The number of the newest generation on the key that verifies; 0 when none does.
int NewestVerifiedGeneration(const KeyInfo& key);

// Removes what interrupted writes left on the key (a killed process, a pulled key): files
// "NAME.tmp-PID" (platform::WriteFileDurably) and staging directories ".gen-N.tmp-PID", in
// the key root, signatures/ and inventory/*/ (the quarantine cleans its own, Quarantine::
// Recover). Only entries older than `min_age`, so a write in progress is never touched.
// Returns how many were removed.
int RemoveStaleTemporaries(const std::string& root, std::chrono::seconds min_age);

// Copies `files` (ClamAV databases, YARA rules) into a new generation, writes its manifest,
// signs it, and switches `current` to it. `created` is the signatures' date (their age is
// measured from it). Keeps the two newest generations. Returns the new generation number.
Result<int> PublishGeneration(platform::Env* env, const std::string& root, const std::string& signer_dir,
                              const std::vector<std::string>& files,
                              std::chrono::system_clock::time_point created);

}  // namespace avkey::key
