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

// Detected type of a buffer, for ClamAV target-type filtering. kAny = none of the
// specific types. kText = ASCII/UTF-8 text as ClamAV would type it.
TargetType DetectFileType(std::span<const uint8_t> data);

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
