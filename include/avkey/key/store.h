// The key's signature store: signed generations KEY/signatures/gen-N/ and the `current`
// pointer (docs/key-format.md, "Signature store").
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "avkey/engine/status.h"
#include "avkey/key/key.h"

namespace avkey::key {

struct Generation {
  int number = 0;
  std::string dir;                                // KEY/signatures/gen-N
  std::chrono::system_clock::time_point created;
  std::string created_text;                       // as in the manifest
  std::vector<std::string> files;                 // the listed signature files (absolute paths)
  bool compiled = false;                          // the manifest lists a compiled-pattern cache (*.avkc)
  std::vector<std::string> listed;                // every file name the manifest lists
  // Every listed file as the signed manifest gives it (path as in `files`). The engine
  // checks the bytes it loads against these again (DatabaseBuilder::SetTrustedFiles):
  // the key stays writable to the device while the scanner starts.
  struct Pinned {
    std::string path;
    uint64_t size = 0;
    std::string sha256;
  };
  std::vector<Pinned> pinned;
};

// Checks one generation: manifest signature, generation number, every file's size and
// SHA-256, no path tricks. The error says what failed.
// With `hash_caches` false, the compiled caches (*.avkc) are checked for size only: the
// scanner's engine checks their bytes as it loads them (DatabaseBuilder::SetTrustedFiles,
// with `pinned`), refuses one that is not as signed and compiles instead. Hashing tens of
// megabytes twice at every start would buy nothing.
Result<Generation> VerifyGeneration(const KeyInfo& key, int number, bool hash_caches = true);
// The same for the generation directory `dir` (".../gen-N"), against `public_key`.
Result<Generation> VerifyGenerationDir(const std::string& public_key, const std::string& dir, int number,
                                       bool hash_caches = true);

struct ActiveGeneration {
  Generation generation;
  std::vector<std::string> warnings;  // generations refused before this one, and why
};

// The generation to scan with: the one `current` names if it verifies, else the newest
// that does. Error (with every refusal) when none does.
Result<ActiveGeneration> SelectGeneration(const KeyInfo& key);

// Generation numbers present under KEY/signatures, ascending.
std::vector<int> ListGenerations(const std::string& root);
// Generation numbers present in a signatures directory, ascending.
std::vector<int> ListGenerationsIn(const std::string& sigdir);

}  // namespace avkey::key
