// The scan layer: walks paths in parallel, reads each regular file once, feeds the
// engine, unpacks containers within budgets, and produces one ScanReport.
//
// Threading: RunScan() starts one walker thread and `jobs` worker threads; each worker
// owns an engine::Scanner and a reusable read buffer. Every ProgressSink call is made
// on the thread that called RunScan(), so a sink needs no locking.
// Errors on single files never stop the run: they become IncompleteItems (which make
// the verdict AMBER, DESIGN.md §4). RunScan() itself cannot fail.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "avkey/engine/engine.h"
#include "avkey/engine/status.h"

namespace avkey::scan {

// Budgets for one top-level file and everything unpacked from it (STYLE.md: budgets,
// not recursion). Breaching one is reported by name ("limit-depth"...) and makes the
// scan incomplete; it is never fatal. Defaults follow clamscan's where it has one.
// 0 disables a budget, except max_depth where 0 means "do not unpack containers".
struct ArchiveLimits {
  uint32_t max_depth = 16;                     // container nesting; the file itself is depth 0
  uint64_t max_unpacked_bytes = 400ull << 20;  // sum over all members (clamscan --max-scansize)
  uint64_t max_entries = 10000;                // members over all layers (clamscan --max-files)
  // A container whose members expand to more than max_ratio times its own size is a
  // bomb; checked only once the members exceed ratio_floor_bytes, so that small, highly
  // compressible files (a 2 KiB zip of 1 MiB of zeros) stay scannable.
  uint32_t max_ratio = 100;
  uint64_t ratio_floor_bytes = 8ull << 20;
  std::chrono::milliseconds max_time{120000};  // wall time per top-level file (clamscan --max-scantime)
};

// What to scan and how. Paths are raw bytes (Linux file names need not be UTF-8).
struct ScanOptions {
  std::vector<std::string> paths;
  unsigned jobs = 0;                        // 0: the number of online CPUs
  uint64_t max_file_size = 100ull << 20;    // larger files are "too-large"; 0: no limit
  std::vector<std::string> excludes;        // fnmatch(3) globs; see MatchesExclude()
  bool follow_symlinks = false;             // symlinks given as PATH are always followed
  bool one_file_system = false;             // do not cross into other mounted file systems
  ArchiveLimits limits;
  std::stop_token stop;                     // request_stop(): the scan ends early, "interrupted"
};

// One match, anywhere in a file or in its unpacked members.
struct DetectionRecord {
  std::string path;                  // the file on disk (raw bytes)
  std::vector<std::string> members;  // member chain inside it, outermost first (raw bytes)
  std::string signature;             // exactly as the database names it
  engine::EngineKind engine = engine::EngineKind::kHash;
  std::string sha256;                // hex SHA-256 of the layer that matched (innermost member)
  std::string action = "report";     // what the policy asked for
  std::string action_result = "none";  // none | quarantined | removed | failed
  std::string action_detail;           // why it failed, for the operator ("... No space left on device")
  bool resolved() const { return action_result == "quarantined" || action_result == "removed"; }
};

// Something that could not be scanned completely. `code` is stable (see docs/cli.md);
// `reason` is "code (words)" for people.
struct IncompleteItem {
  std::string path;
  std::vector<std::string> members;
  std::string code;    // permission-denied vanished io-error too-large not-found encrypted
                       // limit-depth limit-ratio limit-unpacked limit-entries limit-time limit-script
                       // corrupt-archive unsupported-format interrupted scan-error
  std::string reason;  // code + " (" + detail + ")", or just code
};

struct ScanCounts {
  uint64_t files = 0;       // regular files opened and scanned (top level only)
  uint64_t bytes = 0;       // bytes read from disk
  uint64_t members = 0;     // container members scanned
  uint64_t skipped = 0;     // not regular, symlink not followed, excluded, other file system...
  uint64_t incomplete = 0;  // == incomplete.size()
  uint64_t detections = 0;  // == detections.size()
  // Files whose size or modification time changed while they were read (a log being
  // written): scanned as read, not incomplete; their paths are in ScanReport::changed.
  uint64_t changed = 0;
};

enum class Verdict : int { kBlue = 0, kRed = 1, kAmber = 2, kGreen = 3 };
const char* VerdictName(Verdict v);  // "BLUE", "RED", "AMBER", "GREEN"
struct ScanReport;
// The verdict's reason in plain words for the operator, the journal and the report:
// "1 threat remains on this device: call IT security", "scan incomplete: signatures too
// old; 3 permission-denied".
std::string VerdictReason(const ScanReport& report);

struct ScanReport {
  ScanCounts counts;
  std::vector<DetectionRecord> detections;  // sorted by path, members, signature
  std::vector<IncompleteItem> incomplete;   // sorted by path, members, code
  std::vector<std::string> changed;         // sorted; up to kMaxChangedListed of counts.changed
  static constexpr size_t kMaxChangedListed = 1000;
  bool interrupted = false;
  std::chrono::system_clock::time_point started;
  std::chrono::system_clock::time_point finished;

  // DESIGN.md §4: RED if a threat remains; else GREEN if threats were all removed;
  // else AMBER if anything is incomplete (or the scan was interrupted); else BLUE.
  Verdict verdict() const;
};

// A snapshot for a live progress line.
struct Progress {
  uint64_t files = 0;
  uint64_t bytes = 0;
  uint64_t detections = 0;
  uint64_t incomplete = 0;
  uint64_t files_found = 0;  // regular files the walker has queued so far
  bool walk_done = false;    // files_found is final: an ETA can be given
  std::string current_path;  // raw bytes; a file some worker is reading now
  std::chrono::steady_clock::duration elapsed{};
};

// Receives events while a scan runs, always on RunScan()'s calling thread.
class ProgressSink {
 public:
  virtual ~ProgressSink() = default;
  virtual void OnProgress(const Progress&) {}                 // about 5 times a second
  virtual void OnDetection(const DetectionRecord&) {}         // in arrival order
  virtual void OnIncomplete(const IncompleteItem&) {}         // in arrival order
};

// Scans options.paths with `db`. `sink` may be null. Never fails as a whole: what it
// could not do is in ScanReport::incomplete.
ScanReport RunScan(const ScanOptions& options, std::shared_ptr<const engine::Database> db,
                   ProgressSink* sink);

// True if `path` (raw bytes) is excluded by `glob`: a glob without '/' is matched
// against the base name, one with '/' against the whole path (fnmatch(3), flags 0, so
// '*' also matches '/').
bool MatchesExclude(std::string_view path, const std::string& glob);

// Parses "100M", "1.5G", "4096", "64k" (powers of 1024; suffix K M G T, optional "iB"/"B").
Result<uint64_t> ParseSize(std::string_view text);

// Makes raw bytes printable and unambiguous: invalid UTF-8 bytes become "\xNN" and a
// backslash becomes "\\"; with `escape_controls`, C0 controls and DEL also become "\xNN"
// (terminal output: a hostile file name must not move the cursor or recolour the verdict).
std::string EscapeName(std::string_view raw, bool escape_controls);

// Only the C0 controls and DEL of already-valid text become "\xNN" (for printing text that
// was escaped for storage with EscapeName(raw, false)).
std::string EscapeControls(std::string_view text);

// "path//member//member", each part escaped with EscapeName().
std::string DisplayPath(const std::string& path, const std::vector<std::string>& members,
                        bool escape_controls);

}  // namespace avkey::scan
