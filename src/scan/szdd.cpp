// SZDD layout: magic[8] "SZDD\x88\xf0\x27\x33", u8 method ('A'), u8 missing last
// character of the name, u32le expanded size, then LZSS: a control byte whose bits
// (LSB first) say literal (1) or match (0); a match is 2 bytes, position
// b0 | (b1 & 0xf0) << 4 in a 4096-byte window (initially spaces, write position
// 4096 - 16) and length (b1 & 0x0f) + 3.
#include "scan/szdd.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "fmt/format.h"

namespace avkey::scan {
namespace {
constexpr uint8_t kMagic[8] = {'S', 'Z', 'D', 'D', 0x88, 0xf0, 0x27, 0x33};
constexpr size_t kHeader = 14;

std::string ExpandedName(std::string container, uint8_t missing) {
  if (container.size() > 1 && container.back() == '_' && missing > ' ' && missing < 0x7f && missing != '/') {
    container.back() = static_cast<char>(missing);
    return container;
  }
  for (const char* suffix : {".szdd", ".SZDD"}) {
    std::string_view s(suffix);
    if (container.size() > s.size() && container.ends_with(s)) return container.substr(0, container.size() - s.size());
  }
  return container.empty() ? "szdd-expanded" : container + "(expanded)";
}
}  // namespace

bool LooksLikeSzdd(std::span<const uint8_t> data) {
  return data.size() >= kHeader && std::memcmp(data.data(), kMagic, sizeof kMagic) == 0 && data[8] == 'A';
}

void ExtractSzdd(std::span<const uint8_t> data, ChildSink& sink) {
  if (!LooksLikeSzdd(data)) return;
  uint32_t declared = uint32_t{data[10]} | uint32_t{data[11]} << 8 | uint32_t{data[12]} << 16 |
                      uint32_t{data[13]} << 24;
  if (declared > sink.Room()) {
    sink.Overflow();
    return;
  }
  std::array<uint8_t, 4096> window;
  window.fill(' ');
  size_t wpos = 4096 - 16;
  std::vector<uint8_t>& out = sink.Buffer();
  out.clear();
  auto put = [&](uint8_t b) {
    out.push_back(b);
    window[wpos] = b;
    wpos = (wpos + 1) & 0xfff;
  };
  size_t i = kHeader;
  while (i < data.size() && out.size() < declared) {
    uint8_t control = data[i++];
    for (int bit = 0; bit < 8 && i < data.size() && out.size() < declared; ++bit) {
      if (control & (1u << bit)) {
        put(data[i++]);
      } else {
        if (i + 1 >= data.size()) {
          i = data.size();
          break;
        }
        size_t mpos = data[i] | ((data[i + 1] & 0xf0u) << 4);
        size_t len = (data[i + 1] & 0x0fu) + 3u;
        i += 2;
        for (size_t k = 0; k < len && out.size() < declared; ++k) put(window[(mpos + k) & 0xfff]);
      }
    }
  }
  if (out.size() < declared) {
    sink.Problem("corrupt-archive", fmt::format("SZDD data ends after {} of {} bytes", out.size(), declared));
  }
  if (!out.empty()) sink.Child(ExpandedName(sink.ContainerName(), data[9]), out);
}

}  // namespace avkey::scan
