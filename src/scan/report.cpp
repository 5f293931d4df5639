// ReportToJson(): docs/report.schema.json is the contract; keep the two in step.
#include "avkey/scan/report.h"

#include <ctime>

#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace avkey::scan {

std::string Rfc3339Utc(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

namespace {
nlohmann::json Members(const std::vector<std::string>& members) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& m : members) out.push_back(EscapeName(m, false));
  return out;
}
}  // namespace

nlohmann::json CountsToJson(const ScanReport& report) {
  return {{"files", report.counts.files},
          {"bytes", report.counts.bytes},
          {"members", report.counts.members},
          {"skipped", report.counts.skipped},
          {"incomplete", report.incomplete.size()},
          {"detections", report.detections.size()},
          {"changed", report.counts.changed}};
}

std::string ReportToJson(const ScanReport& report, const ReportMeta& meta) {
  using nlohmann::json;
  Verdict v = report.verdict();
  json j;
  j["verdict"] = VerdictName(v);
  j["exit_status"] = static_cast<int>(v);
  j["reason"] = VerdictReason(report);
  j["counts"] = CountsToJson(report);
  json dets = json::array();
  for (const auto& d : report.detections) {
    dets.push_back({{"path", EscapeName(d.path, false)},
                    {"members", Members(d.members)},
                    {"signature", EscapeName(d.signature, false)},
                    {"engine", engine::EngineName(d.engine)},
                    {"sha256", d.sha256},
                    {"action", d.action},
                    {"action_result", d.action_result}});
  }
  j["detections"] = std::move(dets);
  json incs = json::array();
  for (const auto& i : report.incomplete) {
    incs.push_back({{"path", EscapeName(i.path, false)},
                    {"members", Members(i.members)},
                    {"code", i.code},
                    {"reason", EscapeName(i.reason, false)}});
  }
  j["incomplete"] = std::move(incs);
  json changed = json::array();
  for (const auto& c : report.changed) changed.push_back(EscapeName(c, false));
  j["changed"] = std::move(changed);
  j["interrupted"] = report.interrupted;
  j["started"] = Rfc3339Utc(report.started);
  j["finished"] = Rfc3339Utc(report.finished);
  j["program"] = {{"name", meta.program_name}, {"version", meta.program_version}};
  j["database"] = {{"identity", meta.database_identity}, {"signatures", meta.database_signatures}};
  return j.dump(2) + "\n";
}

}  // namespace avkey::scan
