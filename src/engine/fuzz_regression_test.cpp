// Replays every input saved under fuzz/regressions/<target>/ (crashes found by the
// libFuzzer targets, minimised) through the same entry points, in the normal test run.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "avkey/engine/engine.h"
#include "engine/body_pattern.h"
#include "engine/cvd.h"
#include "engine/ldb.h"

namespace avkey::engine {
namespace {

std::vector<std::string> Inputs(const char* target) {
  std::vector<std::string> out;
  std::filesystem::path dir = std::filesystem::path(AVKEY_SOURCE_DIR) / "fuzz" / "regressions" / target;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    std::ifstream in(e.path(), std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    out.push_back(std::move(ss).str());
  }
  return out;
}

TEST(FuzzRegression, Cvd) {
  for (const auto& in : Inputs("cvd_fuzz")) (void)ReadCvd(in);
}

TEST(FuzzRegression, SignatureLoad) {
  static const char* kExts[] = {"hdb", "hsb", "mdb", "ndb", "ldb", "fp", "sfp", "ign2", "cvd", "cld"};
  for (const auto& in : Inputs("signature_load_fuzz")) {
    if (in.empty()) continue;
    DatabaseBuilder b;
    (void)b.AddSource(std::string("r.") + kExts[static_cast<uint8_t>(in[0]) % 10], std::string_view(in).substr(1), false);
    auto db = b.Build();
    if (!db) continue;
    Scanner s(*db);
    std::vector<Detection> out;
    (void)s.Scan({reinterpret_cast<const uint8_t*>(in.data()), in.size()}, {}, &out);
  }
}

TEST(FuzzRegression, LdbAndPatterns) {
  for (const auto& in : Inputs("ldb_fuzz")) (void)ParseLdbLine(in);
  for (const auto& in : Inputs("body_pattern_fuzz")) (void)ParseHexPattern(in.substr(0, in.find('\n')));
}

}  // namespace
}  // namespace avkey::engine
