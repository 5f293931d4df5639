// avkey: the no-install scanner run from the key. Argument parsing and wiring only;
// the work is in the scan and engine layers, the printing in output.cpp.
//
// Exit status of `avkey scan` is the verdict (DESIGN.md §4): 0 BLUE, 1 RED, 2 AMBER,
// 3 GREEN. A scan that cannot start (signatures fail to load) is AMBER: nothing was
// checked. Usage errors exit 64 so they are never mistaken for a verdict.
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

#include "CLI/CLI.hpp"
#include "avkey/engine/engine.h"
#include "avkey/scan/report.h"
#include "avkey/scan/scan.h"
#include "fmt/format.h"
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

Result<LoadedDb> LoadDatabase(const std::vector<std::string>& paths, engine::LoadReport* failed_report) {
  auto t0 = std::chrono::steady_clock::now();
  engine::DatabaseBuilder builder;
  if (!g_cache_dir.empty()) builder.SetCacheDirectory(g_cache_dir);
  if (paths.empty()) {
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

// Writes `text` to `path` through a temporary file and rename, so a pulled key never
// leaves half a report under the final name.
Status WriteFileAtomically(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) return Status::Error(fmt::format("{}: {}", tmp, std::strerror(errno)));
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  ok = (std::fflush(f) == 0) && ok;
  ok = (::fsync(fileno(f)) == 0) && ok;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    std::remove(tmp.c_str());
    return Status::Error(fmt::format("{}: {}", path, std::strerror(err)));
  }
  return Status::Ok();
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
};

int RunScanCommand(const ScanArgs& args) {
  auto t0 = std::chrono::steady_clock::now();
  OutputOptions out;
  out.quiet = args.quiet;
  out.stdout_tty = ::isatty(STDOUT_FILENO) == 1;
  out.stderr_tty = ::isatty(STDERR_FILENO) == 1;
  const char* no_color = std::getenv("NO_COLOR");
  out.color = out.stdout_tty && !(no_color && *no_color);

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
    for (const auto& p : failed_report.problems) {
      std::fprintf(stderr, "  %s:%llu: %s\n", p.file.c_str(), static_cast<unsigned long long>(p.line),
                   p.reason.c_str());
    }
    scan::ScanReport report;
    report.started = report.finished = std::chrono::system_clock::now();
    report.incomplete.push_back({"", {}, "database-error", "database-error (" + loaded.error() + ")"});
    if (!args.json.empty()) {
      Status s = WriteFileAtomically(args.json, scan::ReportToJson(report, meta));
      if (!s.ok()) std::fprintf(stderr, "avkey: cannot write the JSON report: %s\n", s.message().c_str());
    }
    PrintSummary(report, out, std::chrono::steady_clock::now() - t0);
    return static_cast<int>(report.verdict());
  }
  meta.database_identity = loaded->db->identity();
  meta.database_signatures = loaded->db->report().total();

  // Ctrl-C / SIGTERM end the scan early (AMBER, "interrupted"). The signals are blocked
  // in every thread and taken by sigtimedwait() here: no work in a signal handler.
  std::stop_source stop;
  opt.stop = stop.get_token();
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::jthread signals([&set, &stop](std::stop_token st) {
    timespec tick{0, 200 * 1000 * 1000};
    while (!st.stop_requested()) {
      if (sigtimedwait(&set, nullptr, &tick) > 0) stop.request_stop();
    }
  });

  ConsoleSink sink(out);
  scan::ScanReport report = scan::RunScan(opt, loaded->db, &sink);
  sink.ClearProgress();
  signals.request_stop();
  signals.join();

  int rc = static_cast<int>(report.verdict());
  if (!args.json.empty()) {
    Status s = WriteFileAtomically(args.json, scan::ReportToJson(report, meta));
    if (!s.ok()) std::fprintf(stderr, "avkey: cannot write the JSON report: %s\n", s.message().c_str());
  }
  PrintSummary(report, out, std::chrono::steady_clock::now() - t0);
  return rc;
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
  std::printf("compiled-pattern cache:   %s\n", r.cache_state.c_str());
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
                   "What to do with a detection. Only 'report' exists in this version; quarantine and "
                   "remove come with the key's policy")
      ->check(CLI::IsMember({"report"}))->type_name("ACTION");
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
  scan->add_option("PATH", sa.paths, "Files and directories to scan")->required()->type_name("");
  const char* kCacheHelp =
      "Keep compiled signatures in DIR so the next start with the same signatures skips compilation "
      "(checked on load: a corrupt, stale or other-CPU cache is rebuilt). Default: no cache, nothing written";
  scan->add_option("--cache", g_cache_dir, kCacheHelp)->type_name("DIR");

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
  try {
    if (scan->parsed()) return RunScanCommand(sa);
    if (info->parsed()) return RunDbInfo(info_dbs);
    if (version->parsed()) return RunVersion(version_dbs);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "avkey: internal error: %s\n", e.what());
    return 2;  // nothing can be claimed about the device: AMBER
  }
  return kExitUsage;
}
