// RTF \objdata: "{\*\objdata" then hex digits (whitespace ignored) up to the closing
// brace. The decoded bytes are an OLE1 ObjectHeader: u32 ole_version, u32 format_id
// (2: embedded), u32 class_len, class[class_len], u32 topic_len, topic, u32 item_len,
// item, u32 native_size, native[native_size].
#include "scan/rtf.h"

#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "fmt/format.h"
#include "scan/ole2.h"

namespace avkey::scan {
namespace {

using Bytes = std::span<const uint8_t>;

uint32_t Le32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

int Hex(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The OLE1 header's class name and native data; false if it does not parse.
bool ParseOle1(Bytes obj, std::string* cls, Bytes* native) {
  size_t pos = 8;
  if (obj.size() < pos + 4) return false;
  std::string strings[3];
  for (std::string& s : strings) {
    if (pos + 4 > obj.size()) return false;
    uint32_t len = Le32(&obj[pos]);
    pos += 4;
    if (len > obj.size() - pos || len > 4096) return false;
    s.assign(reinterpret_cast<const char*>(&obj[pos]), len);
    while (!s.empty() && s.back() == '\0') s.pop_back();
    pos += len;
  }
  if (pos + 4 > obj.size()) return false;
  uint32_t size = Le32(&obj[pos]);
  pos += 4;
  // A short last object is common (truncated documents): keep what is there.
  *native = obj.subspan(pos, std::min<size_t>(size, obj.size() - pos));
  *cls = strings[0];
  return true;
}

}  // namespace

bool LooksLikeRtf(Bytes data) { return data.size() >= 4 && std::memcmp(data.data(), "{\\rt", 4) == 0; }

void ExtractRtf(Bytes data, ChildSink& sink) {
  std::string_view text(reinterpret_cast<const char*>(data.data()), data.size());
  unsigned n = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t at = text.find("\\objdata", pos);
    if (at == std::string_view::npos) break;
    pos = at + 8;
    if (pos < text.size() && ((text[pos] >= 'a' && text[pos] <= 'z') || (text[pos] >= 'A' && text[pos] <= 'Z'))) {
      continue;  // another control word
    }
    ++n;
    uint64_t room = sink.Room();
    std::vector<uint8_t>& out = sink.Buffer();
    out.clear();
    int high = -1;
    size_t i = pos;
    for (; i < text.size() && text[i] != '}'; ++i) {
      int v = Hex(static_cast<uint8_t>(text[i]));
      if (v < 0) continue;  // whitespace, and the junk attackers insert to break parsers
      if (high < 0) {
        high = v;
        continue;
      }
      if (!PushBounded(out, static_cast<uint8_t>(high * 16 + v), room)) {
        sink.Overflow();
        return;
      }
      high = -1;
    }
    pos = i;
    if (out.empty()) continue;
    std::string cls;
    Bytes native;
    std::string name = fmt::format("objdata-{}", n);
    Bytes child = out;
    if (ParseOle1(out, &cls, &native) && !native.empty()) {
      Bytes payload;
      std::string label;
      if (cls == "Package" && ParseOle10Native(native, false, &payload, &label) && !payload.empty()) {
        child = payload;
        name = label;
      } else {
        child = native;
      }
    }
    if (!sink.Child(std::move(name), child)) return;
  }
}

}  // namespace avkey::scan
