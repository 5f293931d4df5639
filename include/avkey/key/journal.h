// The key's journal: append-only JSON Lines, hash-chained, one HMAC per record.
// The grammar is in docs/key-format.md ("Journal"); this header is shared by the
// writer (the scanner) and the readers (`avkey journal`, the console).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "avkey/engine/status.h"
#include "avkey/key/key.h"
#include "avkey/platform/env.h"
#include "nlohmann/json.hpp"

namespace avkey::key {

// One parsed record. `line` is the exact line (without '\n').
struct JournalRecord {
  uint64_t seq = 0;
  std::string time, key, device, scan, type;
  nlohmann::json payload;
  std::string prev, mac;
  std::string line;
  uint64_t line_number = 0;  // 1-based
  uint64_t offset = 0;       // byte offset of the line in the file
};

// Parses one line against the grammar (member order, types). Does not check MAC or chain.
Result<JournalRecord> ParseJournalLine(std::string_view line);

// SHA-256 (hex) that record 1's `prev` must hold for key `key_id`.
std::string JournalGenesis(const std::string& key_id);

// Appends records. One writer per key: Open() takes an exclusive flock() on the file and
// fails if another avkey holds it. Not thread-safe; the scanner's sink owns it.
class JournalWriter {
 public:
  // Opens (creating) KEY/journal/journal.jsonl. A torn tail is acknowledged by a
  // journal_repair record (written and fsynced here); `repaired` tells the caller.
  static Result<std::unique_ptr<JournalWriter>> Open(platform::Env* env, const KeyInfo& key,
                                                     const std::string& device_id);
  ~JournalWriter();

  // Appends one record; with `sync`, fsyncs before returning.
  Status Append(const std::string& scan_id, const std::string& type, const nlohmann::json& payload, bool sync);
  uint64_t last_seq() const { return seq_; }
  bool repaired() const { return repaired_; }

 private:
  JournalWriter() = default;
  std::string BuildLine(const std::string& scan_id, const std::string& type, const nlohmann::json& payload) const;
  void Advance(const std::string& line);
  Status RepairTail(uint64_t size);
  platform::Env* env_ = nullptr;
  std::string path_;
  int fd_ = -1;
  std::string key_id_, secret_, device_id_;
  uint64_t seq_ = 0;
  std::string prev_hash_;
  bool repaired_ = false;
  Status failed_;  // the first failed append; later appends return it
};

struct JournalProblem {
  uint64_t line_number = 0;
  uint64_t seq = 0;  // 0 when the line is not a record
  std::string kind;  // malformed bad-mac broken-chain seq-gap seq-order reordered wrong-key torn-tail
  std::string detail;
};

struct JournalCheck {
  std::vector<JournalRecord> records;  // every parsed record, in file order
  std::vector<JournalProblem> problems;
  std::vector<std::string> notes;      // repaired tears: reported, not failures
  bool only_torn_tail() const { return problems.size() == 1 && problems[0].kind == "torn-tail"; }
  int exit_status() const { return problems.empty() ? 0 : only_torn_tail() ? 2 : 1; }
};

// Reads and checks a journal file: grammar, MACs (when `secret` is not empty), chain,
// seq, key id, torn lines. A missing file is an empty journal; an unreadable one is an
// error; a bad record is a problem.
Result<JournalCheck> CheckJournal(const std::string& path, const std::string& key_id, const std::string& secret);

// The same checks on a journal's bytes (for tests and fuzzing).
JournalCheck CheckJournalText(std::string_view text, const std::string& key_id, const std::string& secret);

std::string JournalPath(const std::string& root);

// A member of a record (journal payload, quarantine record) read back from a key, as text,
// whatever its type: a string as is, a number or object as JSON, absent or null as "".
// Key data is hostile: this never throws. Not escaped; escape before printing.
std::string MemberText(const nlohmann::json& j, const char* key);

}  // namespace avkey::key
