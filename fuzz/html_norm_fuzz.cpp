// libFuzzer target for the HTML normaliser (src/engine/html_norm.h).
//
//   fuzz/run.sh 60 html_norm_fuzz        (seeds: fuzz/seeds/html_norm_fuzz, make_seeds.py)
//
// Beyond memory safety and UBSan it checks the normaliser's contract: a reused normaliser
// (one per scanner, file after file) gives the same bytes as a fresh one, so no state leaks
// from one file into the next; and output stays within the bounds the scanner relies on.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "engine/html_norm.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static avkey::engine::HtmlNormalizer reused;
  avkey::engine::HtmlNormalizer fresh;
  const std::span<const uint8_t> in(data, size);
  reused.Run(in);
  fresh.Run(in);
  const auto a = reused.nocomment(), b = fresh.nocomment();
  const auto c = reused.notags(), d = fresh.notags();
  if (a.size() != b.size() || (!a.empty() && std::memcmp(a.data(), b.data(), a.size()) != 0)) __builtin_trap();
  if (c.size() != d.size() || (!c.empty() && std::memcmp(c.data(), d.data(), c.size()) != 0)) __builtin_trap();
  if (reused.stop() != fresh.stop()) __builtin_trap();
  // Every output byte comes from at most a few input bytes' worth of expansion: a decoded
  // reference ("&ne;" -> "&#x2260;") doubles, a re-written encoded-script tag repeats its
  // attributes once more. Four times the input (plus a constant) is a generous ceiling.
  if (a.size() > 4 * size + 4096 || c.size() > 4 * size + 4096) __builtin_trap();
  return 0;
}
