// ClamAV signature offsets (.ndb field 3, .ldb subsignature prefix). Internal.
//   *            anywhere
//   n            starts at byte n             n,m     starts in [n, n+m]
//   EOF-n        starts n bytes before EOF    EOF-n,m
//   EP+n / EP-n  relative to the entry point  EP+n,m
//   Sx+n         n bytes into section x       Sx+n,m
//   SEx          anywhere inside section x
//   SL+n         n bytes into the last section  SL+n,m
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "avkey/engine/status.h"

namespace avkey::engine {

struct ExeInfo;

struct SigOffset {
  enum class Kind : uint8_t { kAny, kAbsolute, kEof, kEntryPoint, kSection, kSectionEntire, kLastSection };
  Kind kind = Kind::kAny;
  uint8_t pad0_[7] = {};  // explicit, zeroed padding: Body is written to caches byte for byte
  int64_t value = 0;      // n (negative for EP-n); unused for kAny/kSectionEntire
  uint64_t shift = 0;     // maxshift (the ",m" part); 0 = exact
  uint32_t section = 0;   // x of Sx/SEx
  uint32_t pad1_ = 0;

  bool anywhere() const { return kind == Kind::kAny; }
  // True when the offset needs executable headers (EP, S*).
  bool needs_exe() const { return kind >= Kind::kEntryPoint; }
};

// Parses the offset text; the error names what is wrong.
Result<SigOffset> ParseOffset(std::string_view text);

// Window [first, last] of allowed start positions for a file of `size` bytes, or
// nullopt when the offset cannot apply (before the file start, no such section,
// no executable info). kAny gives [0, size].
struct OffsetWindow {
  uint64_t first = 0;
  uint64_t last = 0;
};
std::optional<OffsetWindow> ResolveOffset(const SigOffset& offset, uint64_t size,
                                          const ExeInfo* exe);

}  // namespace avkey::engine
