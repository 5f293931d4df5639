#include "output.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "fmt/format.h"

namespace avkey::app {
namespace {

size_t TerminalWidth() {
  winsize ws{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20) return ws.ws_col;
  return 80;
}

// Keeps the last `width` code points of `s`, with "..." in front when cut.
std::string TailFit(const std::string& s, size_t width) {
  size_t points = 0;
  for (unsigned char c : s) points += (c & 0xC0) != 0x80;
  if (points <= width) return s;
  size_t keep = width > 3 ? width - 3 : 0;
  size_t count = 0;
  size_t i = s.size();
  while (i > 0 && count < keep) {
    --i;
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) ++count;
  }
  return "..." + s.substr(i);
}

std::string Plural(uint64_t n, const char* one, const char* many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

}  // namespace

std::string HumanBytes(double bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{:.0f} {}", bytes, kUnits[u]) : fmt::format("{:.1f} {}", bytes, kUnits[u]);
}

std::string DetectionLine(const scan::DetectionRecord& d) {
  return fmt::format("{}: {} FOUND", scan::DisplayPath(d.path, d.members, true),
                     scan::EscapeName(d.signature, true));
}

std::string IncompleteLine(const scan::IncompleteItem& i) {
  std::string where = i.path.empty() && i.members.empty() ? std::string("(scan)")
                                                          : scan::DisplayPath(i.path, i.members, true);
  return fmt::format("{}: {} INCOMPLETE", where, scan::EscapeName(i.reason, true));
}

void ConsoleSink::ClearProgress() {
  if (progress_shown_) {
    std::fputs("\r\033[K", stderr);
    std::fflush(stderr);
    progress_shown_ = false;
  }
}

void ConsoleSink::OnDetection(const scan::DetectionRecord& d) {
  if (!opt_.stdout_tty) return;  // piped: printed sorted at the end
  ClearProgress();
  std::string line = DetectionLine(d);
  if (opt_.color) line = "\033[1;31m" + line + "\033[0m";
  std::fprintf(stdout, "%s\n", line.c_str());
  std::fflush(stdout);
}

void ConsoleSink::OnIncomplete(const scan::IncompleteItem& i) {
  if (!opt_.stdout_tty) return;
  ClearProgress();
  std::string line = IncompleteLine(i);
  if (opt_.color) line = "\033[33m" + line + "\033[0m";
  std::fprintf(stdout, "%s\n", line.c_str());
  std::fflush(stdout);
}

void ConsoleSink::OnProgress(const scan::Progress& p) {
  if (opt_.quiet || !opt_.stderr_tty) return;
  double secs = std::chrono::duration<double>(p.elapsed).count();
  double rate = secs > 0 ? static_cast<double>(p.bytes) / secs : 0;
  // ETA only once the walk is over: before that the total is unknown (the walker waits
  // on a bounded queue, so it is never far ahead of the workers).
  std::string eta;
  if (p.walk_done && p.files > 0 && p.files_found >= p.files && secs > 1) {
    double left = secs * static_cast<double>(p.files_found - p.files) / static_cast<double>(p.files);
    eta = fmt::format(", ETA {}:{:02}", static_cast<int>(left) / 60, static_cast<int>(left) % 60);
  }
  std::string head = fmt::format("{}/{}{} files, {}, {}/s{}, {} found, {} incomplete | ", p.files,
                                 p.files_found, p.walk_done ? "" : "+", HumanBytes(static_cast<double>(p.bytes)),
                                 HumanBytes(rate), eta, p.detections, p.incomplete);
  size_t width = TerminalWidth() - 1;
  std::string path = scan::EscapeName(p.current_path, true);
  size_t room = width > head.size() + 8 ? width - head.size() : 8;
  std::fprintf(stderr, "\r\033[K%s%s", head.c_str(), TailFit(path, room).c_str());
  std::fflush(stderr);
  progress_shown_ = true;
}

void PrintSummary(const scan::ScanReport& report, const OutputOptions& opt,
                  std::chrono::steady_clock::duration elapsed) {
  if (!opt.stdout_tty) {
    for (const auto& d : report.detections) std::printf("%s\n", DetectionLine(d).c_str());
    for (const auto& i : report.incomplete) std::printf("%s\n", IncompleteLine(i).c_str());
  }
  if (opt.quiet) return;
  const scan::Verdict v = report.verdict();
  const uint64_t found = report.detections.size();
  const uint64_t removed = static_cast<uint64_t>(std::count_if(
      report.detections.begin(), report.detections.end(),
      [](const scan::DetectionRecord& d) { return d.resolved(); }));
  const uint64_t remaining = found - removed;
  const uint64_t incomplete = report.incomplete.size();
  if (report.counts.changed > 0) {
    // Not a failure (a log written during the scan is normal), but said: what was scanned is
    // the content as read.
    std::printf("Note: %s changed while being read and %s scanned as read%s.\n",
                Plural(report.counts.changed, "file", "files").c_str(), report.counts.changed == 1 ? "was" : "were",
                opt.stdout_tty ? "" : " (the JSON report lists them)");
  }
  if (!opt.stdout_tty) {
    std::printf("Verdict: %s (%s found, %llu removed, %llu incomplete)\n", scan::VerdictName(v),
                Plural(found, "threat", "threats").c_str(), static_cast<unsigned long long>(removed),
                static_cast<unsigned long long>(incomplete));
    std::fflush(stdout);
    return;
  }

  // The banner: one colour, the verdict's name, and what to do, in plain words.
  std::vector<std::string> words;
  const char* colour = "";
  switch (v) {
    case scan::Verdict::kBlue:
      colour = "\033[1;97;44m";
      words = {"BLUE: NO THREAT FOUND", "The scan is complete and found nothing.",
               "The device can be used."};
      break;
    case scan::Verdict::kRed:
      colour = "\033[1;97;41m";
      words = {"RED: THREAT FOUND",
               fmt::format("{} {} on this device: call IT security.",
                           Plural(remaining, "threat", "threats"), remaining == 1 ? "remains" : "remain"),
               "Do not use or connect the device until they say so."};
      break;
    case scan::Verdict::kAmber:
      colour = "\033[1;30;43m";
      words = {"AMBER: SCAN INCOMPLETE",
               fmt::format("No threat found, but {} could not be checked.",
                           Plural(incomplete, "item", "items")),
               "Tell IT security; the device is not confirmed clean."};
      break;
    case scan::Verdict::kGreen:
      colour = "\033[1;30;42m";
      words = {"GREEN: THREATS REMOVED",
               fmt::format("{} found and all removed or quarantined.", Plural(found, "threat", "threats")),
               "Tell IT security what was found."};
      break;
  }
  if (incomplete > 0 && v != scan::Verdict::kAmber) {
    words.push_back(fmt::format("Also, {} could not be checked.", Plural(incomplete, "item", "items")));
  }
  double secs = std::chrono::duration<double>(elapsed).count();
  std::string stats = fmt::format("{}, {} in {:.1f} s", Plural(report.counts.files, "file", "files"),
                                  HumanBytes(static_cast<double>(report.counts.bytes)), secs);
  size_t inner = 0;
  for (const auto& w : words) inner = std::max(inner, w.size());
  inner = std::max<size_t>(inner, 40) + 6;
  const char* reset = "\033[0m";
  auto line = [&](const std::string& text) {
    std::string pad(inner > text.size() + 3 ? inner - text.size() - 3 : 0, ' ');
    if (opt.color) std::printf("%s   %s%s%s\n", colour, text.c_str(), pad.c_str(), reset);
    else std::printf("|  %s%s|\n", text.c_str(), pad.c_str());
  };
  std::string border = opt.color ? std::string(inner, ' ') : "+" + std::string(inner - 1, '-') + "+";
  auto edge = [&] {
    if (opt.color) std::printf("%s%s%s\n", colour, border.c_str(), reset);
    else std::printf("%s\n", border.c_str());
  };
  std::printf("\n");
  edge();
  line("");
  for (size_t k = 0; k < words.size(); ++k) {
    line(words[k]);
    if (k == 0) line("");
  }
  line("");
  edge();
  std::printf("%s. Exit status %d.\n", stats.c_str(), static_cast<int>(v));
  std::fflush(stdout);
}

}  // namespace avkey::app
