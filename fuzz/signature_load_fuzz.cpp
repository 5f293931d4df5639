// Fuzzes every signature-database loader through the public builder: the first
// byte picks the format, the rest is the file's content. Then scans the content.
#include <cstddef>
#include <cstdint>
#include <string>

#include "avkey/engine/engine.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const char* kExts[] = {"hdb", "hsb", "mdb", "ndb", "ldb", "fp", "sfp", "ign2", "cvd", "cld"};
  if (size < 1) return 0;
  std::string name = std::string("fuzz.") + kExts[data[0] % (sizeof kExts / sizeof *kExts)];
  std::string_view content(reinterpret_cast<const char*>(data + 1), size - 1);
  avkey::engine::DatabaseBuilder b;
  (void)b.AddSource(name, content, false);
  auto db = b.Build();
  if (!db) return 0;
  avkey::engine::Scanner s(*db);
  std::vector<avkey::engine::Detection> out;
  (void)s.Scan(std::span(data, size), {}, &out);
  return 0;
}
