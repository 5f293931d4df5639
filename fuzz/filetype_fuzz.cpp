// libFuzzer target for file typing and executable header parsing.
//
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Isrc \
//       fuzz/filetype_fuzz.cpp src/engine/filetype.cpp -o filetype_fuzz
//   ./filetype_fuzz -max_len=65536 corpus/
//
// Seeds worth giving it: /usr/share/clamav-testfiles/*.exe, a few ELF binaries, and
// the synthetic headers built in src/engine/filetype_test.cpp.
#include <cstddef>
#include <cstdint>
#include <span>

#include "engine/filetype.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  (void)avkey::engine::DetectFileType(bytes);
  const auto info = avkey::engine::ParseExecutable(bytes);
  if (!info) return 0;
  // Contract checks beyond memory safety: raw sizes are clamped to the input, and a PE
  // entry point always resolves inside it (headers or a section's raw data).
  for (const avkey::engine::ExeSection& s : info->sections) {
    if (s.raw_size != 0 && (s.raw_offset > size || s.raw_size > size - s.raw_offset)) __builtin_trap();
  }
  if (info->type == avkey::engine::TargetType::kPE && info->entry_point_offset >= size) __builtin_trap();
  if (info->type != avkey::engine::TargetType::kPE && info->type != avkey::engine::TargetType::kELF &&
      info->type != avkey::engine::TargetType::kMachO)
    __builtin_trap();
  return 0;
}
