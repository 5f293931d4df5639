// libFuzzer target for .ldb lines: ParseLdbLine, LogicExpr::Parse/Evaluate, and the
// byte compare / PCRE runtimes of whatever parsed, run over the input bytes.
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Isrc \
//     fuzz/ldb_fuzz.cpp src/engine/ldb.cpp src/engine/offset.cpp -lpcre2-8 -o ldb_fuzz
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "engine/ldb.h"

using avkey::engine::EvaluateByteCompare;
using avkey::engine::LdbSignature;
using avkey::engine::LdbSubsig;
using avkey::engine::LogicExpr;
using avkey::engine::NewPcreScratch;
using avkey::engine::ParseLdbLine;
using avkey::engine::PcreScratchPtr;
using avkey::engine::RunPcre;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::span<const uint8_t> bytes(data, size);

  // Counts derived from the input so Evaluate sees varied, reproducible values.
  std::vector<uint32_t> counts(LogicExpr::kMaxSubsigs);
  for (size_t i = 0; i < counts.size(); ++i) counts[i] = i < size ? data[i] % 4 : 0;

  if (avkey::Result<LogicExpr> expr = LogicExpr::Parse(text, LogicExpr::kMaxSubsigs)) {
    (void)expr->Evaluate(counts);
    (void)expr->Evaluate(std::span<const uint32_t>());  // shorter than max_index()
    LogicExpr copy = *expr;
    (void)copy.Evaluate(counts);
  }

  (void)avkey::engine::LdbEngineRange(text);
  avkey::Result<LdbSignature> sig = ParseLdbLine(text);
  if (!sig) return 0;
  (void)sig->expression.Evaluate(counts);
  static PcreScratchPtr scratch = NewPcreScratch();
  for (const LdbSubsig& sub : sig->subsigs) {
    switch (sub.kind) {
      case LdbSubsig::Kind::kByteCompare:
        for (uint64_t start : {uint64_t{0}, uint64_t{size / 2}, uint64_t{size}})
          (void)EvaluateByteCompare(*sub.byte_compare, bytes, start);
        break;
      case LdbSubsig::Kind::kPcre:
        (void)sub.pcre->trigger_expr->Evaluate(counts);
        (void)RunPcre(*sub.pcre, sub.offset, nullptr, bytes, scratch.get());
        break;
      default:
        break;
    }
  }
  return 0;
}
