// What `avkey scan` prints: result lines, the live progress line, the verdict banner.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

#include "avkey/scan/scan.h"

namespace avkey::app {

struct OutputOptions {
  bool quiet = false;        // result lines only: no progress, no banner, no verdict line
  bool stdout_tty = false;   // banner instead of the one-line verdict; result lines live
  bool stderr_tty = false;   // live progress line on stderr
  bool color = false;        // ANSI colours (stdout is a TTY and NO_COLOR is unset)
};

// Prints results as they arrive (TTY) and the progress line; not thread-safe (RunScan
// calls it on one thread).
class ConsoleSink : public scan::ProgressSink {
 public:
  explicit ConsoleSink(const OutputOptions& opt) : opt_(opt) {}
  void OnProgress(const scan::Progress& p) override;
  void OnDetection(const scan::DetectionRecord& d) override;
  void OnIncomplete(const scan::IncompleteItem& i) override;
  void ClearProgress();

 private:
  OutputOptions opt_;
  bool progress_shown_ = false;
};

// "PATH//member: SIGNAME FOUND" (clamscan style; names escaped for a terminal).
std::string DetectionLine(const scan::DetectionRecord& d);
// "PATH//member: reason INCOMPLETE".
std::string IncompleteLine(const scan::IncompleteItem& i);

// After the scan: result lines (when they were not shown live), then the verdict as a
// banner (TTY) or as one "Verdict: RED (1 threat found, 0 removed, 0 incomplete)" line.
void PrintSummary(const scan::ScanReport& report, const OutputOptions& opt,
                  std::chrono::steady_clock::duration elapsed);

// "12.3 MiB".
std::string HumanBytes(double bytes);

}  // namespace avkey::app
