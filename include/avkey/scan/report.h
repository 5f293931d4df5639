// The JSON scan report (`avkey scan --json FILE`), specified in docs/report.schema.json.
#pragma once

#include <cstdint>
#include <string>

#include "avkey/scan/scan.h"
#include "nlohmann/json.hpp"

namespace avkey::scan {

// What the report says about the program and the signatures, beside the scan itself.
struct ReportMeta {
  std::string program_name = "avkey";
  std::string program_version;
  std::string database_identity;  // engine::Database::identity()
  uint64_t database_signatures = 0;  // LoadReport::total()
};

// The report as pretty-printed JSON text (ends with a newline). Raw file names are
// made valid UTF-8 with EscapeName(raw, /*escape_controls=*/false).
std::string ReportToJson(const ScanReport& report, const ReportMeta& meta);

// The report's "counts" object (also journaled in scan_finished).
nlohmann::json CountsToJson(const ScanReport& report);

// RFC 3339 UTC with seconds: "2026-11-29T01:38:13Z".
std::string Rfc3339Utc(std::chrono::system_clock::time_point t);

}  // namespace avkey::scan
