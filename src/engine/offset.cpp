#include "engine/offset.h"

#include <charconv>
#include <limits>
#include <string>

#include "engine/filetype.h"

namespace avkey::engine {
namespace {

bool ParseUnsigned(std::string_view s, uint64_t* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

Result<SigOffset> ParseOffset(std::string_view text) {
  SigOffset off;
  if (text == "*") return off;
  std::string_view main = text;
  if (auto comma = text.find(','); comma != std::string_view::npos) {
    main = text.substr(0, comma);
    // clamscan reads an empty max shift ("10,") as 0.
    if (comma + 1 < text.size() && !ParseUnsigned(text.substr(comma + 1), &off.shift))
      return Fail("bad maxshift in offset '" + std::string(text) + "'");
  }
  auto bad = [&] { return Fail("bad offset '" + std::string(text) + "'"); };
  uint64_t n = 0;
  if (main.starts_with("EOF-")) {
    off.kind = SigOffset::Kind::kEof;
    if (!ParseUnsigned(main.substr(4), &n)) return bad();
    off.value = static_cast<int64_t>(n);
  } else if (main.starts_with("EP+") || main.starts_with("EP-")) {
    off.kind = SigOffset::Kind::kEntryPoint;
    if (!ParseUnsigned(main.substr(3), &n)) return bad();
    off.value = main[2] == '-' ? -static_cast<int64_t>(n) : static_cast<int64_t>(n);
  } else if (main.starts_with("SL+")) {
    off.kind = SigOffset::Kind::kLastSection;
    if (!ParseUnsigned(main.substr(3), &n)) return bad();
    off.value = static_cast<int64_t>(n);
  } else if (main.starts_with("SE")) {
    off.kind = SigOffset::Kind::kSectionEntire;
    if (!ParseUnsigned(main.substr(2), &n) || n > 0xffff) return bad();
    off.section = static_cast<uint32_t>(n);
    if (off.shift != 0) return bad();
  } else if (main.starts_with("S")) {
    off.kind = SigOffset::Kind::kSection;
    auto plus = main.find('+');
    uint64_t x = 0;
    if (plus == std::string_view::npos || !ParseUnsigned(main.substr(1, plus - 1), &x) ||
        x > 0xffff || !ParseUnsigned(main.substr(plus + 1), &n))
      return bad();
    off.section = static_cast<uint32_t>(x);
    off.value = static_cast<int64_t>(n);
  } else {
    off.kind = SigOffset::Kind::kAbsolute;
    if (!ParseUnsigned(main, &n)) return bad();
    off.value = static_cast<int64_t>(n);
  }
  if (off.value > (int64_t{1} << 48) || off.value < -(int64_t{1} << 48) || off.shift > (uint64_t{1} << 48))
    return Fail("offset out of range '" + std::string(text) + "'");
  return off;
}

std::optional<OffsetWindow> ResolveOffset(const SigOffset& off, uint64_t size, const ExeInfo* exe) {
  int64_t base = 0;
  switch (off.kind) {
    case SigOffset::Kind::kAny:
      return OffsetWindow{0, size};
    case SigOffset::Kind::kAbsolute:
      base = off.value;
      break;
    case SigOffset::Kind::kEof:
      base = static_cast<int64_t>(size) - off.value;
      break;
    case SigOffset::Kind::kEntryPoint:
      if (!exe || !exe->has_entry_point) return std::nullopt;
      base = static_cast<int64_t>(exe->entry_point_offset) + off.value;
      break;
    case SigOffset::Kind::kSection:
      if (!exe || off.section >= exe->sections.size()) return std::nullopt;
      base = static_cast<int64_t>(exe->sections[off.section].raw_offset) + off.value;
      break;
    case SigOffset::Kind::kLastSection:
      if (!exe || exe->sections.empty()) return std::nullopt;
      base = static_cast<int64_t>(exe->sections.back().raw_offset) + off.value;
      break;
    case SigOffset::Kind::kSectionEntire: {
      if (!exe || off.section >= exe->sections.size()) return std::nullopt;
      const ExeSection& s = exe->sections[off.section];
      if (s.raw_size == 0 || s.raw_offset >= size) return std::nullopt;
      return OffsetWindow{s.raw_offset, s.raw_offset + s.raw_size - 1};
    }
  }
  if (base < 0 || static_cast<uint64_t>(base) > size) return std::nullopt;
  uint64_t first = static_cast<uint64_t>(base);
  return OffsetWindow{first, first + off.shift};
}

}  // namespace avkey::engine
