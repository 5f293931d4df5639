// libFuzzer target for the JavaScript normaliser (src/engine/js_norm.h), driven the way the
// scanner drives it: through HtmlNormalizer, which feeds it every <script> block chunk by
// chunk. The input is wrapped in "<html><script>" so that most of the fuzzer's bytes are
// script; a fuzzer-made "</script><script>" still makes several blocks.
//
//   fuzz/run.sh 60 js_norm_fuzz          (seeds: fuzz/seeds/js_norm_fuzz, make_seeds.py)
//
// Beyond memory safety and UBSan it checks the contract: a reused normaliser gives the same
// bytes as a fresh one (no state leaks from file to file), and the output stays bounded.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "engine/html_norm.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static avkey::engine::HtmlNormalizer reused;
  static std::vector<uint8_t> in;
  static constexpr char kHead[] = "<html><script>";
  in.assign(kHead, kHead + sizeof kHead - 1);
  in.insert(in.end(), data, data + size);
  avkey::engine::HtmlNormalizer fresh;
  reused.Run(in);
  fresh.Run(in);
  const auto a = reused.javascript(), b = fresh.javascript();
  if (a.size() != b.size() || (!a.empty() && std::memcmp(a.data(), b.data(), a.size()) != 0)) __builtin_trap();
  if (reused.javascript_truncated() != fresh.javascript_truncated()) __builtin_trap();
  // Decoders can expand (a packer's dictionary words), but only within their byte budget.
  if (a.size() > 64 * (in.size() + 64) + 2 * avkey::engine::JsNormalizer::kMaxDecodedBytes) __builtin_trap();
  return 0;
}
