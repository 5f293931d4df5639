// The console's audit report (`avkey-console report`): one row per device with its last
// scan, and that device's detections and actions, rendered as printable HTML or CSV.
// Pure functions of their input: the fleet database fills AuditReport, these render it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace avkey::console {

struct ReportDetection {
  std::string time;        // RFC 3339
  std::string path;        // escaped (valid UTF-8) as in the journal
  std::string signature;
  std::string action;      // report | quarantine | remove
  std::string result;      // none | done | failed
  std::string quarantine_id;
};

struct ReportDevice {
  std::string device_id;   // "D-…"
  std::string hostname;
  std::string site;        // may be empty
  std::string asset_tag;   // may be empty
  std::string last_scan_time;      // RFC 3339 of the last scan_finished
  std::string last_verdict;        // BLUE | RED | AMBER | GREEN
  std::string last_reason;         // plain words, as journaled
  std::string key_id;              // the key that did the last scan
  int signature_generation = 0;
  std::string signatures_created;  // RFC 3339
  int64_t signature_age_days = -1; // at the last scan; -1 unknown
  uint64_t scans = 0;              // in the report's period
  std::vector<ReportDetection> detections;  // in the report's period, oldest first
};

struct AuditReport {
  std::string title = "avkey fleet audit report";
  std::string generated;   // RFC 3339
  std::string since;       // RFC 3339 or empty (all time)
  std::string site;        // filter, or empty (all sites)
  std::string console;     // the console's name
  std::vector<ReportDevice> devices;  // sorted by site, hostname, device id
};

// A self-contained, printable HTML page (inline CSS, no script, no external resource).
// Every text is HTML-escaped. Each device is a <tr class="device" data-device="D-…"> whose
// verdict cell has class "verdict-blue|red|amber|green" and shows the colour's name.
std::string RenderHtml(const AuditReport& report);

// RFC 4180 CSV: a header line, then one line per detection, and one line per device
// without detections (detection columns empty). Columns: site, device_id, hostname,
// asset_tag, last_scan_time, last_verdict, last_reason, signature_generation,
// signature_age_days, scans, detection_time, path, signature, action, result, quarantine_id.
// Fields beginning with = + - @ are prefixed with ' (spreadsheet formula injection).
std::string RenderCsv(const AuditReport& report);

}  // namespace avkey::console
