// Small pure helpers of the scan layer: verdict, exclude globs, sizes, name escaping.
#include <fnmatch.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <map>
#include <string>

#include "avkey/scan/scan.h"
#include "fmt/format.h"

namespace avkey::scan {

const char* VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kBlue: return "BLUE";
    case Verdict::kRed: return "RED";
    case Verdict::kAmber: return "AMBER";
    case Verdict::kGreen: return "GREEN";
  }
  return "AMBER";
}

Verdict ScanReport::verdict() const {
  if (!detections.empty()) {
    bool all_resolved = std::all_of(detections.begin(), detections.end(),
                                    [](const DetectionRecord& d) { return d.resolved(); });
    return all_resolved ? Verdict::kGreen : Verdict::kRed;
  }
  if (!incomplete.empty() || interrupted) return Verdict::kAmber;
  return Verdict::kBlue;
}

std::string VerdictReason(const ScanReport& report) {
  auto plural = [](uint64_t n, const char* one, const char* many) {
    return fmt::format("{} {}", n, n == 1 ? one : many);
  };
  const uint64_t found = report.detections.size();
  const uint64_t removed = static_cast<uint64_t>(
      std::count_if(report.detections.begin(), report.detections.end(),
                    [](const DetectionRecord& d) { return d.resolved(); }));
  // A threat found outranks an incomplete scan in the colour, never in the words.
  const std::string also =
      report.incomplete.empty() ? "" : fmt::format("; also {} not checked", plural(report.incomplete.size(), "item", "items"));
  switch (report.verdict()) {
    case Verdict::kBlue: return "scan complete, nothing found";
    case Verdict::kGreen:
      return fmt::format("{} found, all quarantined or removed{}", plural(found, "threat", "threats"), also);
    case Verdict::kRed:
      return fmt::format("{} {} on this device: call IT security{}", plural(found - removed, "threat", "threats"),
                         found - removed == 1 ? "remains" : "remain", also);
    case Verdict::kAmber: break;
  }
  // Incomplete: name each cause once, with its count, in a stable order.
  std::map<std::string, uint64_t> codes;
  for (const auto& i : report.incomplete) codes[i.code]++;
  std::string out = "scan incomplete:";
  bool first = true;
  for (const auto& [code, n] : codes) {
    std::string words = code;
    std::replace(words.begin(), words.end(), '-', ' ');
    out += fmt::format("{} {}", first ? "" : ";", n == 1 ? words : fmt::format("{} {}", n, words));
    first = false;
  }
  if (first) out += " interrupted";
  return out;
}

std::string EscapeControls(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    unsigned char b = static_cast<unsigned char>(c);
    if (b < 0x20 || b == 0x7f) {
      out += fmt::format("\\x{:02X}", b);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

bool MatchesExclude(std::string_view path, const std::string& glob) {
  std::string subject;
  if (glob.find('/') == std::string::npos) {
    std::string_view p = path;
    while (p.size() > 1 && p.back() == '/') p.remove_suffix(1);
    size_t slash = p.rfind('/');
    subject = std::string(slash == std::string_view::npos ? p : p.substr(slash + 1));
  } else {
    subject = std::string(path);
  }
  return fnmatch(glob.c_str(), subject.c_str(), 0) == 0;
}

Result<uint64_t> ParseSize(std::string_view text) {
  std::string s(text);
  if (s.empty()) return Fail("empty size");
  char* end = nullptr;
  errno = 0;
  double value = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || errno != 0 || !(value >= 0) || std::isinf(value)) {
    return Fail(fmt::format("bad size '{}': expected a number such as 100M", s));
  }
  std::string suffix(end);
  for (char& c : suffix) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (suffix.size() > 1 && (suffix.ends_with("IB"))) suffix.resize(suffix.size() - 2);
  else if (suffix.size() > 1 && suffix.ends_with('B')) suffix.resize(suffix.size() - 1);
  double mult = 1;
  if (suffix.empty() || suffix == "B") mult = 1;
  else if (suffix == "K") mult = 1024.0;
  else if (suffix == "M") mult = 1024.0 * 1024;
  else if (suffix == "G") mult = 1024.0 * 1024 * 1024;
  else if (suffix == "T") mult = 1024.0 * 1024 * 1024 * 1024;
  else return Fail(fmt::format("bad size suffix in '{}': use K, M, G or T", s));
  double bytes = value * mult;
  if (bytes > 1.8e19) return Fail(fmt::format("size '{}' is too large", s));
  return static_cast<uint64_t>(bytes);
}

namespace {
// Length of the valid UTF-8 sequence starting at s[i], or 0 if invalid (RFC 3629:
// no overlongs, no surrogates, nothing above U+10FFFF).
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  if (c < 0x80) return 1;
  size_t n;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) n = 2;
  else if (c == 0xE0) { n = 3; lo = 0xA0; }
  else if (c >= 0xE1 && c <= 0xEC) n = 3;
  else if (c == 0xED) { n = 3; hi = 0x9F; }
  else if (c >= 0xEE && c <= 0xEF) n = 3;
  else if (c == 0xF0) { n = 4; lo = 0x90; }
  else if (c >= 0xF1 && c <= 0xF3) n = 4;
  else if (c == 0xF4) { n = 4; hi = 0x8F; }
  else return 0;
  if (i + n > s.size()) return 0;
  if (b(i + 1) < lo || b(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    if (b(i + k) < 0x80 || b(i + k) > 0xBF) return 0;
  }
  return n;
}
}  // namespace

std::string EscapeName(std::string_view raw, bool escape_controls) {
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size();) {
    unsigned char c = static_cast<unsigned char>(raw[i]);
    if (c == '\\') {
      out += "\\\\";
      ++i;
      continue;
    }
    if (escape_controls && (c < 0x20 || c == 0x7F)) {
      out += fmt::format("\\x{:02X}", c);
      ++i;
      continue;
    }
    size_t n = Utf8SequenceLength(raw, i);
    if (n == 0) {
      out += fmt::format("\\x{:02X}", c);
      ++i;
      continue;
    }
    // C1 controls (U+0080..U+009F) can also drive some terminals.
    if (escape_controls && n == 2 && c == 0xC2 && static_cast<unsigned char>(raw[i + 1]) < 0xA0) {
      out += fmt::format("\\u{:04X}", static_cast<unsigned char>(raw[i + 1]));
      i += 2;
      continue;
    }
    out.append(raw.substr(i, n));
    i += n;
  }
  return out;
}

std::string DisplayPath(const std::string& path, const std::vector<std::string>& members,
                        bool escape_controls) {
  std::string out = EscapeName(path, escape_controls);
  for (const auto& m : members) {
    out += "//";
    out += EscapeName(m, escape_controls);
  }
  return out;
}

}  // namespace avkey::scan
