#include "avkey/console/console.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

#include "avkey/engine/engine.h"
#include "avkey/key/inventory.h"
#include "avkey/key/journal.h"
#include "avkey/key/key.h"
#include "avkey/key/policy.h"
#include "avkey/key/quarantine.h"
#include "avkey/key/store.h"
#include "fmt/format.h"

namespace avkey::console {
namespace {

using platform::JoinPath;
constexpr uint64_t kMaxInventoryBytes = 256ull << 20;  // decompressed

std::string Now() { return key::TimeMs(std::chrono::system_clock::now()); }

std::string Str(const nlohmann::json& j, const char* k) { return key::MemberText(j, k); }
int64_t Int(const nlohmann::json& j, const char* k) {
  auto it = j.find(k);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

bool IsSignatureFile(const std::string& name) {
  static const std::set<std::string> kExt = {"hdb", "hsb", "mdb", "msb", "ndb", "ldb", "fp",  "sfp", "ign",
                                             "ign2", "cvd", "cld", "cud", "yar", "yara", "yarc"};
  size_t dot = name.find_last_of('.');
  return dot != std::string::npos && kExt.count(name.substr(dot + 1));
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") out.push_back(n);
    }
    ::closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

std::string DefaultHome() {
  if (const char* h = std::getenv("AVKEY_CONSOLE_HOME"); h && *h) return h;
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : ".") + "/.local/share/avkey-console";
}

Result<std::unique_ptr<Console>> Console::Init(const std::string& home, const std::string& name,
                                               const std::string& scanner_path) {
  struct stat st;
  if (::stat(JoinPath(home, "fleet.sqlite").c_str(), &st) == 0) return Fail(home + ": already a console home");
  auto scanner = platform::ReadFile(scanner_path, 1ull << 30);
  if (!scanner) return Fail("the scanner to put on keys: " + scanner.error());
  for (const char* sub : {"", "keys", "signatures", "bin"}) {
    Status s = platform::MakeDirs(JoinPath(home, sub), 0700);
    if (!s.ok()) return Fail(s.message());
  }
  auto signer = key::LoadSigner(platform::Env::Default(), home, name, true);
  if (!signer) return Fail(signer.error());
  Status s = platform::WriteFileDurably(platform::Env::Default(), JoinPath(home, "bin/avkey"), *scanner, 0755);
  if (!s.ok()) return Fail(s.message());
  return Open(home);
}

Result<std::unique_ptr<Console>> Console::Open(const std::string& home) {
  std::unique_ptr<Console> c(new Console());
  c->home_ = home;
  auto signer = key::LoadSigner(c->env_, home, "", false);
  if (!signer) return Fail(home + " is not a console home (run `avkey-console init`): " + signer.error());
  c->signer_ = std::make_unique<key::SigningKey>(std::move(*signer));
  auto name = platform::ReadFile(JoinPath(home, "name"), 4096);
  c->name_ = name ? *name : "";
  while (!c->name_.empty() && c->name_.back() == '\n') c->name_.pop_back();
  auto db = FleetDb::Open(JoinPath(home, "fleet.sqlite"));
  if (!db) return Fail(db.error());
  c->db_ = std::move(*db);
  return c;
}

std::string Console::NewestGeneration() const {
  auto gens = key::ListGenerationsIn(JoinPath(home_, "signatures"));
  return gens.empty() ? "" : JoinPath(JoinPath(home_, "signatures"), fmt::format("gen-{}", gens.back()));
}

Result<Console::AddedGeneration> Console::AddSignatures(const std::vector<std::string>& paths,
                                                        std::chrono::system_clock::time_point created) {
  AddedGeneration out;
  for (const auto& p : paths) {
    struct stat st;
    if (::stat(p.c_str(), &st) != 0) return Fail(p + ": not found");
    if (S_ISDIR(st.st_mode)) {
      for (const auto& n : ListDir(p)) {
        if (IsSignatureFile(n)) out.files.push_back(JoinPath(p, n));
      }
    } else {
      out.files.push_back(p);
    }
  }
  if (out.files.empty()) return Fail("no signature files given");
  // Compiled once here exactly as the scanner will (built-ins included), so a set that
  // will not load never reaches a key.
  // The compiled patterns are shipped in the generation (a read-only cache on the key).
  std::string compile_dir = JoinPath(home_, fmt::format(".compile-{}", ::getpid()));
  std::filesystem::remove_all(compile_dir);
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } cleanup{compile_dir};
  Status s = platform::MakeDirs(compile_dir, 0700);
  engine::DatabaseBuilder builder;
  builder.SetCacheDirectory(compile_dir);
  builder.SetPortableCache(true);  // the key scans devices older than this workstation
  if (s.ok()) s = engine::AddBuiltinSignatures(&builder);
  for (const auto& f : out.files) {
    if (s.ok()) s = builder.AddPath(f);
  }
  if (!s.ok()) return Fail("not added: " + s.message());
  auto db = builder.Build();
  if (!db) return Fail("not added, the signatures do not load: " + db.error());
  std::vector<std::string> with_compiled = out.files;
  for (const auto& n : ListDir(compile_dir)) {
    if (n.ends_with(".avkc")) with_compiled.push_back(JoinPath(compile_dir, n));
  }
  const engine::LoadReport& r = (*db)->report();
  out.signatures = r.total();
  for (const auto& p : r.problems) out.problems.push_back(fmt::format("{}:{}: {}", p.file, p.line, p.reason));
  auto n = key::BuildGeneration(env_, JoinPath(home_, "signatures"), *signer_, with_compiled, created, 0);
  if (!n) return Fail(n.error());
  out.generation = *n;
  s = db_->Exec("INSERT INTO generations (generation, created, added, files, signatures, identity) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                {static_cast<int64_t>(*n), key::TimeMs(created), Now(), static_cast<int64_t>(out.files.size()),
                 static_cast<int64_t>(out.signatures), (*db)->identity()});
  if (!s.ok()) return Fail(s.message());
  return out;
}

Status Console::SetPolicy(const std::string& text) {
  auto p = key::ParsePolicy(text, "policy");
  if (!p) return Status::Error(p.error());
  return platform::WriteFileDurably(env_, JoinPath(home_, "policy.toml"), text, 0600);
}

Result<std::string> Console::PrepareKey(const std::string& dir, const std::string& site) {
  auto k = key::InitKey(env_, dir, home_, name_);
  if (!k) return Fail(k.error());
  auto scanner = platform::ReadFile(JoinPath(home_, "bin/avkey"), 1ull << 30);
  Status s = scanner ? platform::WriteFileDurably(env_, JoinPath(dir, "bin/linux-x86_64/avkey"), *scanner, 0755)
                     : Status::Error(scanner.error());
  if (s.ok()) {
    if (auto policy = platform::ReadFile(JoinPath(home_, "policy.toml"), 1 << 20)) {
      s = key::SignPolicy(env_, dir, home_, *policy);
    }
  }
  if (s.ok()) {
    std::string gen = NewestGeneration();
    if (!gen.empty()) {
      auto n = key::InstallGeneration(env_, *k, gen);
      if (!n) s = Status::Error(n.error());
    }
  }
  if (s.ok()) {
    s = db_->Exec("INSERT INTO keys (key_id, enrolled, site) VALUES (?1, ?2, ?3)", {k->key_id, k->enrolled, site});
  }
  if (!s.ok()) return Fail(s.message());
  return k->key_id;
}

Result<Console::SyncSummary> Console::SyncKey(const std::string& dir) {
  SyncSummary sum;
  auto k = key::OpenKey(dir);
  if (!k) return Fail(k.error());
  sum.key_id = k->key_id;
  if (k->console_public_key != signer_->PublicKey()) {
    return Fail(fmt::format("{} ({}) was prepared by another console ({})", dir, k->key_id, k->console));
  }
  auto keyrow = db_->Query("SELECT last_seq, last_hash, site FROM keys WHERE key_id = ?1", {k->key_id});
  if (!keyrow) return Fail(keyrow.error());
  if (keyrow->empty()) return Fail(k->key_id + " is not enrolled in this console's database");
  const uint64_t last_seq = static_cast<uint64_t>(AsInt((*keyrow)[0][0]));
  const std::string last_hash = AsText((*keyrow)[0][1]);
  const std::string site = AsText((*keyrow)[0][2]);
  // The console's own copy of the secret: a key whose secret was changed is caught too.
  auto secret_hex = platform::ReadFile(JoinPath(JoinPath(home_, "keys"), k->key_id + ".secret"), 4096);
  if (!secret_hex) return Fail("the console has no secret for " + k->key_id + ": " + secret_hex.error());
  std::string hex = *secret_hex;
  while (!hex.empty() && hex.back() == '\n') hex.pop_back();
  auto secret = key::FromHex(hex);
  if (!secret) return Fail("the console's secret for " + k->key_id + " is damaged");
  if (!key::SecureEquals(*secret, k->secret)) sum.problems.push_back("key.secret on the key is not the one enrolled");

  auto check = key::CheckJournal(key::JournalPath(dir), k->key_id, *secret);
  if (!check) return Fail(check.error());
  for (const auto& p : check->problems) {
    if (p.kind == "torn-tail") {
      sum.notes.push_back(fmt::format("line {}: {}", p.line_number, p.detail));
    } else {
      sum.problems.push_back(p.seq ? fmt::format("line {} (seq {}): {}: {}", p.line_number, p.seq, p.kind, p.detail)
                                   : fmt::format("line {}: {}: {}", p.line_number, p.kind, p.detail));
    }
  }
  for (const auto& n : check->notes) sum.notes.push_back(n);
  // Continuity: the record imported last must still be there, unchanged.
  if (last_seq > 0) {
    auto it = std::find_if(check->records.begin(), check->records.end(),
                           [&](const key::JournalRecord& r) { return r.seq == last_seq; });
    if (it == check->records.end()) {
      uint64_t end = check->records.empty() ? 0 : check->records.back().seq;
      sum.problems.push_back(fmt::format("rolled back: seq {} was imported before, the journal now ends at seq {}",
                                         last_seq, end));
    } else if (key::Sha256Hex(it->line) != last_hash) {
      sum.problems.push_back(fmt::format("rewritten: record seq {} differs from the one imported before", last_seq));
    }
  }
  if (!sum.problems.empty()) {
    sum.refused = true;
    std::string detail;
    for (const auto& p : sum.problems) detail += (detail.empty() ? "" : "; ") + p;
    (void)db_->Exec("UPDATE keys SET flagged = ?1, last_sync = ?2 WHERE key_id = ?3", {detail, Now(), k->key_id});
    (void)db_->Exec("INSERT INTO sync_events (time, key_id, outcome, detail) VALUES (?1, ?2, 'refused', ?3)",
                    {Now(), k->key_id, detail});
    return sum;
  }

  Status s = db_->Begin();
  if (!s.ok()) return Fail(s.message());
  auto fail = [&](const Status& st) -> Result<SyncSummary> {
    db_->Rollback();
    return Fail("import failed, nothing imported: " + st.message());
  };
  std::set<std::string> devices;
  const key::JournalRecord* last = nullptr;
  for (const auto& r : check->records) {
    if (r.seq <= last_seq) continue;
    last = &r;
    sum.records++;
    const auto& p = r.payload;
    s = db_->Exec("INSERT INTO journal_records (key_id, seq, time, device_id, scan_id, type, payload, line) "
                  "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                  {r.key, static_cast<int64_t>(r.seq), r.time, r.device, r.scan, r.type, p.dump(), r.line});
    if (!s.ok()) return fail(s);
    if (r.type == "scan_started") {
      std::string tag = Str(p.value("operator", nlohmann::json::object()), "asset_tag");
      std::string host = Str(p, "hostname");
      const auto sigs = p.value("signatures", nlohmann::json::object());
      s = db_->Exec("INSERT INTO scans (scan_id, key_id, device_id, started, generation, signatures_created, policy, "
                    "action, asset_tag, hostname) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
                    "ON CONFLICT (scan_id) DO NOTHING",
                    {r.scan, r.key, r.device, r.time, Int(sigs, "generation"), Str(sigs, "created"), Str(p, "policy"),
                     Str(p, "action"), tag, host});
      if (s.ok()) {
        s = db_->Exec("INSERT INTO devices (device_id, hostname, site, asset_tag, first_seen, last_seen) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (device_id) DO UPDATE SET "
                      "hostname = excluded.hostname, site = CASE WHEN excluded.site <> '' THEN excluded.site "
                      "ELSE devices.site END, asset_tag = CASE WHEN excluded.asset_tag <> '' THEN "
                      "excluded.asset_tag ELSE devices.asset_tag END, last_seen = excluded.last_seen",
                      {r.device, host, site, tag, r.time});
      }
      sum.scans++;
      devices.insert(r.device);
    } else if (r.type == "detection") {
      s = db_->Exec("INSERT INTO detections (key_id, seq, scan_id, device_id, time, path, signature, sha256) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    {r.key, static_cast<int64_t>(r.seq), r.scan, r.device, r.time, Str(p, "path"),
                     Str(p, "signature"), Str(p, "sha256")});
      sum.detections++;
    } else if (r.type == "action") {
      s = db_->Exec("INSERT INTO actions (key_id, seq, scan_id, device_id, time, path, action, result, "
                    "quarantine_id, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                    {r.key, static_cast<int64_t>(r.seq), r.scan, r.device, r.time, Str(p, "path"), Str(p, "action"),
                     Str(p, "result"), Str(p, "quarantine_id"), Str(p, "reason")});
      sum.actions++;
    } else if (r.type == "scan_finished") {
      const auto c = p.value("counts", nlohmann::json::object());
      // Only the scan this key started on this device, and only once: a record forged with
      // another scan's id (anyone holding the key can MAC records) cannot rewrite a verdict.
      s = db_->Exec("UPDATE scans SET finished = ?1, verdict = ?2, reason = ?3, exit_status = ?4, files = ?5, "
                    "detections = ?6, incomplete = ?7 WHERE scan_id = ?8 AND key_id = ?9 AND device_id = ?10 "
                    "AND finished IS NULL",
                    {r.time, Str(p, "verdict"), Str(p, "reason"), Int(p, "exit_status"), Int(c, "files"),
                     Int(c, "detections"), Int(c, "incomplete"), r.scan, r.key, r.device});
    }
    if (!s.ok()) return fail(s);
  }
  if (last) {
    s = db_->Exec("UPDATE keys SET last_seq = ?1, last_hash = ?2 WHERE key_id = ?3",
                  {static_cast<int64_t>(last->seq), key::Sha256Hex(last->line), k->key_id});
    if (!s.ok()) return fail(s);
  }
  sum.devices = devices.size();

  // Inventories: KEY/inventory/<device>/<scan>.json.gz, each imported once.
  std::string inv_root = JoinPath(dir, "inventory");
  for (const auto& dev : ListDir(inv_root)) {
    for (const auto& f : ListDir(JoinPath(inv_root, dev))) {
      if (!f.ends_with(".json.gz")) continue;
      std::string scan_id = f.substr(0, f.size() - 8);
      auto have = db_->Query("SELECT 1 FROM inventories WHERE device_id = ?1 AND scan_id = ?2", {dev, scan_id});
      if (!have) return fail(Status::Error(have.error()));
      if (!have->empty()) continue;
      // Only an inventory that this key's journal names, for that scan on that device: a
      // file planted under inventory/ cannot put files on another device's record (hunt).
      auto named = db_->Query("SELECT 1 FROM journal_records WHERE key_id = ?1 AND type = 'scan_finished' AND "
                              "scan_id = ?2 AND device_id = ?3 AND payload LIKE ?4",
                              {k->key_id, scan_id, dev, "%\"inventory\":\"" + dev + "/" + f + "\"%"});
      if (!named) return fail(Status::Error(named.error()));
      if (named->empty()) {
        sum.notes.push_back(fmt::format("inventory/{}/{}: no scan of this key's journal names it; not imported", dev, f));
        continue;
      }
      std::string path = JoinPath(JoinPath(inv_root, dev), f);
      auto gz = platform::ReadFile(path, kMaxInventoryBytes);
      auto text = gz ? key::GzipDecompress(*gz, kMaxInventoryBytes) : Result<std::string>(Fail(gz.error()));
      nlohmann::json doc;
      if (text) doc = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
      if (!text || doc.is_discarded() || !doc.is_object()) {
        sum.notes.push_back(path + ": not a readable inventory; skipped");
        continue;
      }
      s = db_->Exec("INSERT INTO inventories (device_id, scan_id, collected_at, document) VALUES (?1, ?2, ?3, ?4)",
                    {dev, scan_id, Str(doc, "collected_at"), *text});
      for (const auto& file : doc.value("files", nlohmann::json::array())) {
        if (!s.ok()) break;
        s = db_->Exec("INSERT INTO inventory_files (device_id, scan_id, path, size, mtime, sha256) VALUES "
                      "(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
                      {dev, scan_id, Str(file, "path"), Int(file, "size"), Str(file, "mtime"), Str(file, "sha256")});
      }
      if (!s.ok()) return fail(s);
      sum.inventories++;
    }
  }
  // Quarantine records: inserted or their state updated.
  std::vector<std::string> qproblems;
  for (const auto& item : key::Quarantine(env_, JoinPath(dir, "quarantine")).List(&qproblems)) {
    const auto& q = item.record;
    auto before = db_->Query("SELECT state FROM quarantine_items WHERE quarantine_id = ?1", {item.id});
    if (!before) return fail(Status::Error(before.error()));
    if (!before->empty() && AsText((*before)[0][0]) == Str(q, "state")) continue;
    s = db_->Exec("INSERT INTO quarantine_items (quarantine_id, key_id, device_id, original_path, sha256, size, "
                  "signature, quarantined, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
                  "ON CONFLICT (quarantine_id) DO UPDATE SET state = excluded.state",
                  {item.id, k->key_id, Str(q, "device"), Str(q, "original_path"), Str(q, "sha256"), Int(q, "size"),
                   Str(q, "signature"), Str(q, "quarantined"), Str(q, "state")});
    if (!s.ok()) return fail(s);
    sum.quarantine_items++;
  }
  for (const auto& p : qproblems) sum.notes.push_back(p);
  std::string detail = fmt::format("{} records, {} scans, {} detections", sum.records, sum.scans, sum.detections);
  s = db_->Exec("UPDATE keys SET flagged = '', last_sync = ?1 WHERE key_id = ?2", {Now(), k->key_id});
  if (s.ok()) {
    s = db_->Exec("INSERT INTO sync_events (time, key_id, outcome, detail) VALUES (?1, ?2, 'imported', ?3)",
                  {Now(), k->key_id, detail});
  }
  if (s.ok()) s = db_->Commit();
  if (!s.ok()) return fail(s);

  // Push: newest signatures, the policy, the scanner. After the import is committed: a
  // failed push never loses journal records.
  std::string gen = NewestGeneration();
  int newest = key::NewestVerifiedGeneration(*k);
  auto pos = gen.find_last_of('-');
  if (!gen.empty() && std::atoi(gen.c_str() + pos + 1) > newest) {
    auto n = key::InstallGeneration(env_, *k, gen);
    if (!n) return Fail("imported, but the signatures were not pushed: " + n.error());
    sum.generation_pushed = *n;
  }
  if (auto policy = platform::ReadFile(JoinPath(home_, "policy.toml"), 1 << 20)) {
    auto on_key = key::LoadPolicy(*k);
    if (!on_key || on_key->sha256 != key::Sha256Hex(*policy)) {
      s = key::SignPolicy(env_, dir, home_, *policy);
      if (!s.ok()) return Fail("imported, but the policy was not pushed: " + s.message());
      sum.policy_pushed = true;
    }
  }
  auto ours = platform::ReadFile(JoinPath(home_, "bin/avkey"), 1ull << 30);
  std::string exe = JoinPath(dir, "bin/linux-x86_64/avkey");
  auto theirs = platform::ReadFile(exe, 1ull << 30);
  if (ours && (!theirs || key::Sha256Hex(*theirs) != key::Sha256Hex(*ours))) {
    s = platform::MakeDirs(platform::DirName(exe));
    if (s.ok()) s = platform::WriteFileDurably(env_, exe, *ours, 0755);
    if (!s.ok()) return Fail("imported, but the scanner on the key could not be replaced: " + s.message());
    sum.binary_replaced = true;
  }
  return sum;
}

Result<AuditReport> Console::BuildReport(const std::string& since, const std::string& site) {
  AuditReport rep;
  rep.generated = Now();
  rep.since = since;
  rep.site = site;
  rep.console = name_;
  auto devs = db_->Query(
      "SELECT device_id, hostname, site, asset_tag FROM devices WHERE (?1 = '' OR site = ?1) "
      "ORDER BY site, hostname, device_id",
      {site});
  if (!devs) return Fail(devs.error());
  for (const auto& d : *devs) {
    ReportDevice dev;
    dev.device_id = AsText(d[0]);
    dev.hostname = AsText(d[1]);
    dev.site = AsText(d[2]);
    dev.asset_tag = AsText(d[3]);
    auto last = db_->Query(
        "SELECT finished, verdict, reason, key_id, generation, signatures_created FROM scans "
        "WHERE device_id = ?1 AND finished IS NOT NULL ORDER BY finished DESC LIMIT 1",
        {dev.device_id});
    if (!last) return Fail(last.error());
    if (!last->empty()) {
      const auto& l = (*last)[0];
      dev.last_scan_time = AsText(l[0]);
      dev.last_verdict = AsText(l[1]);
      dev.last_reason = AsText(l[2]);
      dev.key_id = AsText(l[3]);
      dev.signature_generation = static_cast<int>(AsInt(l[4]));
      dev.signatures_created = AsText(l[5]);
      auto created = key::ParseTime(dev.signatures_created);
      auto finished = key::ParseTime(dev.last_scan_time);
      if (created && finished) {
        dev.signature_age_days = std::chrono::duration_cast<std::chrono::hours>(*finished - *created).count() / 24;
      }
    }
    auto count = db_->Query("SELECT COUNT(*) FROM scans WHERE device_id = ?1 AND (?2 = '' OR started >= ?2)",
                            {dev.device_id, since});
    if (!count) return Fail(count.error());
    dev.scans = static_cast<uint64_t>(AsInt((*count)[0][0]));
    auto dets = db_->Query(
        "SELECT d.time, d.path, d.signature, COALESCE(a.action, s.action, 'report'), COALESCE(a.result, 'none'), "
        "COALESCE(a.quarantine_id, '') FROM detections d LEFT JOIN scans s ON s.scan_id = d.scan_id "
        "LEFT JOIN actions a ON a.scan_id = d.scan_id AND a.path = d.path AND a.action IN ('quarantine', 'remove') "
        "WHERE d.device_id = ?1 AND (?2 = '' OR d.time >= ?2) ORDER BY d.time, d.seq",
        {dev.device_id, since});
    if (!dets) return Fail(dets.error());
    for (const auto& r : *dets) {
      dev.detections.push_back({AsText(r[0]), AsText(r[1]), AsText(r[2]), AsText(r[3]), AsText(r[4]), AsText(r[5])});
    }
    rep.devices.push_back(std::move(dev));
  }
  return rep;
}

Result<Console::HuntResult> Console::Hunt(const std::vector<std::string>& files) {
  HuntResult out;
  std::map<std::string, std::string> wanted;  // sha256 -> signature name
  for (const auto& f : files) {
    auto text = platform::ReadFile(f, 1ull << 30);
    if (!text) return Fail(text.error());
    size_t pos = 0, line_no = 0;
    while (pos < text->size()) {
      size_t nl = text->find('\n', pos);
      std::string line = text->substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
      pos = nl == std::string::npos ? text->size() : nl + 1;
      ++line_no;
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
      if (line.empty() || line[0] == '#') continue;
      size_t c1 = line.find(':'), c2 = c1 == std::string::npos ? c1 : line.find(':', c1 + 1);
      if (c2 == std::string::npos) {
        out.problems.push_back(fmt::format("{}:{}: not HASH:SIZE:NAME", f, line_no));
        continue;
      }
      std::string hash = line.substr(0, c1);
      std::string name = line.substr(c2 + 1);
      name = name.substr(0, name.find(':'));
      bool hex = !hash.empty() && std::all_of(hash.begin(), hash.end(), [](char ch) { return std::isxdigit(static_cast<unsigned char>(ch)); });
      if (hex && hash.size() == 64) {
        std::transform(hash.begin(), hash.end(), hash.begin(), [](char ch) { return static_cast<char>(std::tolower(ch)); });
        wanted[hash] = name;
        out.sha256_signatures++;
      } else if (hex && (hash.size() == 32 || hash.size() == 40)) {
        out.other_signatures++;
      } else {
        out.problems.push_back(fmt::format("{}:{}: '{}' is not a hash", f, line_no, hash));
      }
    }
  }
  for (const auto& [hash, name] : wanted) {
    auto rows = db_->Query(
        "SELECT f.device_id, COALESCE(d.hostname, ''), f.scan_id, i.collected_at, f.path, f.sha256 "
        "FROM inventory_files f JOIN inventories i ON i.device_id = f.device_id AND i.scan_id = f.scan_id "
        "LEFT JOIN devices d ON d.device_id = f.device_id WHERE f.sha256 = ?1 ORDER BY f.device_id, i.collected_at",
        {hash});
    if (!rows) return Fail(rows.error());
    for (const auto& r : *rows) {
      out.hits.push_back({AsText(r[0]), AsText(r[1]), AsText(r[2]), AsText(r[3]), AsText(r[4]), AsText(r[5]), name});
    }
  }
  return out;
}

}  // namespace avkey::console
