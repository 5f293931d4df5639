#include "avkey/key/journal.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "avkey/key/crypto.h"
#include "fmt/format.h"

namespace avkey::key {
namespace {

constexpr std::array<const char*, 9> kMembers = {"seq", "time", "key", "device", "scan", "type", "payload", "prev", "mac"};
constexpr std::string_view kMacMember = ",\"mac\":\"";
constexpr size_t kMacSuffix = kMacMember.size() + 64 + 2;  // ,"mac":"<64 hex>"}
constexpr uint64_t kMaxJournalBytes = 1ull << 30;

std::string JsonString(std::string_view s) {
  return nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool IsHex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// The bytes a record's MAC covers: everything before ,"mac":
std::string_view MacCovered(std::string_view line) { return line.substr(0, line.size() - kMacSuffix); }

// The byte range [begin, end) of the last '\n'-terminated line before `end`, read from the
// tail of `fd` (journals can be large; only the tail is read).
struct Tail {
  std::string last_line;  // without '\n'; empty when there is none
  uint64_t last_line_offset = 0;
  std::string torn;       // bytes after the last '\n'
  uint64_t torn_offset = 0;
};

Result<Tail> ReadTail(int fd, uint64_t size, const std::string& path) {
  Tail t;
  std::string buf;  // the file's bytes [start, size)
  uint64_t start = size;
  auto grow = [&]() -> Status {
    uint64_t chunk = std::min<uint64_t>(start, std::max<uint64_t>(65536, buf.size()));
    std::string more(chunk, '\0');
    uint64_t at = start - chunk;
    size_t got = 0;
    while (got < chunk) {
      ssize_t n = ::pread(fd, more.data() + got, chunk - got, static_cast<off_t>(at + got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return Status::Error(fmt::format("{}: read: {}", path, n < 0 ? std::strerror(errno) : "short read"));
      got += static_cast<size_t>(n);
    }
    buf.insert(0, more);
    start = at;
    return Status::Ok();
  };
  // Find the last '\n', then the one before it (or the start of the file).
  size_t last_nl = std::string::npos;
  while (true) {
    last_nl = buf.rfind('\n');
    if (last_nl != std::string::npos || start == 0) break;
    Status s = grow();
    if (!s.ok()) return Fail(s.message());
  }
  if (last_nl == std::string::npos) {
    t.torn = buf;
    t.torn_offset = start;
    return t;
  }
  t.torn = buf.substr(last_nl + 1);
  t.torn_offset = start + last_nl + 1;
  size_t prev_nl;
  while (true) {
    prev_nl = last_nl == 0 ? std::string::npos : buf.rfind('\n', last_nl - 1);
    if (prev_nl != std::string::npos || start == 0) break;
    size_t before = buf.size();
    Status s = grow();
    if (!s.ok()) return Fail(s.message());
    last_nl += buf.size() - before;
  }
  size_t begin = prev_nl == std::string::npos ? 0 : prev_nl + 1;
  t.last_line = buf.substr(begin, last_nl - begin);
  t.last_line_offset = start + begin;
  return t;
}

// One line of a journal file, '\n' excluded; the last may lack its '\n' (a tear).
struct JournalLine {
  std::string_view text;
  uint64_t offset, number;  // byte offset, 1-based line number
  bool terminated;
};

std::vector<JournalLine> SplitJournalLines(std::string_view all) {
  std::vector<JournalLine> lines;
  for (uint64_t pos = 0, number = 1; pos < all.size(); ++number) {
    size_t nl = all.find('\n', pos);
    bool terminated = nl != std::string_view::npos;
    size_t end = terminated ? nl : all.size();
    lines.push_back({all.substr(pos, end - pos), pos, number, terminated});
    pos = terminated ? nl + 1 : all.size();
  }
  return lines;
}

}  // namespace

std::string MemberText(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string JournalPath(const std::string& root) {
  return platform::JoinPath(platform::JoinPath(root, "journal"), "journal.jsonl");
}

std::string JournalGenesis(const std::string& key_id) {
  std::string g = "avkey-journal/1";
  g.push_back('\0');
  g += key_id;
  return Sha256Hex(g);
}

Result<JournalRecord> ParseJournalLine(std::string_view line) {
  if (line.size() < kMacSuffix + 2 || line.substr(line.size() - kMacSuffix, kMacMember.size()) != kMacMember ||
      line.back() != '}') {
    return Fail("not a journal record (no MAC at the end)");
  }
  nlohmann::ordered_json j;
  try {
    j = nlohmann::ordered_json::parse(line);
  } catch (const nlohmann::json::exception& e) {
    return Fail(fmt::format("not JSON: {}", e.what()));
  }
  if (!j.is_object() || j.size() != kMembers.size()) return Fail("not a journal record (wrong members)");
  size_t i = 0;
  for (auto it = j.begin(); it != j.end(); ++it, ++i) {
    if (it.key() != kMembers[i]) return Fail(fmt::format("member {} is '{}', expected '{}'", i + 1, it.key(), kMembers[i]));
  }
  JournalRecord r;
  try {
    if (!j["seq"].is_number_unsigned()) return Fail("seq is not a positive integer");
    r.seq = j["seq"].get<uint64_t>();
    r.time = j["time"].get<std::string>();
    r.key = j["key"].get<std::string>();
    r.device = j["device"].get<std::string>();
    r.scan = j["scan"].get<std::string>();
    r.type = j["type"].get<std::string>();
    if (!j["payload"].is_object()) return Fail("payload is not an object");
    r.payload = nlohmann::json::parse(j["payload"].dump());
    r.prev = j["prev"].get<std::string>();
    r.mac = j["mac"].get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    return Fail(fmt::format("bad member type: {}", e.what()));
  }
  if (!IsHex64(r.prev)) return Fail("prev is not 64 hex digits");
  if (!IsHex64(r.mac) || line.substr(line.size() - 66, 64) != r.mac) return Fail("mac is not 64 hex digits");
  r.line = std::string(line);
  return r;
}

Result<std::unique_ptr<JournalWriter>> JournalWriter::Open(platform::Env* env, const KeyInfo& key,
                                                           const std::string& device_id) {
  std::string dir = platform::JoinPath(key.root, "journal");
  Status s = platform::MakeDirs(dir);
  if (!s.ok()) return Fail(s.message());
  std::unique_ptr<JournalWriter> w(new JournalWriter());
  w->env_ = env;
  w->path_ = JournalPath(key.root);
  w->key_id_ = key.key_id;
  w->secret_ = key.secret;
  w->device_id_ = device_id;
  auto fd = env->Open(w->path_, O_RDWR | O_CREAT | O_APPEND | O_NOFOLLOW, 0644);
  if (!fd) return Fail(fd.error());
  w->fd_ = *fd;
  if (::flock(w->fd_, LOCK_EX | LOCK_NB) != 0) {
    return Fail(w->path_ + ": another avkey is using this key (the journal is locked)");
  }
  struct stat st;
  if (::fstat(w->fd_, &st) != 0) return Fail(fmt::format("{}: stat: {}", w->path_, std::strerror(errno)));
  w->prev_hash_ = JournalGenesis(key.key_id);
  if (st.st_size == 0) return w;
  auto tail = ReadTail(w->fd_, static_cast<uint64_t>(st.st_size), w->path_);
  if (!tail) return Fail(tail.error());
  auto last = tail->last_line.empty() ? Result<JournalRecord>(Fail("none")) : ParseJournalLine(tail->last_line);
  if (tail->torn.empty() && last) {  // the common case: the file ends with a whole record
    w->seq_ = last->seq;
    w->prev_hash_ = Sha256Hex(last->line);
    return w;
  }
  s = w->RepairTail(static_cast<uint64_t>(st.st_size));
  if (!s.ok()) return Fail(s.message());
  return w;
}

Status JournalWriter::RepairTail(uint64_t size) {
  // Slow path, after a pulled key, a kill or an edit: read the whole file, continue after
  // its last whole record, and acknowledge every line after that record (their bytes stay
  // in the file) so that verify can tell a tear from an edit (docs/key-format.md).
  auto text = platform::ReadFile(path_, kMaxJournalBytes);
  if (!text) return Status::Error(text.error());
  std::string_view all = std::string_view(*text).substr(0, std::min<uint64_t>(size, text->size()));
  std::vector<JournalLine> lines = SplitJournalLines(all);
  size_t first_bad = 0;
  for (size_t i = lines.size(); i-- > 0;) {
    if (!lines[i].terminated) continue;
    if (auto r = ParseJournalLine(lines[i].text)) {
      seq_ = r->seq;
      prev_hash_ = Sha256Hex(r->line);
      first_bad = i + 1;
      break;
    }
  }
  std::vector<JournalLine> run(lines.begin() + static_cast<std::ptrdiff_t>(first_bad), lines.end());
  if (run.empty()) return Status::Ok();
  std::string out = all.empty() || all.back() == '\n' ? "" : "\n";
  if (run.size() == 1 && !run[0].terminated) {
    // Everything but the final newline made it: complete the record if it is exactly the
    // next one (seq, chain and MAC), rather than acknowledging a good record as torn.
    auto r = ParseJournalLine(run[0].text);
    if (r && r->seq == seq_ + 1 && r->prev == prev_hash_ && r->key == key_id_ &&
        SecureEquals(HmacSha256Hex(secret_, MacCovered(r->line)), r->mac)) {
      Status st = env_->Write(fd_, out, path_);
      if (st.ok()) st = env_->Fsync(fd_, path_);
      if (!st.ok()) return st;
      Advance(r->line);
      repaired_ = true;
      return Status::Ok();
    }
  }
  std::vector<std::string> repairs;
  for (const auto& l : run) {
    nlohmann::json payload = {{"offset", l.offset}, {"length", l.text.size()}, {"sha256", Sha256Hex(l.text)}};
    std::string line = BuildLine("-", "journal_repair", payload);
    out += line + "\n";
    Advance(line);
  }
  // One write and one fsync for all of them: a tear here is itself acknowledged next time.
  Status st = env_->Write(fd_, out, path_);
  if (st.ok()) st = env_->Fsync(fd_, path_);
  if (!st.ok()) return st;
  repaired_ = true;
  return Status::Ok();
}

JournalWriter::~JournalWriter() {
  if (fd_ >= 0) env_->Close(fd_);  // also releases the flock
}

std::string JournalWriter::BuildLine(const std::string& scan_id, const std::string& type,
                                     const nlohmann::json& payload) const {
  std::string line = fmt::format(
      "{{\"seq\":{},\"time\":{},\"key\":{},\"device\":{},\"scan\":{},\"type\":{},\"payload\":{},\"prev\":\"{}\"",
      seq_ + 1, JsonString(TimeMs(std::chrono::system_clock::now())), JsonString(key_id_), JsonString(device_id_),
      JsonString(scan_id), JsonString(type),
      payload.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), prev_hash_);
  std::string mac = HmacSha256Hex(secret_, line);
  line += kMacMember;
  line += mac;
  line += "\"}";
  return line;
}

void JournalWriter::Advance(const std::string& line) {
  ++seq_;
  prev_hash_ = Sha256Hex(line);
}

Status JournalWriter::Append(const std::string& scan_id, const std::string& type, const nlohmann::json& payload,
                             bool sync) {
  if (!failed_.ok()) return failed_;
  std::string line = BuildLine(scan_id, type, payload);
  Status s = env_->Write(fd_, line + "\n", path_);
  if (s.ok() && sync) s = env_->Fsync(fd_, path_);
  if (!s.ok()) {
    // The file may now end in a torn record; nothing more is appended after it in this
    // run (the next writer acknowledges the tear).
    failed_ = s;
    return s;
  }
  Advance(line);
  return Status::Ok();
}

Result<JournalCheck> CheckJournal(const std::string& path, const std::string& key_id, const std::string& secret) {
  if (::access(path.c_str(), F_OK) != 0 && errno == ENOENT) return JournalCheck{};  // no scan yet
  auto text = platform::ReadFile(path, kMaxJournalBytes);
  if (!text) return Fail(text.error());
  return CheckJournalText(*text, key_id, secret);
}

JournalCheck CheckJournalText(std::string_view all, const std::string& key_id, const std::string& secret) {
  JournalCheck c;
  std::vector<JournalLine> lines = SplitJournalLines(all);
  // Every journal_repair, by line index, for acknowledging tears.
  struct Repair {
    uint64_t offset, length;
    std::string sha256;
  };
  std::vector<std::pair<size_t, Repair>> repairs;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (!lines[i].terminated || lines[i].text.find("\"type\":\"journal_repair\"") == std::string_view::npos) continue;
    auto r = ParseJournalLine(lines[i].text);
    // Read before any MAC is checked, so every member's type is checked here (found by
    // journal_fuzz: "offset" as a string threw out of the reader).
    if (r && r->type == "journal_repair" && r->key == key_id && r->payload.is_object()) {
      const auto& p = r->payload;
      auto offset = p.find("offset"), length = p.find("length"), sha = p.find("sha256");
      if (offset != p.end() && offset->is_number_unsigned() && length != p.end() && length->is_number_unsigned() &&
          sha != p.end() && sha->is_string()) {
        repairs.push_back({i, {offset->get<uint64_t>(), length->get<uint64_t>(), sha->get<std::string>()}});
      }
    }
  }
  std::string expected_prev = JournalGenesis(key_id);
  uint64_t expected_seq = 1;
  bool prev_bad_mac = false;
  std::string_view swapped_line;
  uint64_t swapped_seq = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    const JournalLine& l = lines[i];
    auto problem = [&](uint64_t seq, std::string kind, std::string detail) {
      c.problems.push_back({l.number, seq, std::move(kind), std::move(detail)});
    };
    auto r = l.terminated ? ParseJournalLine(l.text) : Result<JournalRecord>(Fail("unterminated"));
    if (!r) {
      // A tear is acknowledged by a later journal_repair naming its offset, length and hash.
      bool acknowledged = false;
      for (const auto& [at, rep] : repairs) {
        acknowledged = acknowledged || (at > i && rep.offset == l.offset && rep.length == l.text.size() &&
                                        rep.sha256 == Sha256Hex(l.text));
      }
      if (acknowledged) {
        c.notes.push_back(fmt::format("line {}: torn record ({} bytes, a key pulled or avkey killed while "
                                      "writing), acknowledged by a later record",
                                      l.number, l.text.size()));
      } else if (!l.terminated) {
        problem(0, "torn-tail",
                fmt::format("the last {} bytes are an unfinished record (the key was pulled or avkey killed "
                            "while writing it); the next scan acknowledges it",
                            l.text.size()));
      } else if (l.text.empty()) {
        problem(0, "malformed", "empty line");
      } else {
        problem(0, "malformed", r.error());
      }
      continue;
    }
    r->line_number = l.number;
    r->offset = l.offset;
    std::vector<std::string> faults;
    if (r->key != key_id) {
      problem(r->seq, "wrong-key",
              fmt::format("record of key {} in the journal of key {} (journal copied from another key)", r->key,
                          key_id));
    }
    bool bad_mac = !secret.empty() && !SecureEquals(HmacSha256Hex(secret, MacCovered(l.text)), r->mac);
    if (bad_mac) problem(r->seq, "bad-mac", "the record was changed after it was written (its MAC does not match)");
    // Two neighbours swapped (seq n+1, then the expected n): named once, on the first;
    // the second is checked against the record before the pair, and the chain resumes
    // after the pair.
    if (r->seq == expected_seq + 1 && i + 1 < lines.size()) {
      auto next = ParseJournalLine(lines[i + 1].text);
      if (next && next->seq == expected_seq) {
        problem(r->seq, "reordered", fmt::format("seq {} and seq {} swapped", r->seq, expected_seq));
        swapped_line = l.text;
        swapped_seq = r->seq;
        c.records.push_back(std::move(*r));
        continue;
      }
    }
    if (r->seq != expected_seq) {
      if (r->seq > expected_seq) {
        problem(r->seq, "seq-gap",
                expected_seq + 1 == r->seq
                    ? fmt::format("record seq {} is missing (deleted)", expected_seq)
                    : fmt::format("records seq {} to {} are missing (deleted)", expected_seq, r->seq - 1));
      } else {
        problem(r->seq, "seq-order",
                fmt::format("seq {} comes where seq {} was expected (records reordered or repeated)", r->seq,
                            expected_seq));
      }
    } else if (r->prev != expected_prev && !prev_bad_mac) {
      problem(r->seq, "broken-chain",
              r->seq == 1 ? std::string("the first record does not start this key's chain")
                          : fmt::format("prev does not match record seq {}: that record was changed or replaced",
                                        r->seq - 1));
    }
    prev_bad_mac = bad_mac;
    expected_prev = Sha256Hex(swapped_seq ? swapped_line : l.text);
    expected_seq = (swapped_seq ? swapped_seq : r->seq) + 1;
    swapped_seq = 0;
    c.records.push_back(std::move(*r));
  }
  return c;
}

}  // namespace avkey::key
