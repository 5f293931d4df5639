// RenderHtml() and RenderCsv(): pure functions of AuditReport, so the same input always
// gives byte-identical output (no clock, no locale, no map iteration order).
//
// Everything in AuditReport may come from a USB key that ran on an infected host
// (hostname, asset tag, paths, signature names), so every text is treated as hostile:
// HTML-escaped in the page, and formula-neutralised in the CSV.
#include "avkey/console/report.h"

#include <array>
#include <string_view>

#include "fmt/format.h"

namespace avkey::console {
namespace {

// Signatures older than this at scan time are highlighted; the same default as the
// key policy's [signatures] max_age_days, past which the scanner itself says AMBER.
constexpr int64_t kStaleSignatureDays = 30;

// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is invalid
// (overlong, surrogate, above U+10FFFF or truncated).
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  auto cont = [&](size_t k) { return k < s.size() && (byte(k) & 0xC0) == 0x80; };
  unsigned char c = byte(i);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(i + 1) || !cont(i + 2)) return 0;
    if (c == 0xE0 && byte(i + 1) < 0xA0) return 0;   // overlong
    if (c == 0xED && byte(i + 1) >= 0xA0) return 0;  // UTF-16 surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    if (c == 0xF0 && byte(i + 1) < 0x90) return 0;   // overlong
    if (c == 0xF4 && byte(i + 1) >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

// The entity for the five characters that matter in HTML text and in quoted attribute
// values, or empty.
std::string_view Entity(char c) {
  switch (c) {
    case '&':
      return "&amp;";
    case '<':
      return "&lt;";
    case '>':
      return "&gt;";
    case '"':
      return "&quot;";
    case '\'':
      return "&#39;";
    default:
      return {};
  }
}

// Appends s HTML-escaped. Invalid UTF-8 and C0 controls (other than tab and newlines)
// become U+FFFD so the page stays valid UTF-8: the page declares that charset, and a
// hostname is attacker-chosen.
void AppendEscaped(std::string& out, std::string_view s) {
  constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  for (size_t i = 0; i < s.size();) {
    char c = s[i];
    auto u = static_cast<unsigned char>(c);
    if (std::string_view e = Entity(c); !e.empty()) {
      out += e;
      ++i;
    } else if ((u < 0x20 && c != '\t' && c != '\n' && c != '\r') || u == 0x7F) {
      out += kReplacement;
      ++i;
    } else if (size_t n = Utf8SequenceLength(s, i); n == 0) {
      out += kReplacement;
      ++i;
    } else {
      out.append(s, i, n);
      i += n;
    }
  }
}

std::string Escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  AppendEscaped(out, s);
  return out;
}

struct VerdictStyle {
  std::string_view name;  // as journaled
  std::string_view css;   // class suffix
};

// Severity order: the summary line lists the colours that need action first.
constexpr std::array<VerdictStyle, 4> kVerdicts = {{
    {"RED", "red"},
    {"AMBER", "amber"},
    {"GREEN", "green"},
    {"BLUE", "blue"},
}};

// Index into kVerdicts, or kVerdicts.size() for anything else. Exact match: the journal
// writes scan::VerdictName(), which is always upper case.
size_t VerdictIndex(std::string_view verdict) {
  for (size_t i = 0; i < kVerdicts.size(); ++i) {
    if (kVerdicts[i].name == verdict) return i;
  }
  return kVerdicts.size();
}

// The verdict palette. AMBER takes black text: white on #f9a825 is 2.0:1 contrast,
// black 10.7:1. print-color-adjust keeps backgrounds when printed, and the cell text names
// the colour so a black-and-white printout still reads.
constexpr std::string_view kCss = R"css(
*{box-sizing:border-box}
body{font-family:"DejaVu Sans",Arial,Helvetica,sans-serif;font-size:13px;color:#111;margin:24px}
h1{font-size:20px;margin:0 0 8px}
dl.meta{display:grid;grid-template-columns:max-content auto;gap:2px 12px;margin:0 0 12px}
dl.meta dt{font-weight:bold}
dl.meta dd{margin:0}
p.summary{font-size:14px;margin:0 0 12px}
p.summary span.count{display:inline-block;padding:1px 6px;margin-right:4px;border:1px solid #444}
table.devices{border-collapse:collapse;width:100%}
table.devices>thead>tr>th{text-align:left;background:#eee;border:1px solid #999;padding:4px 6px}
table.devices>tbody>tr>td{border:1px solid #999;padding:4px 6px;vertical-align:top}
.id,.qid{font-family:"DejaVu Sans Mono",monospace;font-size:12px}
.sub{color:#555;font-size:11px}
.num{text-align:right}
.verdict{font-weight:bold;text-align:center}
.verdict-blue{background:#1f5fbf;color:#fff}
.verdict-red{background:#c62828;color:#fff}
.verdict-amber{background:#f9a825;color:#000}
.verdict-green{background:#2e7d32;color:#fff}
.verdict-unknown{background:#fff;color:#000;border:2px dashed #000}
.stale{background:#fde0dc;font-weight:bold}
tr.detection.failed>td{color:#c62828;font-weight:bold}
tr.detections>td{padding:0 6px 6px 24px;background:#fafafa}
table.detections{border-collapse:collapse;width:100%;font-size:12px}
table.detections th,table.detections td{border:1px solid #ccc;padding:2px 4px;text-align:left;vertical-align:top}
table.detections td.path{word-break:break-all}
tr.empty td{text-align:center;font-style:italic}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}
@page{size:A4 landscape;margin:12mm}
@media print{
body{margin:0;font-size:10px}
table.devices>thead{display:table-header-group}
tr.device,tr.detections{break-inside:avoid;page-break-inside:avoid}
}
)css";

void AppendDetections(std::string& out, const ReportDevice& device) {
  out += fmt::format(
      "<tr class=\"detections\" data-device=\"{}\"><td colspan=\"8\">\n"
      "<table class=\"detections\"><thead><tr><th>Time</th><th>Path</th><th>Signature</th>"
      "<th>Action</th><th>Result</th><th>Quarantine id</th></tr></thead><tbody>\n",
      Escape(device.device_id));
  for (const auto& d : device.detections) {
    out += fmt::format(
        "<tr class=\"detection{}\"><td>{}</td><td class=\"path\">{}</td><td>{}</td>"
        "<td>{}</td><td>{}</td><td class=\"qid\">{}</td></tr>\n",
        d.result == "failed" ? " failed" : "", Escape(d.time), Escape(d.path), Escape(d.signature),
        Escape(d.action), Escape(d.result), Escape(d.quarantine_id));
  }
  out += "</tbody></table></td></tr>\n";
}

void AppendDevice(std::string& out, const ReportDevice& d) {
  size_t v = VerdictIndex(d.last_verdict);
  std::string verdict_class =
      v < kVerdicts.size() ? fmt::format("verdict-{}", kVerdicts[v].css) : "verdict-unknown";
  std::string verdict_text = v < kVerdicts.size()
                                 ? std::string(kVerdicts[v].name)
                                 : (d.last_verdict.empty() ? "UNKNOWN" : Escape(d.last_verdict));

  std::string age;
  std::string age_class;
  if (d.signature_age_days < 0) {
    age = "age unknown";
  } else {
    age = fmt::format("{} day{} old", d.signature_age_days, d.signature_age_days == 1 ? "" : "s");
    if (d.signature_age_days > kStaleSignatureDays) {
      // Real text, not CSS ::after, so it survives copy-paste and screen readers.
      age += " (stale)";
      age_class = " stale";
    }
  }

  out += fmt::format("<tr class=\"device\" data-device=\"{}\">", Escape(d.device_id));
  out += fmt::format("<td>{}</td>", Escape(d.site));
  out += fmt::format("<td>{}<br><span class=\"id\">{}</span></td>", Escape(d.hostname),
                     Escape(d.device_id));
  out += fmt::format("<td>{}</td>", Escape(d.asset_tag));
  out += fmt::format("<td>{}", Escape(d.last_scan_time));
  if (!d.key_id.empty())
    out += fmt::format("<br><span class=\"sub\">key {}</span>", Escape(d.key_id));
  out += "</td>";
  out += fmt::format("<td class=\"verdict {}\">{}</td>", verdict_class, verdict_text);
  out += fmt::format("<td>{}</td>", Escape(d.last_reason));
  out += fmt::format(
      "<td class=\"signatures\">generation {}<br><span class=\"age{}\" title=\"created {}\">{}"
      "</span></td>",
      d.signature_generation, age_class, Escape(d.signatures_created), age);
  out += fmt::format("<td class=\"num\">{}</td>", d.scans);
  out += "</tr>\n";
  if (!d.detections.empty()) AppendDetections(out, d);
}

// CSV field: formula prefix first (so the quote lands inside the quoted field), then
// RFC 4180 quoting for fields holding a comma, a double quote, CR or LF.
void AppendCsvField(std::string& out, std::string_view s) {
  std::string field;
  if (!s.empty() && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@')) field += '\'';
  field += s;
  if (field.find_first_of(",\"\r\n") == std::string::npos) {
    out += field;
    return;
  }
  out += '"';
  for (char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

void AppendCsvLine(std::string& out, const std::array<std::string_view, 16>& fields) {
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out += ',';
    AppendCsvField(out, fields[i]);
  }
  out += '\n';
}

}  // namespace

std::string RenderHtml(const AuditReport& report) {
  std::string out;
  out.reserve(8192 + report.devices.size() * 1024);

  std::string title = Escape(report.title);
  out += fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>{}</title>\n<style>{}</style>\n</head>\n<body>\n<header>\n<h1>{}</h1>\n",
      title, kCss, title);

  out += "<dl class=\"meta\">\n";
  out += fmt::format("<dt>Console</dt><dd class=\"console\">{}</dd>\n", Escape(report.console));
  out +=
      fmt::format("<dt>Generated</dt><dd class=\"generated\">{}</dd>\n", Escape(report.generated));
  out += fmt::format("<dt>Period</dt><dd class=\"period\">{}</dd>\n",
                     report.since.empty() ? std::string("all time")
                                          : fmt::format("since {}", Escape(report.since)));
  out += fmt::format("<dt>Site</dt><dd class=\"site\">{}</dd>\n",
                     report.site.empty() ? std::string("all sites") : Escape(report.site));
  out += "</dl>\n</header>\n";

  std::array<size_t, kVerdicts.size() + 1> counts{};
  for (const auto& d : report.devices) ++counts[VerdictIndex(d.last_verdict)];
  out += fmt::format("<p class=\"summary\">{} device{}:", report.devices.size(),
                     report.devices.size() == 1 ? "" : "s");
  for (size_t i = 0; i < kVerdicts.size(); ++i) {
    out += fmt::format(" <span class=\"count verdict-{}\" data-verdict=\"{}\">{} {}</span>",
                       kVerdicts[i].css, kVerdicts[i].css, counts[i], kVerdicts[i].name);
  }
  if (counts[kVerdicts.size()] > 0) {
    out += fmt::format(
        " <span class=\"count verdict-unknown\" data-verdict=\"unknown\">{} unknown</span>",
        counts[kVerdicts.size()]);
  }
  out += "</p>\n";

  out +=
      "<table class=\"devices\">\n<thead><tr><th>Site</th><th>Device</th><th>Asset tag</th>"
      "<th>Last scan</th><th>Verdict</th><th>Reason</th><th>Signatures</th>"
      "<th>Scans</th></tr></thead>\n<tbody>\n";
  if (report.devices.empty()) {
    out += "<tr class=\"empty\"><td colspan=\"8\">No device scanned in this period.</td></tr>\n";
  }
  for (const auto& d : report.devices) AppendDevice(out, d);
  out += "</tbody>\n</table>\n</body>\n</html>\n";
  return out;
}

// Lines end in LF, not RFC 4180's CRLF: every consumer we target (spreadsheets, Python's
// csv, pandas, awk) reads LF, and LF files diff cleanly. CR or LF inside a field is quoted.
// An unknown signature age (-1) is an empty field, so it is not mistaken for a formula.
std::string RenderCsv(const AuditReport& report) {
  std::string out =
      "site,device_id,hostname,asset_tag,last_scan_time,last_verdict,last_reason,"
      "signature_generation,signature_age_days,scans,detection_time,path,signature,action,"
      "result,quarantine_id\n";
  for (const auto& d : report.devices) {
    std::string generation = fmt::format("{}", d.signature_generation);
    std::string age = d.signature_age_days < 0 ? "" : fmt::format("{}", d.signature_age_days);
    std::string scans = fmt::format("{}", d.scans);
    if (d.detections.empty()) {
      AppendCsvLine(out,
                    {d.site, d.device_id, d.hostname, d.asset_tag, d.last_scan_time, d.last_verdict,
                     d.last_reason, generation, age, scans, "", "", "", "", "", ""});
      continue;
    }
    for (const auto& x : d.detections) {
      AppendCsvLine(out, {d.site, d.device_id, d.hostname, d.asset_tag, d.last_scan_time,
                          d.last_verdict, d.last_reason, generation, age, scans, x.time, x.path,
                          x.signature, x.action, x.result, x.quarantine_id});
    }
  }
  return out;
}

}  // namespace avkey::console
