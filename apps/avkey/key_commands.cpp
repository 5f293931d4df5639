#include "key_commands.h"

#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <map>

#include "avkey/key/crypto.h"
#include "avkey/key/inventory.h"
#include "avkey/key/journal.h"
#include "avkey/key/key.h"
#include "avkey/key/policy.h"
#include "avkey/key/quarantine.h"
#include "avkey/key/store.h"
#include "avkey/scan/scan.h"
#include "fmt/format.h"

namespace avkey::app {
namespace {

using platform::JoinPath;

std::string g_argv0;

// This executable's path: /proc/self/exe, else argv[0] (a device may have no /proc mounted,
// e.g. a rescue shell or a chroot; a key must still be found).
std::string SelfExe() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n > 0) return std::string(buf, static_cast<size_t>(n));
  if (g_argv0.find('/') == std::string::npos) return "";
  if (g_argv0[0] == '/') return g_argv0;
  return getcwd(buf, sizeof buf) ? JoinPath(buf, g_argv0) : g_argv0;
}

int Error(const std::string& msg) {
  std::fprintf(stderr, "avkey: %s\n", msg.c_str());
  return 1;
}

Result<std::chrono::system_clock::time_point> CreatedOrNow(const std::string& text) {
  if (text.empty()) return std::chrono::system_clock::now();
  return key::ParseTime(text);
}

// Installs this executable as KEY/bin/linux-x86_64/avkey (durably, mode 0755).
Status InstallBinary(const std::string& root) {
  auto self = platform::ReadFile(SelfExe(), 1ull << 30);
  if (!self) return Status::Error(self.error());
  std::string dir = JoinPath(root, "bin/linux-x86_64");
  Status s = platform::MakeDirs(dir);
  if (!s.ok()) return s;
  return platform::WriteFileDurably(platform::Env::Default(), JoinPath(dir, "avkey"), *self, 0755);
}

std::string Csv(std::string_view s) {
  if (s.find_first_of(",\"\n\r") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

// A member of a record from the key, for the terminal: control characters written by a
// hostile device (a file name with ESC sequences) become \xNN and cannot move the cursor or
// recolour a verdict.
std::string Str(const nlohmann::json& j, const char* key) { return scan::EscapeControls(key::MemberText(j, key)); }

// The journal, checked, or nullopt after printing why it cannot be read.
std::optional<key::JournalCheck> LoadJournal(const key::KeyInfo& k) {
  auto check = key::CheckJournal(key::JournalPath(k.root), k.key_id, k.secret);
  if (!check) {
    std::fprintf(stderr, "avkey: %s\n", check.error().c_str());
    return std::nullopt;
  }
  return std::move(*check);
}

}  // namespace

void SetArgv0(const char* argv0) { g_argv0 = argv0 ? argv0 : ""; }

std::string ResolveKeyRoot(const std::string& explicit_root, bool quiet_if_none) {
  if (!explicit_root.empty()) return explicit_root;
  std::string root = key::KeyRootForExecutable(SelfExe());
  if (root.empty() && !quiet_if_none) {
    std::fprintf(stderr, "avkey: not running from a key (KEY/bin/linux-x86_64/avkey); name one with --key DIR\n");
  }
  return root;
}

int RunKeyInit(const KeyInitArgs& a) {
  platform::Env* env = platform::Env::Default();
  auto k = key::InitKey(env, a.root, a.signer, a.console_name);
  if (!k) return Error(k.error());
  std::printf("key %s created in %s (console %s, signer %s)\n", k->key_id.c_str(), a.root.c_str(),
              k->console.c_str(), a.signer.c_str());
  if (!a.policy_file.empty()) {
    if (int rc = RunKeySignPolicy(a.root, a.signer, a.policy_file); rc != 0) return rc;
  }
  if (!a.signatures.empty()) {
    if (int rc = RunKeyPublish(a.root, a.signer, a.signatures, a.created); rc != 0) return rc;
  }
  if (a.install_binary) {
    Status s = InstallBinary(a.root);
    if (!s.ok()) return Error("cannot install the scanner on the key: " + s.message());
    std::printf("scanner installed: %s\n", JoinPath(a.root, "bin/linux-x86_64/avkey").c_str());
  }
  return 0;
}

int RunKeySignPolicy(const std::string& root, const std::string& signer, const std::string& policy_file) {
  auto text = platform::ReadFile(policy_file, 1 << 20);
  if (!text) return Error(text.error());
  Status s = key::SignPolicy(platform::Env::Default(), root, signer, *text);
  if (!s.ok()) return Error(s.message());
  std::printf("policy signed: %s (sha256 %s)\n", JoinPath(root, "avkey.toml").c_str(),
              key::Sha256Hex(*text).c_str());
  return 0;
}

int RunKeyPublish(const std::string& root, const std::string& signer, const std::vector<std::string>& files,
                  const std::string& created) {
  auto when = CreatedOrNow(created);
  if (!when) return Error("--created: " + when.error());
  auto n = key::PublishGeneration(platform::Env::Default(), root, signer, files, *when);
  if (!n) return Error(n.error());
  std::printf("signatures published: generation %d, %zu files, current -> gen-%d\n", *n, files.size(), *n);
  return 0;
}

int RunKeyStatus(const std::string& root) {
  auto k = key::OpenKey(root);
  if (!k) return Error(k.error());
  int rc = 0;
  std::printf("key:        %s (enrolled %s, console %s)\n", k->key_id.c_str(), k->enrolled.c_str(),
              k->console.c_str());
  auto p = key::LoadPolicy(*k);
  if (p) {
    std::printf("policy:     %s, action %s\n",
                p->is_default ? "none on the key (defaults: report only)" : ("signed, sha256 " + p->sha256).c_str(),
                key::ActionName(p->policy.action));
  } else {
    std::printf("policy:     REFUSED: %s\n", p.error().c_str());
    rc = 1;
  }
  auto gen = key::SelectGeneration(*k);
  if (gen) {
    std::printf("signatures: gen-%d, created %s, %zu files\n", gen->generation.number,
                gen->generation.created_text.c_str(), gen->generation.files.size());
    for (const auto& w : gen->warnings) std::printf("            warning: %s\n", w.c_str());
  } else {
    std::printf("signatures: REFUSED: %s\n", gen.error().c_str());
    rc = 1;
  }
  auto check = LoadJournal(*k);
  if (check) {
    std::printf("journal:    %zu records, %zu problems\n", check->records.size(), check->problems.size());
  }
  std::vector<std::string> problems;
  auto items = key::Quarantine(platform::Env::Default(), JoinPath(root, "quarantine")).List(&problems);
  std::printf("quarantine: %zu items\n", items.size());
  return rc;
}

int RunJournalVerify(const std::string& root) {
  auto k = key::OpenKey(root);
  if (!k) return Error(k.error());
  auto check = LoadJournal(*k);
  if (!check) return 1;
  for (const auto& n : check->notes) std::printf("note: %s\n", n.c_str());
  for (const auto& p : check->problems) {
    std::string where = p.seq ? fmt::format("line {} (seq {})", p.line_number, p.seq) : fmt::format("line {}", p.line_number);
    std::printf("%s: %s: %s\n", where.c_str(), p.kind.c_str(), p.detail.c_str());
  }
  uint64_t last = check->records.empty() ? 0 : check->records.back().seq;
  int rc = check->exit_status();
  std::printf("journal %s: %zu records (last seq %llu), %zu problems: %s\n", key::JournalPath(root).c_str(),
              check->records.size(), static_cast<unsigned long long>(last), check->problems.size(),
              rc == 0 ? "INTACT" : rc == 2 ? "TORN TAIL (intact before it)" : "DAMAGED OR TAMPERED");
  return rc;
}

int RunJournalShow(const std::string& root) {
  auto k = key::OpenKey(root);
  if (!k) return Error(k.error());
  auto check = LoadJournal(*k);
  if (!check) return 1;
  // Per device, then per scan in journal order.
  std::map<std::string, std::vector<const key::JournalRecord*>> by_device;
  std::map<std::string, std::string> hostnames;
  for (const auto& r : check->records) {
    by_device[r.device].push_back(&r);
    if (r.type == "scan_started") hostnames[r.device] = Str(r.payload, "hostname");
  }
  for (const auto& [device, records] : by_device) {
    std::printf("Device %s%s\n", device.c_str(),
                hostnames[device].empty() ? "" : (" (" + hostnames[device] + ")").c_str());
    std::string scan;
    for (const auto* r : records) {
      const auto& p = r->payload;
      std::string t = r->time.size() >= 19 ? r->time.substr(0, 10) + " " + r->time.substr(11, 8) : r->time;
      if (r->scan != scan && r->scan != "-") {
        scan = r->scan;
        std::printf("  Scan %s\n", scan.c_str());
      }
      if (r->type == "scan_started") {
        std::string tag = Str(p["operator"], "asset_tag");
        std::printf("    %s  started   policy %s, action %s, signatures gen-%s%s%s\n", t.c_str(),
                    Str(p, "policy").c_str(), Str(p, "action").c_str(), Str(p["signatures"], "generation").c_str(),
                    tag.empty() ? "" : (", asset tag " + tag).c_str(),
                    p.contains("refused") ? (", REFUSED: " + Str(p, "refused")).c_str() : "");
      } else if (r->type == "detection") {
        std::printf("    %s  FOUND     %s  %s\n", t.c_str(), Str(p, "path").c_str(), Str(p, "signature").c_str());
      } else if (r->type == "action") {
        std::printf("    %s  %-9s %s %s %s\n", t.c_str(), Str(p, "action").c_str(), Str(p, "result").c_str(),
                    Str(p, "path").c_str(),
                    Str(p, "quarantine_id").empty() ? Str(p, "reason").c_str() : Str(p, "quarantine_id").c_str());
      } else if (r->type == "incomplete") {
        if (p.contains("more")) {
          std::printf("    %s  and %s more incomplete items\n", t.c_str(), Str(p, "more").c_str());
        } else {
          std::printf("    %s  incomplete %s  %s\n", t.c_str(), Str(p, "path").c_str(), Str(p, "reason").c_str());
        }
      } else if (r->type == "scan_finished") {
        const auto& c = p["counts"];
        std::printf("    %s  %-9s %s (%s files, %s detections, %s incomplete)\n", t.c_str(),
                    Str(p, "verdict").c_str(), Str(p, "reason").c_str(), Str(c, "files").c_str(),
                    Str(c, "detections").c_str(), Str(c, "incomplete").c_str());
      } else {
        std::printf("    %s  %s %s\n", t.c_str(), r->type.c_str(), p.dump().c_str());
      }
    }
  }
  if (!check->problems.empty()) {
    std::printf("\nThe journal has %zu problems: run `avkey journal verify`.\n", check->problems.size());
  }
  return check->problems.empty() ? 0 : 1;
}

int RunJournalExport(const std::string& root, const std::string& format) {
  auto k = key::OpenKey(root);
  if (!k) return Error(k.error());
  auto check = LoadJournal(*k);
  if (!check) return 1;
  if (format == "jsonl") {
    for (const auto& r : check->records) std::printf("%s\n", r.line.c_str());
  } else {
    std::printf("seq,time,key,device,scan,type,path,signature,verdict,reason,payload\n");
    for (const auto& r : check->records) {
      const auto& p = r.payload;
      std::printf("%llu,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n", static_cast<unsigned long long>(r.seq), Csv(r.time).c_str(),
                  Csv(r.key).c_str(), Csv(r.device).c_str(), Csv(r.scan).c_str(), Csv(r.type).c_str(),
                  Csv(Str(p, "path")).c_str(), Csv(Str(p, "signature")).c_str(), Csv(Str(p, "verdict")).c_str(),
                  Csv(Str(p, "reason")).c_str(), Csv(p.dump()).c_str());
    }
  }
  if (!check->problems.empty()) {
    std::fprintf(stderr, "avkey: the journal has %zu problems (run `avkey journal verify`); exported the %zu "
                 "records that parse\n", check->problems.size(), check->records.size());
    return 1;
  }
  return 0;
}

namespace {

// Journals a quarantine command's action (scan "-"); a journal that cannot be written is
// reported but does not undo the action.
void JournalAction(const key::KeyInfo& k, const nlohmann::json& payload) {
  auto w = key::JournalWriter::Open(platform::Env::Default(), k, key::DeviceId("/"));
  Status s = w ? (*w)->Append("-", "action", payload, true) : Status::Error(w.error());
  if (!s.ok()) std::fprintf(stderr, "avkey: warning: not journaled: %s\n", s.message().c_str());
}

}  // namespace

int RunQuarantineList(const std::string& root) {
  std::vector<std::string> problems;
  auto items = key::Quarantine(platform::Env::Default(), JoinPath(root, "quarantine")).List(&problems);
  std::printf("%-28s %-11s %12s  %-24s %s\n", "ID", "STATE", "SIZE", "SIGNATURE", "ORIGINAL PATH");
  for (const auto& it : items) {
    const auto& r = it.record;
    std::printf("%-28s %-11s %12s  %-24s %s\n", it.id.c_str(), Str(r, "state").c_str(), Str(r, "size").c_str(),
                Str(r, "signature").c_str(), Str(r, "original_path").c_str());
  }
  for (const auto& p : problems) std::fprintf(stderr, "avkey: %s\n", p.c_str());
  std::printf("%zu items\n", items.size());
  return problems.empty() ? 0 : 1;
}

int RunQuarantineRestore(const std::string& root, const std::string& id, const std::string& to) {
  auto k = key::OpenKey(root);
  if (!k) return Error(k.error());
  key::Quarantine q(platform::Env::Default(), JoinPath(root, "quarantine"));
  auto target = q.Restore(id, to, key::DeviceId("/"));
  if (!target) return Error(target.error());
  auto item = q.Get(id);
  JournalAction(*k, {{"path", scan::EscapeName(*target, false)}, {"action", "restore"}, {"result", "done"},
                     {"quarantine_id", id}, {"sha256", item ? item->record.value("sha256", "") : ""}, {"reason", ""}});
  std::printf("restored %s to %s\n", id.c_str(), scan::EscapeName(*target, true).c_str());
  return 0;
}

int RunQuarantinePurge(const std::string& root, const std::string& id) {
  auto k = key::OpenKey(root);
  if (!k) return Error(k.error());
  key::Quarantine q(platform::Env::Default(), JoinPath(root, "quarantine"));
  auto item = q.Get(id);
  if (!item) return Error(item.error());
  Status s = q.Purge(id);
  if (!s.ok()) return Error(s.message());
  JournalAction(*k, {{"path", item->record.value("original_path", "")}, {"action", "purge"}, {"result", "done"},
                     {"quarantine_id", id}, {"sha256", item->record.value("sha256", "")}, {"reason", ""}});
  std::printf("purged %s\n", id.c_str());
  return 0;
}

}  // namespace avkey::app
