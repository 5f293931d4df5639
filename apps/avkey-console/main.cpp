// avkey-console: the admin desk. Argument parsing and printing only; the work is in the
// console layer (include/avkey/console/). Exit status: 0 done, 1 failed or refused
// (e.g. a tampered journal), 64 usage error.
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>

#include "CLI/CLI.hpp"
#include "avkey/console/console.h"
#include "avkey/console/report.h"
#include "avkey/key/key.h"
#include "avkey/scan/scan.h"
#include "fmt/format.h"

namespace avkey::console {
namespace {

constexpr int kExitUsage = 64;

int Error(const std::string& msg) {
  std::fprintf(stderr, "avkey-console: %s\n", msg.c_str());
  return 1;
}

std::string SelfDir() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  std::string exe = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  return platform::DirName(exe);
}

Result<std::unique_ptr<Console>> OpenHome(const std::string& home) { return Console::Open(home); }

int Print(const Result<std::vector<SqlRow>>& rows, const std::vector<std::string>& header) {
  if (!rows) return Error(rows.error());
  std::vector<size_t> width(header.size());
  for (size_t c = 0; c < header.size(); ++c) width[c] = header[c].size();
  for (const auto& r : *rows) {
    for (size_t c = 0; c < header.size() && c < r.size(); ++c) {
      width[c] = std::max(width[c], scan::EscapeControls(AsText(r[c])).size());
    }
  }
  auto line = [&](auto get) {
    std::string out;
    for (size_t c = 0; c < header.size(); ++c) {
      std::string v = get(c);
      out += c + 1 == header.size() ? v : v + std::string(width[c] - v.size() + 2, ' ');
    }
    std::printf("%s\n", out.c_str());
  };
  line([&](size_t c) { return header[c]; });
  // Text from keys and devices: control characters never reach the terminal raw.
  for (const auto& r : *rows) {
    line([&](size_t c) { return c < r.size() ? scan::EscapeControls(AsText(r[c])) : std::string(); });
  }
  return 0;
}

}  // namespace
}  // namespace avkey::console

int main(int argc, char** argv) {
  using namespace avkey;
  using namespace avkey::console;
  CLI::App app{"avkey-console: prepare avkey keys, push signed signatures and policy, import their journals, "
               "report on the fleet."};
  app.require_subcommand(1);
  std::string home = DefaultHome();
  app.add_option("--home", home, "Console home (default $AVKEY_CONSOLE_HOME or ~/.local/share/avkey-console)")
      ->type_name("DIR");

  std::string name = "avkey-console", scanner;
  CLI::App* init = app.add_subcommand("init", "Create the console home: signing key, fleet database, scanner copy");
  init->add_option("--name", name, "This console's name, written on every key")->capture_default_str();
  init->add_option("--scanner", scanner, "The avkey scanner to put on keys (default: avkey beside this program)")
      ->type_name("FILE");

  CLI::App* sigs = app.add_subcommand("signatures", "Signature generations");
  sigs->require_subcommand(1);
  std::vector<std::string> sig_paths;
  std::string created;
  CLI::App* sig_add = sigs->add_subcommand("add", "Check that FILEs/DIRs load, then make them the next signed generation");
  sig_add->add_option("PATH", sig_paths, "ClamAV databases, YARA rules, or directories of them")->required();
  sig_add->add_option("--created", created, "Date of the signatures, RFC 3339 UTC (default now)")->type_name("TIME");
  CLI::App* sig_list = sigs->add_subcommand("list", "Every generation");

  CLI::App* policy = app.add_subcommand("policy", "The policy signed onto keys");
  policy->require_subcommand(1);
  std::string policy_file;
  CLI::App* policy_set = policy->add_subcommand("set", "Check FILE (docs/key-format.md) and use it for keys");
  policy_set->add_option("FILE", policy_file)->required();
  CLI::App* policy_show = policy->add_subcommand("show", "Print the current policy");

  CLI::App* keycmd = app.add_subcommand("key", "Keys");
  keycmd->require_subcommand(1);
  std::string key_dir, site;
  CLI::App* prepare = keycmd->add_subcommand("prepare", "Lay out a new key in DIR: scanner, identity, policy, signatures");
  prepare->add_option("DIR", key_dir)->required();
  prepare->add_option("--site", site, "Site the key serves (reports can be filtered by it)");
  CLI::App* sync = keycmd->add_subcommand(
      "sync", "Verify and import the key's journal, collect inventories and quarantine records, update the key");
  sync->add_option("DIR", key_dir)->required();
  CLI::App* keys = app.add_subcommand("keys", "Enrolled keys, their last sync and any flag");

  CLI::App* devices = app.add_subcommand("devices", "Every device with its last verdict");
  std::string device_id;
  CLI::App* device = app.add_subcommand("device", "One device's scan history and detections");
  device->add_option("ID", device_id, "Device id (D-…)")->required();
  std::string since;
  CLI::App* detections = app.add_subcommand("detections", "Detections across the fleet");
  detections->add_option("--since", since, "RFC 3339 UTC time, or a date YYYY-MM-DD")->type_name("TIME");

  std::string format = "html", output;
  CLI::App* report = app.add_subcommand("report", "Audit report: per device, last scan, verdict, signature age, "
                                                  "detections and actions");
  report->add_option("--format", format, "html or csv")->check(CLI::IsMember({"html", "csv"}))->capture_default_str();
  report->add_option("--since", since, "Only scans and detections from this time (RFC 3339 or YYYY-MM-DD)");
  report->add_option("--site", site, "Only this site's devices");
  report->add_option("-o,--output", output, "Write to FILE (default stdout)")->type_name("FILE");

  std::vector<std::string> hunt_dbs;
  CLI::App* hunt = app.add_subcommand(
      "hunt", "Check every device's stored file-hash inventory against new SHA-256 hash signatures");
  hunt->add_option("--db", hunt_dbs, ".hsb/.hdb files (HASH:SIZE:NAME)")->required()->type_name("FILE");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kExitUsage;
  }
  if (since.size() == 10) since += "T00:00:00.000Z";
  if (!since.empty()) {
    auto t = key::ParseTime(since);
    if (!t) return Error("--since: " + t.error());
    since = key::TimeMs(*t);
  }

  try {
    if (init->parsed()) {
      if (scanner.empty()) scanner = SelfDir() + "/avkey";
      auto c = Console::Init(home, name, scanner);
      if (!c) return Error(c.error());
      std::printf("console home %s created (name %s, schema version %d); scanner for keys: %s\n", home.c_str(),
                  (*c)->name().c_str(), (*c)->db().schema_version(), scanner.c_str());
      return 0;
    }
    auto c = OpenHome(home);
    if (!c) return Error(c.error());
    Console& con = **c;
    if (sig_add->parsed()) {
      auto when = created.empty() ? Result<std::chrono::system_clock::time_point>(std::chrono::system_clock::now())
                                  : key::ParseTime(created);
      if (!when) return Error("--created: " + when.error());
      auto g = con.AddSignatures(sig_paths, *when);
      if (!g) return Error(g.error());
      for (const auto& p : g->problems) std::fprintf(stderr, "  skipped: %s\n", p.c_str());
      std::printf("generation %d: %zu files, %llu signatures (with the built-in ones), %zu skipped\n", g->generation,
                  g->files.size(), static_cast<unsigned long long>(g->signatures), g->problems.size());
      return 0;
    }
    if (sig_list->parsed()) {
      return Print(con.db().Query("SELECT generation, created, added, files, signatures FROM generations "
                                  "ORDER BY generation"),
                   {"GEN", "CREATED", "ADDED", "FILES", "SIGNATURES"});
    }
    if (policy_set->parsed()) {
      auto text = platform::ReadFile(policy_file, 1 << 20);
      if (!text) return Error(text.error());
      Status s = con.SetPolicy(*text);
      if (!s.ok()) return Error(s.message());
      std::printf("policy set; keys get it at their next prepare or sync\n");
      return 0;
    }
    if (policy_show->parsed()) {
      auto text = platform::ReadFile(home + "/policy.toml", 1 << 20);
      std::printf("%s", text ? text->c_str() : "# no policy set: keys get the defaults (report only)\n");
      return 0;
    }
    if (prepare->parsed()) {
      auto id = con.PrepareKey(key_dir, site);
      if (!id) return Error(id.error());
      std::printf("key %s prepared in %s%s\n", id->c_str(), key_dir.c_str(),
                  con.NewestGeneration().empty() ? " (no signatures yet: run `signatures add`, then sync)" : "");
      return 0;
    }
    if (sync->parsed()) {
      auto s = con.SyncKey(key_dir);
      if (!s) return Error(s.error());
      for (const auto& n : s->notes) std::printf("note: %s\n", n.c_str());
      if (s->refused) {
        std::printf("key %s: JOURNAL REFUSED, nothing imported and nothing pushed:\n", s->key_id.c_str());
        for (const auto& p : s->problems) std::printf("  %s\n", p.c_str());
        return 1;
      }
      std::printf("key %s: %llu new records (%llu scans, %llu detections, %llu actions, %llu devices), "
                  "%llu inventories, %llu quarantine records\n",
                  s->key_id.c_str(), static_cast<unsigned long long>(s->records),
                  static_cast<unsigned long long>(s->scans), static_cast<unsigned long long>(s->detections),
                  static_cast<unsigned long long>(s->actions), static_cast<unsigned long long>(s->devices),
                  static_cast<unsigned long long>(s->inventories),
                  static_cast<unsigned long long>(s->quarantine_items));
      std::printf("pushed: %s; policy %s; scanner %s\n",
                  s->generation_pushed ? fmt::format("signatures gen-{}", s->generation_pushed).c_str()
                                       : "signatures already current",
                  s->policy_pushed ? "updated" : "unchanged",
                  s->binary_replaced ? "REPLACED (it differed from the console's copy)" : "matches");
      return 0;
    }
    if (keys->parsed()) {
      return Print(con.db().Query("SELECT key_id, site, enrolled, last_sync, last_seq, flagged FROM keys ORDER BY key_id"),
                   {"KEY", "SITE", "ENROLLED", "LAST SYNC", "LAST SEQ", "FLAG"});
    }
    if (devices->parsed()) {
      return Print(con.db().Query(
                       "SELECT d.device_id, d.hostname, d.site, d.asset_tag, s.finished, s.verdict, s.reason FROM devices d "
                       "LEFT JOIN scans s ON s.scan_id = (SELECT scan_id FROM scans WHERE device_id = d.device_id AND "
                       "finished IS NOT NULL ORDER BY finished DESC LIMIT 1) ORDER BY d.site, d.hostname"),
                   {"DEVICE", "HOST", "SITE", "ASSET", "LAST SCAN", "VERDICT", "REASON"});
    }
    if (device->parsed()) {
      int rc = Print(con.db().Query("SELECT scan_id, started, finished, verdict, reason, generation, key_id FROM scans "
                                    "WHERE device_id = ?1 ORDER BY started",
                                    {device_id}),
                     {"SCAN", "STARTED", "FINISHED", "VERDICT", "REASON", "GEN", "KEY"});
      std::printf("\n");
      return rc | Print(con.db().Query("SELECT time, path, signature, scan_id FROM detections WHERE device_id = ?1 "
                                       "ORDER BY time, seq",
                                       {device_id}),
                        {"TIME", "PATH", "SIGNATURE", "SCAN"});
    }
    if (detections->parsed()) {
      return Print(con.db().Query("SELECT d.time, d.device_id, COALESCE(v.hostname, ''), d.path, d.signature FROM "
                                  "detections d LEFT JOIN devices v ON v.device_id = d.device_id WHERE (?1 = '' OR "
                                  "d.time >= ?1) ORDER BY d.time, d.seq",
                                  {since}),
                   {"TIME", "DEVICE", "HOST", "PATH", "SIGNATURE"});
    }
    if (report->parsed()) {
      auto r = con.BuildReport(since, site);
      if (!r) return Error(r.error());
      std::string text = format == "html" ? RenderHtml(*r) : RenderCsv(*r);
      if (output.empty()) {
        std::fwrite(text.data(), 1, text.size(), stdout);
        return 0;
      }
      Status s = platform::WriteFileDurably(platform::Env::Default(), output, text);
      if (!s.ok()) return Error(s.message());
      std::printf("report: %s (%zu devices)\n", output.c_str(), r->devices.size());
      return 0;
    }
    if (hunt->parsed()) {
      auto h = con.Hunt(hunt_dbs);
      if (!h) return Error(h.error());
      for (const auto& p : h->problems) std::fprintf(stderr, "  skipped: %s\n", p.c_str());
      for (const auto& hit : h->hits) {
        auto show = [](const std::string& t) { return scan::EscapeControls(t); };
        std::printf("%s (%s)  %s  %s  %s  [inventory of %s, scan %s]\n", show(hit.device_id).c_str(),
                    show(hit.hostname).c_str(), show(hit.path).c_str(), show(hit.signature).c_str(),
                    show(hit.sha256).c_str(), show(hit.collected_at).c_str(), show(hit.scan_id).c_str());
      }
      std::printf("%zu matching files; %llu SHA-256 signatures checked, %llu MD5/SHA-1 signatures not checkable "
                  "(inventories hold SHA-256)\n",
                  h->hits.size(), static_cast<unsigned long long>(h->sha256_signatures),
                  static_cast<unsigned long long>(h->other_signatures));
      return h->hits.empty() ? 0 : 1;
    }
  } catch (const std::exception& e) {
    return Error(std::string("internal error: ") + e.what());
  }
  return kExitUsage;
}
