// engine_scan: the avkey engine with clamscan's output format, for differential tests.
//
//   engine_scan -d DBPATH [-d DBPATH]... [--report] FILE...
//
// Loads every DBPATH with DatabaseBuilder::AddPath (a file, or every supported file of a
// directory), then scans each FILE's raw bytes (no container recursion, no file-system
// walk: FILE must be a regular file) and prints what `clamscan --allmatch --infected
// --no-summary` prints for it:
//
//   FILE: NAME FOUND
//
// one line per detection, sorted; an .ldb HandlerType signature is reported where it
// matches, as clamscan --disable-cache does (no re-scan). Load problems go to stderr in a form run_diff.py parses:
//
//   engine_scan: load problem: SOURCE:LINE: REASON
//
// --report also prints the load counts to stderr. Exit status as clamscan: 0 nothing found,
// 1 something found, 2 an error (a DBPATH or FILE that cannot be read, a failed build).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "avkey/engine/engine.h"

namespace {

using avkey::engine::DatabaseBuilder;
using avkey::engine::Detection;
using avkey::engine::LoadReport;
using avkey::engine::ScanContext;
using avkey::engine::Scanner;

int Usage() {
  std::fprintf(stderr, "usage: engine_scan -d DBPATH [-d DBPATH]... [--report] [--no-normalize] FILE...\n");
  return 2;
}

bool ReadFile(const std::string& path, std::vector<uint8_t>* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

void PrintProblems(const LoadReport& report) {
  for (const auto& p : report.problems) {
    std::fprintf(stderr, "engine_scan: load problem: %s:%llu: %s\n", p.file.c_str(),
                 static_cast<unsigned long long>(p.line), p.reason.c_str());
  }
}

void PrintCounts(const LoadReport& r) {
  std::fprintf(stderr,
               "engine_scan: loaded hash=%llu section_hash=%llu body=%llu logical=%llu yara=%llu "
               "allow=%llu ignore=%llu flevel_skipped=%llu problems=%zu\n",
               static_cast<unsigned long long>(r.hash),
               static_cast<unsigned long long>(r.section_hash),
               static_cast<unsigned long long>(r.body), static_cast<unsigned long long>(r.logical),
               static_cast<unsigned long long>(r.yara), static_cast<unsigned long long>(r.allow),
               static_cast<unsigned long long>(r.ignore),
               static_cast<unsigned long long>(r.flevel_skipped), r.problems.size());
}

int Run(int argc, char** argv) {
  std::vector<std::string> dbs, files;
  bool report = false;
  bool normalize = true;
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    if (std::strcmp(a, "-d") == 0 || std::strcmp(a, "--database") == 0) {
      if (++i >= argc) return Usage();
      dbs.emplace_back(argv[i]);
    } else if (std::strncmp(a, "--database=", 11) == 0) {
      dbs.emplace_back(a + 11);
    } else if (std::strcmp(a, "--report") == 0) {
      report = true;
    } else if (std::strcmp(a, "--no-normalize") == 0) {
      normalize = false;
    } else if (std::strcmp(a, "--") == 0) {
      for (++i; i < argc; ++i) files.emplace_back(argv[i]);
    } else if (a[0] == '-' && a[1] != '\0') {
      return Usage();
    } else {
      files.emplace_back(a);
    }
  }
  if (dbs.empty()) return Usage();

  int status = 0;
  DatabaseBuilder builder;
  builder.SetTextNormalization(normalize);
  for (const auto& db : dbs) {
    if (auto s = builder.AddPath(db); !s.ok()) {
      std::fprintf(stderr, "engine_scan: %s: %s\n", db.c_str(), s.message().c_str());
      status = 2;
    }
  }
  auto built = builder.Build();
  // The builder's report holds what was loaded even when Build() fails.
  const LoadReport& load = built ? (*built)->report() : builder.report();
  PrintProblems(load);
  if (report) PrintCounts(load);
  if (!built) {
    std::fprintf(stderr, "engine_scan: build failed: %s\n", built.error().c_str());
    return 2;
  }

  Scanner scanner(*built);
  std::vector<std::string> lines;
  std::vector<uint8_t> data;
  std::vector<Detection> found;
  for (const auto& file : files) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec)) {
      std::fprintf(stderr, "engine_scan: %s: not a regular file\n", file.c_str());
      status = 2;
      continue;
    }
    if (!ReadFile(file, &data)) {
      std::fprintf(stderr, "engine_scan: %s: cannot read\n", file.c_str());
      status = 2;
      continue;
    }
    const std::string base = std::filesystem::path(file).filename().string();
    ScanContext ctx;
    ctx.file_name = base;
    ctx.file_path = file;
    found.clear();
    if (auto s = scanner.Scan(data, ctx, &found); !s.ok()) {
      std::fprintf(stderr, "engine_scan: %s: scan failed: %s\n", file.c_str(), s.message().c_str());
      status = 2;
    }
    for (const auto& d : found) lines.push_back(file + ": " + d.name + " FOUND");
    // The differential families run clamscan with --disable-cache, under which libclamav
    // has no hash of the layer and so reports a HandlerType signature like any other
    // instead of re-scanning (lsig_eval in matcher.c): one layer, as here.
    for (const auto& h : scanner.handler_matches()) lines.push_back(file + ": " + h.name + " FOUND");
  }
  std::sort(lines.begin(), lines.end());
  lines.erase(std::unique(lines.begin(), lines.end()), lines.end());
  for (const auto& l : lines) std::printf("%s\n", l.c_str());
  if (status == 0 && !lines.empty()) status = 1;
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "engine_scan: fatal: %s\n", e.what());
    return 2;
  }
}
