// TNEF ([MS-OXTNEF] 2.1): u32 signature 0x223E9F78, u16 key, then attributes:
//   u8 level (1 message, 2 attachment), u32 id (type << 16 | tag), u32 length,
//   data[length], u16 checksum.
// Tags used: 0x9002 attAttachRendData (starts an attachment), 0x8010 attAttachTitle,
// 0x800F attAttachData.
#include "scan/tnef.h"

#include <cstring>
#include <string>

#include "fmt/format.h"

namespace avkey::scan {
namespace {
uint32_t Le32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}
}  // namespace

bool LooksLikeTnef(std::span<const uint8_t> data) {
  return data.size() >= 6 && Le32(data.data()) == 0x223e9f78u;
}

void ExtractTnef(std::span<const uint8_t> data, ChildSink& sink) {
  if (!LooksLikeTnef(data)) return;
  size_t pos = 6;
  std::string title;
  std::span<const uint8_t> pending;  // attAttachData waits for its title, which may follow it
  bool has_pending = false;
  unsigned n = 0;
  auto flush = [&]() -> bool {
    if (!has_pending) return true;
    has_pending = false;
    ++n;
    if (pending.size() > sink.Room()) {
      sink.Overflow();
      return false;
    }
    if (pending.empty()) return true;
    return sink.Child(title.empty() ? fmt::format("attachment-{}", n) : title, pending);
  };
  // Fewer than 9 bytes after the last attribute: padding some writers add.
  while (data.size() - pos >= 9) {
    uint8_t level = data[pos];
    uint32_t id = Le32(&data[pos + 1]);
    uint32_t len = Le32(&data[pos + 5]);
    pos += 9;
    if (level != 1 && level != 2) {
      sink.Problem("corrupt-archive", fmt::format("TNEF attribute level {} at offset {}", level, pos - 9));
      break;
    }
    bool truncated = len > data.size() - pos;
    auto value = data.subspan(pos, truncated ? data.size() - pos : len);
    uint16_t tag = static_cast<uint16_t>(id & 0xffff);
    if (tag == 0x9002) {
      if (!flush()) return;
      title.clear();
    } else if (tag == 0x8010) {
      title.assign(reinterpret_cast<const char*>(value.data()), value.size());
      while (!title.empty() && title.back() == '\0') title.pop_back();
      if (title.find_first_of("/\\") != std::string::npos) title = title.substr(title.find_last_of("/\\") + 1);
    } else if (tag == 0x800f) {
      if (!flush()) return;
      pending = value;
      has_pending = true;
    }
    if (truncated) {
      sink.Problem("corrupt-archive", "TNEF attribute truncated");
      break;
    }
    pos += len;
    pos += std::min<size_t>(2, data.size() - pos);  // checksum, not checked: a wrong one hides nothing
  }
  flush();
}

}  // namespace avkey::scan
