// RenderHtml() and RenderCsv(): escaping of hostile text, verdict classes, nested
// detection rows, CSV quoting and formula neutralisation, determinism.
#include "avkey/console/report.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

namespace avkey::console {
namespace {

ReportDevice Device(std::string id, std::string verdict) {
  ReportDevice d;
  d.device_id = std::move(id);
  d.hostname = "host-" + d.device_id;
  d.site = "Lyon";
  d.asset_tag = "AT-1";
  d.last_scan_time = "2024-05-02T10:00:00Z";
  d.last_verdict = std::move(verdict);
  d.last_reason = "no threat found";
  d.key_id = "K-1";
  d.signature_generation = 7;
  d.signatures_created = "2024-04-30T00:00:00Z";
  d.signature_age_days = 2;
  d.scans = 3;
  return d;
}

ReportDetection Detection(std::string path) {
  return {"2024-05-02T10:01:00Z", std::move(path), "Win.Test.EICAR_HDB-1",
          "quarantine",           "done",          "Q-0001"};
}

AuditReport Report() {
  AuditReport r;
  r.generated = "2024-05-03T08:00:00Z";
  r.console = "hq-console";
  return r;
}

// The <tr class="device"> row for `id`, up to its closing tag.
std::string DeviceRow(const std::string& html, const std::string& id) {
  std::string open = "<tr class=\"device\" data-device=\"" + id + "\">";
  size_t b = html.find(open);
  if (b == std::string::npos) return "";
  return html.substr(b, html.find("</tr>", b) + 5 - b);
}

size_t Count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

TEST(ReportHtml, HostileTextIsEscapedNeverRaw) {
  AuditReport r = Report();
  r.title = "<b>t</b>";
  r.console = "a&b";
  r.site = "s'\"";
  ReportDevice d = Device("D-1", "RED");
  d.hostname = "<script>alert(1)</script>";
  d.asset_tag = "\"><img src=x onerror=alert(1)>";
  d.last_reason = "it's <bad> & \"worse\"";
  d.detections.push_back(Detection("/tmp/<script>x</script>.exe"));
  d.detections[0].signature = "</td></tr></table>";
  r.devices.push_back(d);

  std::string html = RenderHtml(r);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_EQ(html.find("<b>t</b>"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"), std::string::npos);
  EXPECT_NE(html.find("it&#39;s &lt;bad&gt; &amp; &quot;worse&quot;"), std::string::npos);
  EXPECT_NE(html.find("<title>&lt;b&gt;t&lt;/b&gt;</title>"), std::string::npos);
  EXPECT_NE(html.find("a&amp;b"), std::string::npos);
  EXPECT_NE(html.find("s&#39;&quot;"), std::string::npos);
  EXPECT_NE(html.find("/tmp/&lt;script&gt;x&lt;/script&gt;.exe"), std::string::npos);
  EXPECT_NE(html.find("&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;"), std::string::npos);
  // The only tables are the two the renderer wrote.
  EXPECT_EQ(Count(html, "</table>"), 2u);
}

TEST(ReportHtml, DeviceIdIsEscapedInTheAttribute) {
  AuditReport r = Report();
  r.devices.push_back(Device("D-\"x\" onclick=\"y", "BLUE"));
  std::string html = RenderHtml(r);
  EXPECT_NE(html.find("data-device=\"D-&quot;x&quot; onclick=&quot;y\""), std::string::npos);
  EXPECT_EQ(html.find("onclick=\"y"), std::string::npos);
}

TEST(ReportHtml, InvalidUtf8AndControlsBecomeReplacementCharacter) {
  AuditReport r = Report();
  ReportDevice d = Device("D-1", "BLUE");
  // A Latin-1 byte, SOH, then a valid "é".
  d.hostname = std::string{'a', '\xff', 'b', '\x01', 'c', '\xC3', '\xA9'};
  r.devices.push_back(d);
  std::string html = RenderHtml(r);
  EXPECT_NE(html.find("a\uFFFDb\uFFFDc\u00E9"), std::string::npos);
}

TEST(ReportHtml, EachVerdictHasItsClassAndName) {
  const std::pair<const char*, const char*> cases[] = {{"BLUE", "verdict-blue"},
                                                       {"RED", "verdict-red"},
                                                       {"AMBER", "verdict-amber"},
                                                       {"GREEN", "verdict-green"}};
  AuditReport r = Report();
  int n = 0;
  for (const auto& [name, cls] : cases)
    r.devices.push_back(Device("D-" + std::to_string(++n), name));
  std::string html = RenderHtml(r);
  n = 0;
  for (const auto& [name, cls] : cases) {
    std::string row = DeviceRow(html, "D-" + std::to_string(++n));
    ASSERT_FALSE(row.empty()) << name;
    EXPECT_NE(row.find(std::string("<td class=\"verdict ") + cls + "\">" + name + "</td>"),
              std::string::npos)
        << row;
  }
  EXPECT_NE(html.find("4 devices:"), std::string::npos);
  EXPECT_NE(html.find(">1 RED</span>"), std::string::npos);
  EXPECT_NE(html.find(">1 AMBER</span>"), std::string::npos);
  EXPECT_NE(html.find(">1 GREEN</span>"), std::string::npos);
  EXPECT_NE(html.find(">1 BLUE</span>"), std::string::npos);
  EXPECT_EQ(html.find("unknown</span>"), std::string::npos);
}

TEST(ReportHtml, UnknownVerdictGetsUnknownClass) {
  AuditReport r = Report();
  r.devices.push_back(Device("D-1", "PURPLE<"));
  r.devices.push_back(Device("D-2", ""));
  r.devices.push_back(Device("D-3", "red"));  // the journal writes upper case only
  std::string html = RenderHtml(r);
  EXPECT_NE(DeviceRow(html, "D-1").find("<td class=\"verdict verdict-unknown\">PURPLE&lt;</td>"),
            std::string::npos);
  EXPECT_NE(DeviceRow(html, "D-2").find("<td class=\"verdict verdict-unknown\">UNKNOWN</td>"),
            std::string::npos);
  EXPECT_NE(DeviceRow(html, "D-3").find("verdict-unknown"), std::string::npos);
  EXPECT_NE(html.find(">3 unknown</span>"), std::string::npos);
}

TEST(ReportHtml, DeviceWithoutDetectionsHasNoNestedRow) {
  AuditReport r = Report();
  r.devices.push_back(Device("D-1", "BLUE"));
  ReportDevice red = Device("D-2", "RED");
  red.detections = {Detection("/a.exe"), Detection("/b.exe")};
  red.detections[1].action = "report";
  red.detections[1].result = "none";
  red.detections[1].quarantine_id = "";
  red.detections.push_back(Detection("/c.exe"));
  red.detections[2].result = "failed";
  r.devices.push_back(red);
  std::string html = RenderHtml(r);

  EXPECT_EQ(html.find("<tr class=\"detections\" data-device=\"D-1\">"), std::string::npos);
  size_t nested = html.find("<tr class=\"detections\" data-device=\"D-2\">");
  ASSERT_NE(nested, std::string::npos);
  // The nested row directly follows its device row.
  EXPECT_EQ(html.find("<tr class=\"device\" data-device=\"D-2\">"),
            html.rfind("<tr class=\"device\"", nested));
  EXPECT_EQ(Count(html, "<tr class=\"detection\">"), 2u);
  EXPECT_EQ(Count(html, "<tr class=\"detection failed\">"), 1u);
  EXPECT_NE(html.find("<td class=\"path\">/a.exe</td><td>Win.Test.EICAR_HDB-1</td>"
                      "<td>quarantine</td><td>done</td><td class=\"qid\">Q-0001</td>"),
            std::string::npos);
  EXPECT_NE(html.find("<td class=\"path\">/b.exe</td><td>Win.Test.EICAR_HDB-1</td>"
                      "<td>report</td><td>none</td><td class=\"qid\"></td>"),
            std::string::npos);
}

TEST(ReportHtml, HeaderShowsPeriodSiteAndSignatureAge) {
  AuditReport r = Report();
  ReportDevice fresh = Device("D-1", "BLUE");
  fresh.signature_age_days = 30;  // at the threshold: not stale
  ReportDevice stale = Device("D-2", "AMBER");
  stale.signature_age_days = 31;
  ReportDevice unknown = Device("D-3", "AMBER");
  unknown.signature_age_days = -1;
  r.devices = {fresh, stale, unknown};

  std::string html = RenderHtml(r);
  EXPECT_NE(html.find("<dd class=\"period\">all time</dd>"), std::string::npos);
  EXPECT_NE(html.find("<dd class=\"site\">all sites</dd>"), std::string::npos);
  EXPECT_NE(html.find("<dd class=\"console\">hq-console</dd>"), std::string::npos);
  EXPECT_NE(html.find("<dd class=\"generated\">2024-05-03T08:00:00Z</dd>"), std::string::npos);
  EXPECT_NE(
      DeviceRow(html, "D-1")
          .find("<span class=\"age\" title=\"created 2024-04-30T00:00:00Z\">30 days old</span>"),
      std::string::npos);
  EXPECT_NE(DeviceRow(html, "D-2").find("class=\"age stale\""), std::string::npos);
  EXPECT_NE(DeviceRow(html, "D-2").find("31 days old (stale)"), std::string::npos);
  EXPECT_NE(DeviceRow(html, "D-3").find("age unknown"), std::string::npos);

  r.since = "2024-04-01T00:00:00Z";
  r.site = "Lyon";
  html = RenderHtml(r);
  EXPECT_NE(html.find("<dd class=\"period\">since 2024-04-01T00:00:00Z</dd>"), std::string::npos);
  EXPECT_NE(html.find("<dd class=\"site\">Lyon</dd>"), std::string::npos);
}

TEST(ReportHtml, SelfContainedAndPrintable) {
  AuditReport r = Report();
  r.devices.push_back(Device("D-1", "GREEN"));
  std::string html = RenderHtml(r);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("<meta charset=\"utf-8\">"), std::string::npos);
  EXPECT_NE(html.find("@media print"), std::string::npos);
  EXPECT_NE(html.find("#1f5fbf"), std::string::npos);
  EXPECT_NE(html.find("#c62828"), std::string::npos);
  EXPECT_NE(html.find("#f9a825"), std::string::npos);
  EXPECT_NE(html.find("#2e7d32"), std::string::npos);
  for (const char* banned :
       {"<script", "<link", "<img", "src=", "http:", "https:", "url(", "@import"}) {
    EXPECT_EQ(html.find(banned), std::string::npos) << banned;
  }
}

TEST(ReportHtml, EmptyReportSaysSo) {
  std::string html = RenderHtml(Report());
  EXPECT_NE(html.find("0 devices:"), std::string::npos);
  EXPECT_NE(html.find("No device scanned in this period."), std::string::npos);
  EXPECT_EQ(html.find("<tr class=\"device\""), std::string::npos);
}

constexpr const char* kCsvHeader =
    "site,device_id,hostname,asset_tag,last_scan_time,last_verdict,last_reason,"
    "signature_generation,signature_age_days,scans,detection_time,path,signature,action,"
    "result,quarantine_id\n";

TEST(ReportCsv, HeaderLineIsExact) { EXPECT_EQ(RenderCsv(Report()), kCsvHeader); }

TEST(ReportCsv, OneLinePerDetectionAndPerCleanDevice) {
  AuditReport r = Report();
  r.devices.push_back(Device("D-1", "BLUE"));
  ReportDevice red = Device("D-2", "RED");
  red.last_reason = "1 threat remains";
  red.detections = {Detection("/a.exe"), Detection("/b.exe")};
  r.devices.push_back(red);
  r.devices[0].signature_age_days = -1;

  EXPECT_EQ(RenderCsv(r),
            std::string(kCsvHeader) +
                "Lyon,D-1,host-D-1,AT-1,2024-05-02T10:00:00Z,BLUE,no threat found,7,,3,,,,,,\n"
                "Lyon,D-2,host-D-2,AT-1,2024-05-02T10:00:00Z,RED,1 threat remains,7,2,3,"
                "2024-05-02T10:01:00Z,/a.exe,Win.Test.EICAR_HDB-1,quarantine,done,Q-0001\n"
                "Lyon,D-2,host-D-2,AT-1,2024-05-02T10:00:00Z,RED,1 threat remains,7,2,3,"
                "2024-05-02T10:01:00Z,/b.exe,Win.Test.EICAR_HDB-1,quarantine,done,Q-0001\n");
}

TEST(ReportCsv, QuotesCommaQuoteCrAndLf) {
  AuditReport r = Report();
  ReportDevice d = Device("D-1", "BLUE");
  d.site = "Lyon, bat. 2";
  d.hostname = "say \"hi\"";
  d.asset_tag = "a\nb";
  d.last_reason = "c\rd";
  r.devices.push_back(d);
  std::string csv = RenderCsv(r);
  EXPECT_EQ(csv.substr(std::string(kCsvHeader).size()),
            "\"Lyon, bat. 2\",D-1,\"say \"\"hi\"\"\",\"a\nb\",2024-05-02T10:00:00Z,BLUE,"
            "\"c\rd\",7,2,3,,,,,,\n");
}

TEST(ReportCsv, FormulaPrefixNeutralised) {
  AuditReport r = Report();
  ReportDevice d = Device("D-1", "RED");
  d.site = "=HYPERLINK(\"http://x\",\"y\")";
  d.hostname = "+cmd";
  d.asset_tag = "-2+3";
  d.last_reason = "@SUM(A1)";
  d.detections.push_back(Detection("=1,2"));
  d.detections[0].signature = "a=b";  // '=' not first: left alone
  r.devices.push_back(d);
  std::string line = RenderCsv(r).substr(std::string(kCsvHeader).size());
  EXPECT_EQ(line,
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",D-1,'+cmd,'-2+3,2024-05-02T10:00:00Z,RED,"
            "'@SUM(A1),7,2,3,2024-05-02T10:01:00Z,\"'=1,2\",a=b,quarantine,done,Q-0001\n");
}

TEST(Report, OutputIsDeterministic) {
  AuditReport r = Report();
  r.since = "2024-04-01T00:00:00Z";
  for (int i = 0; i < 20; ++i) {
    ReportDevice d = Device("D-" + std::to_string(i), i % 3 == 0 ? "RED" : "BLUE");
    if (i % 3 == 0) d.detections.push_back(Detection("/x" + std::to_string(i)));
    r.devices.push_back(d);
  }
  AuditReport copy = r;
  EXPECT_EQ(RenderHtml(r), RenderHtml(copy));
  EXPECT_EQ(RenderHtml(r), RenderHtml(r));
  EXPECT_EQ(RenderCsv(r), RenderCsv(copy));
}

}  // namespace
}  // namespace avkey::console
