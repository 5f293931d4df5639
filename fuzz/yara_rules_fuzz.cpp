// libFuzzer target: arbitrary bytes as a YARA rule source.
//
// Drives YaraCompiler::AddSource (direct and checked compiles, the rebuild after a failure,
// problem reporting), then Build and one short scan when something compiled, so the rule
// set produced from hostile text is also exercised; Build() also runs the prefilter's
// analysis of the text (yara_prefilter.h). Includes are disabled by the
// compiler, so a source cannot make the target read files.
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -DFMT_HEADER_ONLY -Iinclude -Isrc \
//     fuzz/yara_rules_fuzz.cpp src/engine/yara_rules.cpp src/engine/yara_prefilter.cpp \
//     src/engine/pattern_cache.cpp src/engine/file_io.cpp $(pkg-config --cflags --libs yara) -lhs -lcrypto \
//     -o yara_rules_fuzz && ./yara_rules_fuzz -max_len=4096 -timeout=10
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "engine/yara_rules.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace avkey::engine;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<LoadProblem> problems;
  YaraCompiler compiler;
  // NUL bytes split the input into up to 8 sources in two namespaces, so that failures,
  // the main compiler's rebuild, checked mode and cross-source conflicts are reached.
  for (int i = 0; i < 8 && !input.empty(); ++i) {
    size_t end = i == 7 ? input.npos : input.find('\0');
    std::string_view text = input.substr(0, end);
    input.remove_prefix(end == input.npos ? input.size() : end + 1);
    compiler.AddSource(i % 2 == 0 ? "even.yar" : "odd.yar", i % 2 == 0 ? "even" : "odd", text, &problems);
  }
  auto rules = compiler.Build();
  if (!rules.has_value() || *rules == nullptr) return 0;

  // A scan bounded in time: conditions like `for all i in (0..1000000000)` are legal.
  static constexpr uint8_t kSample[] = "MZ\x90\0\x03\0\0\0 hello fuzz world 0123456789 \xff\xfe\x00\x01";
  YaraScanner scanner(*rules);
  scanner.set_timeout(std::chrono::seconds(1));
  std::vector<std::string> matched;
  ScanContext context{"sample.exe", "/fuzz/sample.exe", "root"};
  (void)scanner.Scan(kSample, context, "PE", &matched);
  return 0;
}
