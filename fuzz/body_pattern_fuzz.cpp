// Fuzzes the ClamAV hex-pattern parser and compiler, then verifies the pattern
// against the input bytes themselves (parser + matcher on untrusted input).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/body_pattern.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace avkey::engine;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  size_t split = text.find('\n');
  std::string_view pattern = text.substr(0, split);
  std::string_view hay = split == std::string_view::npos ? std::string_view() : text.substr(split + 1);
  auto seq = ParseHexPattern(pattern);
  if (!seq) return 0;
  PatternOptions opts{size % 2 == 1, size % 3 == 1, size % 5 == 1};
  if (opts.wide) *seq = WidenPattern(*seq);
  auto p = BodyPattern::Compile(std::move(*seq), opts);
  if (!p) return 0;
  std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(hay.data()), hay.size());
  BodyPattern::Scratch scratch;
  for (size_t at = hay.find(p->anchor()); at != std::string_view::npos; at = hay.find(p->anchor(), at + 1))
    p->VerifyAt(bytes, at + p->anchor().size(), 0, hay.size(), &scratch);
  p->MatchWindow(bytes, 0, 16, 4, &scratch);
  return 0;
}
