// File-type detection by magic and executable header parsing (PE, ELF, Mach-O).
// Internal to the engine. Every function here reads untrusted bytes: bounds are
// checked on every access and nothing recurses on input-controlled depth.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "avkey/engine/engine.h"

namespace avkey::engine {

// Where clamscan found the HTML in a file, which decides the bytes it matches: the raw
// file, the normalised buffers (html_norm.h) or both, and in which order [observed with
// clamscan 1.4.6; docs/html.md].
enum class HtmlOrigin : uint8_t {
  kNone,        // not HTML
  kEarly,       // a marker ends within the first 1024 bytes: typed HTML at once, only the
                // normalised buffers are matched (never the raw bytes, nor their hash)
  kLate,        // ASCII text whose first marker ends after byte 1024: the raw bytes are
                // matched as text (target 0, raw hash, no target 7), then the buffers
  kGif,         // a GIF (type kGraphics) with a marker anywhere: raw GIF scan, then buffers
  kUtf16Le,     // UTF-16LE found by the pair-decoding probe: buffers of the pair decode of
                // the whole file, then the raw bytes (target 0, raw hash)
  kUtf16BeBom,  // UTF-16BE behind a BOM: buffers of the raw bytes (NULs are dropped), no
                // raw scan
};

// Detected type of a buffer, for ClamAV target-type filtering. kAny = none of the
// specific types. kText = ASCII/UTF-8 text as ClamAV would type it. `html`, when given,
// receives where an HTML marker made the file HTML (kNone otherwise). `binary_data`, when
// given, is set when clamscan would type the data CL_TYPE_BINARY_DATA: no format and not
// text (kAny is also every recognised format that is not a target type, archives...).
TargetType DetectFileType(std::span<const uint8_t> data, HtmlOrigin* html = nullptr, bool* binary_data = nullptr);

// ClamAV's UTF-16 pair decoding of a whole file: byte j is (b[2j+1] << 4) + b[2j], mod 256
// (the ASCII character itself for UTF-16LE text). `out` is resized to size/2 bytes.
void DecodeUtf16Pairs(std::span<const uint8_t> data, std::vector<uint8_t>* out);

// One section (PE section, ELF section header, Mach-O section) in file terms.
struct ExeSection {
  uint32_t rva = 0;         // virtual address relative to image base (PE) / vaddr (ELF)
  uint32_t virtual_size = 0;
  uint64_t raw_offset = 0;  // file offset of the section's raw data
  uint64_t raw_size = 0;    // size of raw data in the file (clamped to the file)
};

// What ClamAV's EP/Sx/SE/SL offsets and .mdb section hashes need.
struct ExeInfo {
  TargetType type = TargetType::kAny;  // kPE, kELF or kMachO
  bool pe32_plus = false;              // PE32+ (64-bit)
  bool has_entry_point = false;
  uint64_t entry_point_offset = 0;     // file offset of the entry point
  std::vector<ExeSection> sections;    // in header order
};

// Parses PE/ELF/Mach-O headers; nullopt when `data` is none of them or is too broken
// to locate the entry point and sections.
std::optional<ExeInfo> ParseExecutable(std::span<const uint8_t> data);

}  // namespace avkey::engine
