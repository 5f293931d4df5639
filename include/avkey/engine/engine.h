// The engine: signatures in, detections out.
//
// DatabaseBuilder reads ClamAV-format databases and YARA rules and compiles them into
// one immutable Database. A Database is shared (read-only, thread-safe) by any number
// of Scanners; a Scanner is per thread and owns all mutable scan state (Vectorscan
// scratch, buffers), so the hot path does not allocate after warm-up.
// The engine knows nothing of files on disk beyond reading signature sources.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "avkey/engine/status.h"

namespace avkey::engine {

// Which engine fired.
enum class EngineKind : uint8_t { kHash, kBody, kLogical, kYara };
const char* EngineName(EngineKind kind);  // "hash", "body", "logical", "yara"

// ClamAV target types (.ndb field 2, .ldb "Target:"), used for file-type filtering.
enum class TargetType : uint8_t {
  kAny = 0, kPE = 1, kOLE2 = 2, kHTML = 3, kMail = 4, kGraphics = 5, kELF = 6,
  kText = 7, kMachO = 9, kPDF = 10, kFlash = 11, kJava = 12,
};

// One signature (or whole source) that could not be loaded; only that one is skipped.
struct LoadProblem {
  std::string file;     // source file (container members as "daily.cvd//daily.ndb")
  uint64_t line = 0;    // 1-based; 0 when the problem concerns the whole file
  std::string reason;   // e.g. "Can't find a static subpattern of length 2"
};

// What a load produced: counts per kind, and every skipped signature with its reason.
struct LoadReport {
  uint64_t hash = 0;          // .hdb .hsb (whole-file hashes)
  uint64_t section_hash = 0;  // .mdb .msb
  uint64_t body = 0;          // .ndb
  uint64_t logical = 0;       // .ldb
  uint64_t yara = 0;          // YARA rules
  uint64_t allow = 0;         // .fp .sfp
  uint64_t ignore = 0;        // .ign .ign2
  uint64_t flevel_skipped = 0;  // not for this engine's functionality level (not an error)
  std::vector<std::string> files;  // sources read, in load order
  std::vector<LoadProblem> problems;
  // Compiled-pattern cache: "disabled", "hit", "hit (portable build: ...)" (the build for
  // any CPU, and why this CPU's was not used), "miss" (compiled and stored), or
  // "rejected: <why>" (present but corrupt/stale/other CPU: compiled again).
  std::string cache_state = "disabled";
  // The targets with a Vectorscan database of their own (one per target that some body
  // or logical pattern has; a layer is searched only with the one for its target).
  std::vector<uint8_t> pattern_targets;
  // Patterns of targets 0 and 7 that can match a text layer's normalised form (lower case,
  // printable): what the normalised pass searches for. 0: that pass searches for nothing.
  size_t normalized_text_patterns = 0;
  // The parsed signature tables in the same cache (the next start maps them instead of
  // parsing the sources): "disabled", "hit", "miss" (parsed and stored), "rejected: <why>"
  // (parsed and stored again), or "not written: <why>".
  std::string parsed_cache = "disabled";
  // YARA prefilter (files no source rule can match are not handed to libyara): "none" (no
  // YARA source rules), "on (N rules gated...)" or "off (<first reason>)".
  std::string yara_prefilter = "none";
  // Compiled YARA source rules in the same cache: "disabled", "hit", "miss" (compiled and
  // stored) or "rejected: <why>" (compiled again); "none" without YARA source rules.
  std::string yara_cache = "none";
  uint64_t total() const { return hash + section_hash + body + logical + yara; }
};

// One match. Names are exactly as clamscan reports them (".UNOFFICIAL" for plain files).
struct Detection {
  std::string name;
  EngineKind engine = EngineKind::kHash;
  bool operator==(const Detection&) const = default;
};

// One layer above the bytes being scanned, typed as ClamAV types it ("CL_TYPE_ZIP"), for
// the .ldb Container and Intermediates conditions. `normalized`: a layer ClamAV makes by
// normalising (the data: URIs of an HTML file sit in one): those conditions skip it, but
// it counts towards the depth Intermediates requires.
struct LayerType {
  std::string_view type;
  bool normalized = false;
};

// What the caller knows about the bytes being scanned.
struct ScanContext {
  std::string_view file_name;  // base name (YARA "filename", "extension")
  std::string_view file_path;  // full path or member chain (YARA "filepath")
  std::string_view owner;      // file owner's user name if known (YARA "owner")
  // The containers the bytes came out of, outermost (the file on disk) first; empty for
  // a file itself. A .tar.gz member has {GZ, POSIX_TAR}: each decoding step is a layer.
  std::span<const LayerType> ancestors = {};
  // "CL_TYPE_X" when the bytes are re-scanned as that type because an .ldb HandlerType
  // signature asked for it (Scanner::handler_matches): they are then scanned as that type
  // instead of the type detected from their content. Empty for an ordinary scan.
  std::string_view scan_as = {};
};

// An .ldb signature with "HandlerType:CL_TYPE_X" whose conditions held on a layer. clamscan
// does not report it there: it re-scans the layer's bytes as type X, one layer deeper,
// and reports what that re-scan finds (docs/signatures.md).
struct HandlerMatch {
  std::string name;  // as it would be reported (".UNOFFICIAL" for plain files)
  std::string type;  // "CL_TYPE_X"
  bool operator==(const HandlerMatch&) const = default;
};

class Database;

// Collects signature sources, then compiles them. Not thread-safe.
class DatabaseBuilder {
 public:
  DatabaseBuilder();
  ~DatabaseBuilder();
  DatabaseBuilder(const DatabaseBuilder&) = delete;
  DatabaseBuilder& operator=(const DatabaseBuilder&) = delete;

  // Adds a signature file (format chosen by extension, as ClamAV does) or every
  // supported file of a directory (sorted by name, not recursive). The file is read now
  // for the identity and parsed by Build(), unless the cache has its parsed tables.
  // Per-signature problems go to the report at Build(); an error is returned here only
  // when the path itself cannot be read or holds no supported database.
  Status AddPath(const std::filesystem::path& path);
  // Adds in-memory source text; `name` carries the extension ("builtin.ndb").
  // `official` sources are reported without the ".UNOFFICIAL" suffix.
  Status AddSource(std::string_view name, std::string_view content, bool official);

  // Keeps compiled pattern databases and the parsed signature tables in `dir`, keyed by
  // the content hash of the sources and the library versions, so the next Build() with
  // the same signatures skips parsing and compilation. A cache file that is corrupt, from another version or for
  // another CPU is detected, ignored and replaced; it is never trusted unchecked.
  // With `read_only`, a cache file is used when it matches but never written (a signed
  // generation on a key ships the console's compiled patterns; the scanner must not add
  // files there).
  void SetCacheDirectory(std::filesystem::path dir, bool read_only = false);
  // Also stores, next to the build for this CPU, a build for any CPU, used by a CPU without
  // this one's features (AVX2, AVX-512): a key prepared on a recent workstation then starts
  // warm on an old device instead of compiling there. Costs a second compilation.
  void SetPortableCache(bool on);

  // Pins the content of the files this builder may read: path -> size and SHA-256, as a
  // signed manifest lists them (a key's generation). Once set, every file Build() reads,
  // signature sources and cache files alike, must be listed, and the bytes it actually
  // uses are the bytes it checked: cache files are then read into private memory instead
  // of mapped, so that a device writing to the key after the manifest was verified
  // cannot change what is loaded. A source that does not match is an error; a cache file
  // that does not is refused (and the signatures compiled instead).
  struct FileDigest {
    uint64_t size = 0;
    std::string sha256;  // 64 lower-case hex digits
  };
  void SetTrustedFiles(std::map<std::string, FileDigest> files);

  // Whether text layers are also matched in ClamAV's normalised form (lower case,
  // whitespace runs as one space): on by default, as clamscan's --normalize=yes.
  void SetTextNormalization(bool on);

  // Compiles everything added so far. The builder may not be reused afterwards.
  Result<std::shared_ptr<const Database>> Build();

  const LoadReport& report() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Immutable compiled signatures. Thread-safe for concurrent Scanners.
class Database {
 public:
  ~Database();
  const LoadReport& report() const;
  // Hex SHA-256 over the base names and contents of every source added (a container
  // counts as its bytes), in load order: the same set of signatures has the same
  // identity wherever its files are.
  const std::string& identity() const;

  struct Impl;
  explicit Database(std::unique_ptr<Impl> impl);
  const Impl& impl() const { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

// Per-thread scanner. Not thread-safe; create one per worker.
class Scanner {
 public:
  explicit Scanner(std::shared_ptr<const Database> db);
  ~Scanner();
  Scanner(const Scanner&) = delete;
  Scanner& operator=(const Scanner&) = delete;

  // Scans one layer of bytes (a file or an extracted member) and replaces *out with
  // every signature that matches (clamscan --allmatch), sorted by engine then name,
  // after the allow (.fp/.sfp) and ignore (.ign2) lists are applied.
  Status Scan(std::span<const uint8_t> data, const ScanContext& context,
              std::vector<Detection>* out);
  // The type the last Scan() detected (kAny for a layer too small to be scanned), so a
  // caller need not detect it again.
  TargetType last_type() const;
  // The HandlerType signatures that matched the last Scan()'s bytes, in the order
  // clamscan evaluates them (target-specific ones first, then Target:0; each in load
  // order). They are not in Scan()'s *out: the caller decides between re-scanning the
  // layer as each type and reporting the signature (scan/layers.cpp does as clamscan).
  // Exceptions, reported in *out as clamscan reports them: a match in a normalised HTML
  // buffer, and on a layer typed CL_TYPE_BINARY_DATA (clamscan matches those again in a
  // pass that reports a HandlerType signature like any other).
  std::span<const HandlerMatch> handler_matches() const;
  // Empty, or why the last Scan() matched less than clamscan would have: a budget of
  // avkey's own cut the layer's derived bytes short (the JavaScript normaliser's, against
  // hostile scripts; clamscan has none). Its detections stand; a caller reports the
  // layer incomplete (scan/layers.cpp: limit-script).
  std::string_view last_limit() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// avkey's own signatures compiled into the binary (EICAR, the ClamAV test file,
// a few YARA rules for test artefacts): a scan works with no --db.
Status AddBuiltinSignatures(DatabaseBuilder* builder);

// Lower-case hex of `bytes`: the one hex encoder of every layer (digests, ids, identities).
std::string HexString(std::span<const uint8_t> bytes);

// Library versions linked in: "vectorscan 5.4.9, libyara 4.2.3, ...".
std::string LibraryVersions();

}  // namespace avkey::engine
