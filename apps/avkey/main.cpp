// avkey: the no-install scanner run from the key. Argument parsing and wiring only;
// the work is in the scan and engine layers, the printing in output.cpp.
//
// Exit status of `avkey scan` is the verdict (DESIGN.md §4): 0 BLUE, 1 RED, 2 AMBER,
// 3 GREEN. A scan that cannot start (signatures fail to load) is AMBER: nothing was
// checked. Usage errors exit 64 so they are never mistaken for a verdict.
#include <openssl/crypto.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <thread>

#include "CLI/CLI.hpp"
#include "avkey/engine/engine.h"
#include "avkey/key/session.h"
#include "avkey/platform/env.h"
#include "avkey/scan/report.h"
#include "avkey/scan/scan.h"
#include "fmt/format.h"
#include "key_commands.h"
#include "output.h"

namespace avkey::app {
namespace {

constexpr int kExitUsage = 64;

struct LoadedDb {
  std::shared_ptr<const engine::Database> db;
  std::chrono::steady_clock::duration load_time{};
};

// Loads --db paths, or the built-in signatures when there are none. Load problems of
// single signatures are in db->report(); an error here means no usable database.
// The compiled-pattern cache is used only when asked for (--cache DIR): the scanner
// writes nothing on the device it scans unless told where.
std::string g_cache_dir;

// `pinned`: the signed manifest's size and SHA-256 of every file a key's generation holds;
// the builder checks each byte it loads against them.
Result<LoadedDb> LoadDatabase(const std::vector<std::string>& paths, engine::LoadReport* failed_report,
                              bool with_builtin = false, const std::string& read_only_cache = "",
                              const std::vector<key::Generation::Pinned>* pinned = nullptr) {
  auto t0 = std::chrono::steady_clock::now();
  engine::DatabaseBuilder builder;
  if (pinned != nullptr) {
    std::map<std::string, engine::DatabaseBuilder::FileDigest> files;
    for (const auto& p : *pinned) files[p.path] = {p.size, p.sha256};
    builder.SetTrustedFiles(std::move(files));
  }
  if (!g_cache_dir.empty()) {
    builder.SetCacheDirectory(g_cache_dir);
  } else if (!read_only_cache.empty()) {
    builder.SetCacheDirectory(read_only_cache, /*read_only=*/true);
  }
  if (paths.empty() || with_builtin) {
    Status s = engine::AddBuiltinSignatures(&builder);
    if (!s.ok()) return Fail("built-in signatures: " + s.message());
  }
  for (const auto& p : paths) {
    Status s = builder.AddPath(p);
    if (!s.ok()) return Fail(fmt::format("{}: {}", p, s.message()));
  }
  auto built = builder.Build();
  if (!built) {
    if (failed_report) *failed_report = builder.report();
    return Fail(built.error());
  }
  return LoadedDb{std::move(*built), std::chrono::steady_clock::now() - t0};
}

struct ScanArgs {
  std::vector<std::string> dbs;
  unsigned jobs = 0;
  std::string json;
  std::string action = "report";
  std::vector<std::string> excludes;
  std::string max_filesize = "100M";
  bool one_file_system = false;
  bool follow_symlinks = false;
  bool quiet = false;
  std::vector<std::string> paths;
  scan::ArchiveLimits limits;
  std::string max_unpacked = "400M";
  uint64_t max_time_ms = 120000;
  std::string key;        // --key DIR
  bool no_key = false;    // --no-key: ignore the key this binary runs from
  std::string asset_tag;  // --asset-tag
  std::vector<std::string> policy_overrides;  // options given that a key's policy decides
};

OutputOptions MakeOutputOptions(bool quiet) {
  OutputOptions out;
  out.quiet = quiet;
  out.stdout_tty = ::isatty(STDOUT_FILENO) == 1;
  out.stderr_tty = ::isatty(STDERR_FILENO) == 1;
  const char* no_color = std::getenv("NO_COLOR");
  out.color = out.stdout_tty && !(no_color && *no_color);
  return out;
}

// Runs the scan with Ctrl-C / SIGTERM / SIGHUP ending it early (AMBER, "interrupted").
// The signals are blocked in every thread and taken by sigtimedwait() here: no work in
// a signal handler.
scan::ScanReport ScanWithSignals(scan::ScanOptions opt, std::shared_ptr<const engine::Database> db,
                                 scan::ProgressSink* sink) {
  // g++ 12 warns that stop_source's constructor reads itself uninitialised (it passes
  // *this to its state's constructor); it does not.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
  std::stop_source stop;
#pragma GCC diagnostic pop
  opt.stop = stop.get_token();
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  // A private signal, blocked like the others, wakes the waiting thread when the scan is
  // over: left to its 200 ms tick, the join below added 0-200 ms (100 on average, 6% of a
  // 2-second scan) to every scan after its last file.
  const int wake = SIGRTMIN;
  sigaddset(&set, wake);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::jthread signals([&set, &stop, wake](std::stop_token st) {
    timespec tick{0, 200 * 1000 * 1000};
    while (!st.stop_requested()) {
      const int sig = sigtimedwait(&set, nullptr, &tick);
      if (sig > 0 && sig != wake) stop.request_stop();
    }
  });
  scan::ScanReport report = scan::RunScan(opt, std::move(db), sink);
  signals.request_stop();
  pthread_kill(signals.native_handle(), wake);  // pending until taken, or dropped with the thread
  signals.join();
  return report;
}

// Writes the JSON report if asked, prints the verdict, returns the exit status.
int Conclude(const scan::ScanReport& report, const scan::ReportMeta& meta, const std::string& json_path,
             const OutputOptions& out, std::chrono::steady_clock::time_point t0) {
  if (!json_path.empty()) {
    // Through a temporary file, fsync and rename: a pulled key never leaves half a report.
    Status s = platform::WriteFileDurably(platform::Env::Default(), json_path, scan::ReportToJson(report, meta));
    if (!s.ok()) std::fprintf(stderr, "avkey: cannot write the JSON report: %s\n", s.message().c_str());
  }
  PrintSummary(report, out, std::chrono::steady_clock::now() - t0);
  return static_cast<int>(report.verdict());
}

void PrintLoadProblems(const engine::LoadReport& r) {
  for (const auto& p : r.problems) {
    std::fprintf(stderr, "  %s:%llu: %s\n", p.file.c_str(), static_cast<unsigned long long>(p.line),
                 p.reason.c_str());
  }
}

// Asks the operator for the device's asset tag when the policy wants one.
Result<std::string> AssetTag(const std::string& given, const std::string& mode) {
  if (!given.empty() || mode == "never") return given;
  if (::isatty(STDIN_FILENO) != 1) {
    if (mode == "required") return Fail("the key's policy requires the device's asset tag: give --asset-tag TAG");
    return given;
  }
  std::fprintf(stderr, "Asset tag of this device%s: ", mode == "required" ? "" : " (Enter to skip)");
  std::fflush(stderr);
  char line[256];
  if (!std::fgets(line, sizeof line, stdin)) return Fail("no asset tag given");
  std::string tag(line);
  while (!tag.empty() && (tag.back() == '\n' || tag.back() == '\r' || tag.back() == ' ')) tag.pop_back();
  if (tag.empty() && mode == "required") return Fail("the key's policy requires the device's asset tag");
  return tag;
}

// `avkey scan` from a key: the key's policy, signatures, journal and quarantine.
int RunKeyScan(const ScanArgs& args, const std::string& root) {
  auto t0 = std::chrono::steady_clock::now();
  OutputOptions out = MakeOutputOptions(args.quiet);
  if (!args.dbs.empty() || !args.policy_overrides.empty()) {
    std::string what = !args.dbs.empty() ? "--db" : args.policy_overrides.front();
    std::fprintf(stderr, "avkey: %s: on a key, the key's signed policy and signatures decide (use --no-key to "
                 "scan without the key)\n", what.c_str());
    return kExitUsage;
  }
  key::SessionOptions so;
  so.root = root;
  so.paths = args.paths;
  so.jobs = args.jobs;
  auto session = key::KeySession::Open(platform::Env::Default(), so);
  if (!session) {
    std::fprintf(stderr, "avkey: %s\n", session.error().c_str());
    scan::ScanReport report;
    report.started = report.finished = std::chrono::system_clock::now();
    report.incomplete.push_back({"", {}, "key-error", "key-error (" + session.error() + ")"});
    return Conclude(report, {}, args.json, out, t0);
  }
  key::KeySession& ks = **session;
  scan::ReportMeta meta;
  meta.program_version = AVKEY_VERSION;
  scan::ScanReport report;
  std::string refusal = ks.refusal();
  std::shared_ptr<const engine::Database> db;
  if (refusal.empty()) {
    auto tag = AssetTag(args.asset_tag, ks.policy().asset_tag);
    if (!tag) {
      std::fprintf(stderr, "avkey: %s\n", tag.error().c_str());
      return kExitUsage;
    }
    so.asset_tag = *tag;
    engine::LoadReport failed_report;
    // The built-in test signatures (EICAR...) too: an operator can check any key with the
    // standard test file, whatever the generation holds.
    // The console's compiled patterns, shipped in the signed generation, spare the device
    // the compilation (13 s for the full ClamAV set, bench/README.md).
    auto loaded = LoadDatabase(ks.db_paths(), &failed_report, /*with_builtin=*/true, ks.compiled_cache_dir(),
                               &ks.pinned_files());
    if (loaded) {
      db = loaded->db;
      meta.database_identity = db->identity();
      meta.database_signatures = db->report().total();
    } else {
      refusal = "cannot load signatures: " + loaded.error();
      PrintLoadProblems(failed_report);
    }
  }
  if (!refusal.empty()) std::fprintf(stderr, "avkey: scan refused: %s\n", refusal.c_str());
  ks.SetAssetTag(so.asset_tag);
  (void)ks.Start(meta.database_identity, meta.database_signatures, db ? db->report().cache_state : "");
  for (const auto& w : ks.warnings()) std::fprintf(stderr, "avkey: warning: %s\n", w.c_str());
  ConsoleSink sink(out);
  if (refusal.empty()) {
    report = ScanWithSignals(ks.MakeScanOptions(), db, ks.Sink(&sink));
    sink.ClearProgress();
  } else {
    report.started = report.finished = std::chrono::system_clock::now();
    if (refusal != ks.refusal()) ks.Refuse(refusal);
  }
  ks.Finish(&report);
  // Why a threat is still there, in words: "No space left on device" means the key is full.
  std::set<std::string> told;
  for (const auto& d : report.detections) {
    if (d.action_result == "failed" && told.insert(d.path).second) {
      std::fprintf(stderr, "avkey: %s not done for %s: %s\n", d.action.c_str(),
                   scan::EscapeName(d.path, true).c_str(), scan::EscapeName(d.action_detail, true).c_str());
    }
  }
  return Conclude(report, meta, args.json, out, t0);
}

int RunScanCommand(const ScanArgs& args) {
  if (!args.no_key) {
    std::string root = ResolveKeyRoot(args.key, /*quiet_if_none=*/true);
    if (!root.empty()) return RunKeyScan(args, root);
  }
  if (args.paths.empty()) {
    std::fprintf(stderr, "avkey: scan: give the PATHs to scan (avkey is not running from a key; --key DIR names one)\n");
    return kExitUsage;
  }
  if (args.action != "report") {
    // Removal must be explicit, recorded and reversible: only with a key's journal and
    // quarantine, and only when its signed policy says so.
    std::fprintf(stderr, "avkey: --action %s: quarantine and removal are done only from a key, as its signed "
                 "policy says; without a key avkey only reports\n", args.action.c_str());
    return kExitUsage;
  }
  auto t0 = std::chrono::steady_clock::now();
  OutputOptions out = MakeOutputOptions(args.quiet);

  scan::ScanOptions opt;
  opt.paths = args.paths;
  opt.jobs = args.jobs;
  opt.excludes = args.excludes;
  opt.one_file_system = args.one_file_system;
  opt.follow_symlinks = args.follow_symlinks;
  auto size = scan::ParseSize(args.max_filesize);
  if (!size) {
    std::fprintf(stderr, "avkey: --max-filesize: %s\n", size.error().c_str());
    return kExitUsage;
  }
  opt.max_file_size = *size;
  auto unpacked = scan::ParseSize(args.max_unpacked);
  if (!unpacked) {
    std::fprintf(stderr, "avkey: --max-unpacked: %s\n", unpacked.error().c_str());
    return kExitUsage;
  }
  opt.limits = args.limits;
  opt.limits.max_unpacked_bytes = *unpacked;
  opt.limits.max_time = std::chrono::milliseconds(args.max_time_ms);

  scan::ReportMeta meta;
  meta.program_version = AVKEY_VERSION;
  engine::LoadReport failed_report;
  auto loaded = LoadDatabase(args.dbs, &failed_report);
  if (!loaded) {
    // Nothing can be checked without signatures: the scan is incomplete (AMBER).
    std::fprintf(stderr, "avkey: cannot load signatures: %s\n", loaded.error().c_str());
    PrintLoadProblems(failed_report);
    scan::ScanReport report;
    report.started = report.finished = std::chrono::system_clock::now();
    report.incomplete.push_back({"", {}, "database-error", "database-error (" + loaded.error() + ")"});
    return Conclude(report, meta, args.json, out, t0);
  }
  meta.database_identity = loaded->db->identity();
  meta.database_signatures = loaded->db->report().total();
  {
    // The scan runs on what loaded, but the operator must know some signatures did not
    // (problems that are not about a signature, like a cache that could not be written, aside).
    std::vector<const engine::LoadProblem*> skipped;
    for (const auto& p : loaded->db->report().problems) {
      if (!p.reason.starts_with("cache not written") && !p.reason.starts_with("warning: ")) skipped.push_back(&p);
    }
    if (!skipped.empty()) {
      std::fprintf(stderr, "avkey: warning: %zu signature problem%s, those signatures are not used (first: %s:%llu: %s); "
                   "`avkey db info --db ...` lists them\n", skipped.size(), skipped.size() == 1 ? "" : "s",
                   scan::EscapeName(skipped[0]->file, true).c_str(), static_cast<unsigned long long>(skipped[0]->line),
                   scan::EscapeName(skipped[0]->reason, true).c_str());
    }
  }

  ConsoleSink sink(out);
  scan::ScanReport report = ScanWithSignals(opt, loaded->db, &sink);
  sink.ClearProgress();
  return Conclude(report, meta, args.json, out, t0);
}

int RunDbInfo(const std::vector<std::string>& dbs) {
  engine::LoadReport failed_report;
  auto loaded = LoadDatabase(dbs, &failed_report);
  const engine::LoadReport& r = loaded ? loaded->db->report() : failed_report;
  std::printf("sources:%s\n", dbs.empty() ? " (built-in signatures)" : "");
  for (const auto& f : r.files) std::printf("  %s\n", f.c_str());
  std::printf("hash signatures:          %llu\n", static_cast<unsigned long long>(r.hash));
  std::printf("section hash signatures:  %llu\n", static_cast<unsigned long long>(r.section_hash));
  std::printf("body signatures:          %llu\n", static_cast<unsigned long long>(r.body));
  std::printf("logical signatures:       %llu\n", static_cast<unsigned long long>(r.logical));
  std::printf("yara rules:               %llu\n", static_cast<unsigned long long>(r.yara));
  std::printf("allow-list entries:       %llu\n", static_cast<unsigned long long>(r.allow));
  std::printf("ignored names:            %llu\n", static_cast<unsigned long long>(r.ignore));
  std::printf("skipped (flevel):         %llu\n", static_cast<unsigned long long>(r.flevel_skipped));
  std::printf("total signatures:         %llu\n", static_cast<unsigned long long>(r.total()));
  std::printf("problems:                 %zu\n", r.problems.size());
  for (const auto& p : r.problems) {
    std::printf("  %s:%llu: %s\n", p.file.c_str(), static_cast<unsigned long long>(p.line), p.reason.c_str());
  }
  if (!loaded) {
    std::fprintf(stderr, "avkey: cannot load signatures: %s\n", loaded.error().c_str());
    return 1;
  }
  std::printf("identity:                 %s\n", loaded->db->identity().c_str());
  std::printf("load time:                %.3f s\n", std::chrono::duration<double>(loaded->load_time).count());
  std::printf("parsed-signature cache:   %s\n", r.parsed_cache.c_str());
  std::printf("compiled-pattern cache:   %s\n", r.cache_state.c_str());
  std::string targets;
  for (uint8_t t : r.pattern_targets) targets += (targets.empty() ? "" : " ") + std::to_string(t);
  std::printf("pattern databases:        %zu%s\n", r.pattern_targets.size(),
              targets.empty() ? "" : (" (targets " + targets + ")").c_str());
  std::printf("normalised-text patterns: %zu\n", r.normalized_text_patterns);
  std::printf("YARA prefilter:           %s\n", r.yara_prefilter.c_str());
  std::printf("YARA compiled rules:      %s\n", r.yara_cache.c_str());
  return 0;
}

int RunVersion(const std::vector<std::string>& dbs) {
  std::printf("avkey %s\n", AVKEY_VERSION);
  std::printf("libraries: %s\n", engine::LibraryVersions().c_str());
  auto loaded = LoadDatabase(dbs, nullptr);
  if (loaded) {
    std::printf("signatures: %s, %llu signatures, identity %s\n",
                dbs.empty() ? "built-in" : "--db", static_cast<unsigned long long>(loaded->db->report().total()),
                loaded->db->identity().c_str());
  } else {
    std::printf("signatures: cannot load (%s)\n", loaded.error().c_str());
  }
  return 0;
}

}  // namespace
}  // namespace avkey::app

int main(int argc, char** argv) {
  using namespace avkey::app;
  // Before anything uses OpenSSL: never read the device's openssl.cnf (or $OPENSSL_CONF).
  // A configuration can load provider and engine modules, and the scanner runs nothing
  // from the device it scans. Also 2-4 ms less start-up.
  OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, nullptr);
  // Nor its time zone: avkey writes UTC only, but libarchive converts each zip, cab and lha
  // member's time with mktime(), and with TZ unset glibc stats the device's /etc/localtime
  // at every call (41,750 times for the bench corpus's jars: 6% of a hash-only scan).
  // Before any thread exists (setenv is not thread-safe).
  ::setenv("TZ", "UTC0", 1);
  SetArgv0(argc > 0 ? argv[0] : nullptr);
  CLI::App app{"avkey: offline anti-malware scanner, run from a USB key without installing anything."};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Help for every command");

  ScanArgs sa;
  CLI::App* scan = app.add_subcommand(
      "scan",
      "Scan files and directories. Exit status is the verdict: 0 BLUE (complete, nothing found), "
      "1 RED (a threat remains), 2 AMBER (incomplete, nothing found), 3 GREEN (all threats "
      "removed); 64 usage error.");
  scan->add_option("--db", sa.dbs, "Signature file or directory (ClamAV formats, YARA); repeatable. "
                                   "Default: the built-in signatures")
      ->allow_extra_args(false)->type_name("PATH");
  scan->add_option("-j,--jobs", sa.jobs, "Worker threads (default: number of CPUs)")->check(CLI::Range(0u, 1024u))->type_name("N");
  scan->add_option("--json", sa.json, "Also write the report as JSON to FILE (docs/report.schema.json)")->type_name("FILE");
  scan->add_option("--action", sa.action,
                   "What to do with a detection: report (default). quarantine and remove are done only "
                   "from a key, as its signed policy says (docs/cli.md, 'Running from a key')")
      ->check(CLI::IsMember({"report", "quarantine", "remove"}))->type_name("ACTION");
  scan->add_option("--exclude", sa.excludes,
                   "Skip paths matching GLOB (fnmatch); without '/', matched against the base name; repeatable")
      ->allow_extra_args(false)->type_name("GLOB");
  scan->add_option("--max-filesize", sa.max_filesize,
                   "Larger files are not scanned and reported incomplete (too-large); e.g. 100M, 2G; 0: no limit")
      ->capture_default_str()->type_name("SIZE");
  scan->add_flag("--one-file-system", sa.one_file_system, "Do not enter other mounted file systems");
  scan->add_flag("--follow-symlinks", sa.follow_symlinks,
                 "Follow symlinks inside directories (those given as PATH are always followed)");
  scan->add_flag("-q,--quiet", sa.quiet, "Print result lines only: no progress, no verdict banner");
  const char* kLimits = "Archive budgets (0: no limit)";
  scan->add_option("--max-depth", sa.limits.max_depth, "Deepest container nesting unpacked (0: none; at most 64)")
      ->capture_default_str()->check(CLI::Range(0u, 64u))->group(kLimits)->type_name("N");
  scan->add_option("--max-unpacked", sa.max_unpacked, "Bytes unpacked from one file, all members together")
      ->capture_default_str()->group(kLimits)->type_name("SIZE");
  scan->add_option("--max-entries", sa.limits.max_entries, "Members unpacked from one file")
      ->capture_default_str()->group(kLimits)->type_name("N");
  scan->add_option("--max-ratio", sa.limits.max_ratio,
                   "Members may expand to at most this many times their container (checked past 8 MiB)")
      ->capture_default_str()->group(kLimits)->type_name("N");
  scan->add_option("--max-scantime", sa.max_time_ms, "Milliseconds spent on one file and its members")
      ->capture_default_str()->group(kLimits)->type_name("MS");
  scan->add_option("PATH", sa.paths,
                   "Files and directories to scan. Default when running from a key: what its policy names")
      ->type_name("");
  const char* kKey = "Running from a key (docs/key-format.md)";
  scan->add_option("--key", sa.key, "Use the key in DIR (default: the key this avkey runs from, if any)")
      ->group(kKey)->type_name("DIR");
  scan->add_flag("--no-key", sa.no_key, "Scan without the key: no policy, journal or quarantine")->group(kKey);
  scan->add_option("--asset-tag", sa.asset_tag, "The device's asset tag, recorded in the journal")
      ->group(kKey)->type_name("TAG");
  const char* kCacheHelp =
      "Keep compiled signatures in DIR so the next start with the same signatures skips compilation "
      "(checked on load: a corrupt, stale or other-CPU cache is rebuilt). Default: no cache, nothing written";
  scan->add_option("--cache", g_cache_dir, kCacheHelp)->type_name("DIR");

  // ---- commands on a key ----
  std::string key_dir;
  auto add_key_opt = [&key_dir](CLI::App* c) {
    c->add_option("--key", key_dir, "The key's directory (default: the key this avkey runs from)")->type_name("DIR");
  };
  CLI::App* keycmd = app.add_subcommand("key", "Prepare and inspect keys (the console's job, until it exists)");
  keycmd->require_subcommand(1);
  KeyInitArgs init_args;
  CLI::App* kinit = keycmd->add_subcommand(
      "init", "Make DIR a new key trusting the signer in --signer (created if absent), install this avkey on it");
  kinit->add_option("DIR", init_args.root, "The key's directory (e.g. the USB key's mount point)")->required();
  kinit->add_option("--signer", init_args.signer, "The console's signing directory (keep it off the key)")
      ->required()->type_name("DIR");
  kinit->add_option("--console-name", init_args.console_name, "Name of the console, recorded in key.json")
      ->capture_default_str();
  kinit->add_option("--policy", init_args.policy_file, "Sign and install this policy (avkey.toml)")->type_name("FILE");
  kinit->add_option("--signatures", init_args.signatures, "Publish these signature files as generation 1 "
                                                          "(one or more; give DIR first)")
      ->type_name("FILE");
  kinit->add_option("--created", init_args.created, "Date of the signatures (RFC 3339 UTC); default now")
      ->type_name("TIME");
  std::string signer_dir, policy_file, created;
  std::vector<std::string> publish_files;
  CLI::App* ksign = keycmd->add_subcommand("sign-policy", "Check, sign and install a policy on the key");
  ksign->add_option("POLICY", policy_file, "The policy file (TOML, docs/key-format.md)")->required();
  ksign->add_option("--signer", signer_dir, "The console's signing directory")->required()->type_name("DIR");
  add_key_opt(ksign);
  CLI::App* kpub = keycmd->add_subcommand("publish", "Publish signature files as the key's next signed generation");
  kpub->add_option("FILE", publish_files, "ClamAV databases, YARA rules")->required();
  kpub->add_option("--signer", signer_dir, "The console's signing directory")->required()->type_name("DIR");
  kpub->add_option("--created", created, "Date of the signatures (RFC 3339 UTC); default now")->type_name("TIME");
  add_key_opt(kpub);
  CLI::App* kstatus = keycmd->add_subcommand("status", "Key id, policy and signatures (verified), journal, quarantine");
  add_key_opt(kstatus);

  CLI::App* journal = app.add_subcommand("journal", "The key's journal of scans");
  journal->require_subcommand(1);
  CLI::App* jshow = journal->add_subcommand("show", "Every scan, per device, as a readable table");
  CLI::App* jverify = journal->add_subcommand(
      "verify", "Check the chain, MACs, sequence and torn records. Exit 0 intact, 1 damaged or tampered, 2 torn tail");
  std::string export_format = "jsonl";
  CLI::App* jexport = journal->add_subcommand("export", "Write the records to stdout");
  jexport->add_option("--format", export_format, "jsonl or csv")->check(CLI::IsMember({"jsonl", "csv"}))
      ->capture_default_str();
  for (CLI::App* c : {jshow, jverify, jexport}) add_key_opt(c);

  CLI::App* quarantine = app.add_subcommand("quarantine", "Files the scanner removed, kept inert on the key");
  quarantine->require_subcommand(1);
  std::string qid, restore_to;
  CLI::App* qlist = quarantine->add_subcommand("list", "Every quarantined file");
  CLI::App* qrestore = quarantine->add_subcommand(
      "restore", "Put a file back, byte-identical with its mode and times; never overwrites");
  qrestore->add_option("ID", qid, "Quarantine id (Q-…)")->required();
  qrestore->add_option("--to", restore_to, "Restore to PATH instead of the original path")->type_name("PATH");
  CLI::App* qpurge = quarantine->add_subcommand("purge", "Delete a quarantined file for good");
  qpurge->add_option("ID", qid, "Quarantine id (Q-…)")->required();
  for (CLI::App* c : {qlist, qrestore, qpurge}) add_key_opt(c);

  std::vector<std::string> info_dbs;
  CLI::App* db = app.add_subcommand("db", "Signature database commands");
  db->require_subcommand(1);
  CLI::App* info = db->add_subcommand(
      "info", "Load the signatures and show counts per kind, every skipped signature and why, load time");
  info->add_option("--db", info_dbs, "Signature file or directory; repeatable. Default: built-in")
      ->allow_extra_args(false)->type_name("PATH");
  info->add_option("--cache", g_cache_dir, kCacheHelp)->type_name("DIR");

  std::vector<std::string> version_dbs;
  CLI::App* version = app.add_subcommand("version", "Program, library and signature versions");
  version->add_option("--db", version_dbs, "Signature file or directory; repeatable. Default: built-in")
      ->allow_extra_args(false)->type_name("PATH");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kExitUsage;
  }
  for (const char* name : {"--action", "--exclude", "--max-filesize", "--one-file-system", "--max-depth",
                           "--max-unpacked", "--max-entries", "--max-ratio", "--max-scantime"}) {
    if (scan->count(name) > 0) sa.policy_overrides.push_back(name);
  }
  try {
    if (scan->parsed()) return RunScanCommand(sa);
    if (kinit->parsed()) return RunKeyInit(init_args);
    auto root = [&key_dir] { return ResolveKeyRoot(key_dir, false); };
    auto on_key = [&root](auto fn) {
      std::string r = root();
      return r.empty() ? kExitUsage : fn(r);
    };
    if (ksign->parsed()) return on_key([&](const std::string& r) { return RunKeySignPolicy(r, signer_dir, policy_file); });
    if (kpub->parsed()) {
      return on_key([&](const std::string& r) { return RunKeyPublish(r, signer_dir, publish_files, created); });
    }
    if (kstatus->parsed()) return on_key(RunKeyStatus);
    if (jshow->parsed()) return on_key(RunJournalShow);
    if (jverify->parsed()) return on_key(RunJournalVerify);
    if (jexport->parsed()) return on_key([&](const std::string& r) { return RunJournalExport(r, export_format); });
    if (qlist->parsed()) return on_key(RunQuarantineList);
    if (qrestore->parsed()) return on_key([&](const std::string& r) { return RunQuarantineRestore(r, qid, restore_to); });
    if (qpurge->parsed()) return on_key([&](const std::string& r) { return RunQuarantinePurge(r, qid); });
    if (info->parsed()) return RunDbInfo(info_dbs);
    if (version->parsed()) return RunVersion(version_dbs);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "avkey: internal error: %s\n", e.what());
    return 2;  // nothing can be claimed about the device: AMBER
  }
  return kExitUsage;
}
