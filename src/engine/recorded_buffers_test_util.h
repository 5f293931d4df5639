// Test helpers shared by the tests that replay buffers recorded from clamscan
// (tests/data/html/*.txt, written by make_cases.py and make_js_cases.py there).
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>

namespace avkey::engine::testing {

inline std::span<const uint8_t> Bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
inline std::string Str(std::span<const uint8_t> b) { return std::string(b.begin(), b.end()); }

// Readable form of a buffer for failure messages: at most `limit` bytes, others as \xNN.
inline std::string Show(std::span<const uint8_t> b, size_t limit = 400) {
  std::string out;
  for (size_t i = 0; i < b.size() && i < limit; ++i) {
    const uint8_t c = b[i];
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char tmp[8];
      std::snprintf(tmp, sizeof tmp, "\\x%02x", c);
      out += tmp;
    }
  }
  if (b.size() > limit) out += "...";
  return out;
}
inline std::string Show(std::string_view b, size_t limit = 400) { return Show(Bytes(b), limit); }

// Undoes the recorders' escaping: \\ for a backslash, \xNN for a byte, \{n} before one
// character for n of it.
inline bool Unescape(std::string_view s, std::string* out) {
  out->clear();
  auto hexval = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (size_t i = 0; i < s.size();) {
    size_t repeat = 1;
    if (s.compare(i, 2, "\\{") == 0) {
      const size_t close = s.find('}', i);
      if (close == std::string_view::npos) return false;
      repeat = std::stoul(std::string(s.substr(i + 2, close - i - 2)));
      i = close + 1;
      if (i >= s.size()) return false;
    }
    char c;
    if (s[i] != '\\') {
      c = s[i++];
    } else if (i + 1 < s.size() && s[i + 1] == '\\') {
      c = '\\';
      i += 2;
    } else if (i + 3 < s.size() && s[i + 1] == 'x' && hexval(s[i + 2]) >= 0 && hexval(s[i + 3]) >= 0) {
      c = static_cast<char>(hexval(s[i + 2]) * 16 + hexval(s[i + 3]));
      i += 4;
    } else {
      return false;
    }
    out->append(repeat, c);
  }
  return true;
}

}  // namespace avkey::engine::testing
