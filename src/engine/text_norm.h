// ClamAV's generic text normaliser (cli_scanscript's text form). Internal to the engine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace avkey::engine {

// Upper case to lower case, each run of whitespace (\t \n \v \f \r space) to one space,
// other control bytes and bytes >= 0x80 dropped. Writes to `out`, which must have room for
// in.size() bytes; returns the normalised length. 16 bytes at a time where a block holds
// nothing to drop and no two spaces in a row (most prose), byte by byte elsewhere.
size_t NormalizeClamText(std::span<const uint8_t> in, uint8_t* out);
// The same; `pack` (only where TextNormHasPack()) folds runs of spaces 16 bytes at a time
// with SSSE3 too. NormalizeClamText(in, out) packs wherever the CPU can.
size_t NormalizeClamText(std::span<const uint8_t> in, uint8_t* out, bool pack);
bool TextNormHasPack();

// Whether NormalizeClamText can ever write byte `c`: printable ASCII and DEL, but no upper
// case. A body pattern that needs any other byte never matches a normalised text buffer.
constexpr bool InNormalizedText(uint8_t c) { return c >= 0x20 && c < 0x80 && !(c >= 'A' && c <= 'Z'); }

}  // namespace avkey::engine
