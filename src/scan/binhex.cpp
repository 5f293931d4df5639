// BinHex 4.0. Layout after the 6-bit and RLE decoding (all integers big-endian):
//   u8 name_len, name[name_len], u8 version(0), type[4], creator[4], u16 flags,
//   u32 data_len, u32 rsrc_len, u16 header_crc, data[data_len], u16 data_crc,
//   rsrc[rsrc_len], u16 rsrc_crc
// The 6-bit text (after the first ':' following the banner, up to the next ':') is
// decoded once into a vector of at most 3/4 of the input; the RLE expansion is streamed
// so that no fork larger than the sink's Room() is ever allocated.
#include "scan/binhex.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "fmt/format.h"

namespace avkey::scan {
namespace {

constexpr std::string_view kBanner = "(This file must be converted with BinHex";
constexpr std::string_view kAlphabet =
    "!\"#$%&'()*+,-012345689@ABCDEFGHIJKLMNPQRSTUVXYZ[`abcdefhijklmpqr";

uint16_t Crc16(std::span<const uint8_t> data, uint16_t crc = 0) {
  for (uint8_t b : data) {
    crc ^= static_cast<uint16_t>(b << 8);
    for (int i = 0; i < 8; ++i) {
      crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021) : static_cast<uint16_t>(crc << 1);
    }
  }
  return crc;
}

// Streams the run-length decoding of `in`: a byte 0x90 followed by n repeats the
// previous byte n-1 more times (n == 0: a literal 0x90).
class Rle {
 public:
  explicit Rle(std::span<const uint8_t> in) : in_(in) {}
  // Appends up to n bytes to *out; returns how many were appended.
  size_t Take(size_t n, std::vector<uint8_t>* out) {
    size_t got = 0;
    while (got < n) {
      if (repeat_ > 0) {
        size_t k = std::min<size_t>(repeat_, n - got);
        out->insert(out->end(), k, last_);
        repeat_ -= k;
        got += k;
        continue;
      }
      if (pos_ >= in_.size()) break;
      uint8_t b = in_[pos_++];
      if (b == 0x90) {
        if (pos_ >= in_.size()) break;
        uint8_t count = in_[pos_++];
        if (count == 0) {
          last_ = 0x90;
          out->push_back(0x90);
          ++got;
        } else if (count > 1) {
          repeat_ = count - 1u;
        }
        continue;
      }
      last_ = b;
      out->push_back(b);
      ++got;
    }
    return got;
  }

 private:
  std::span<const uint8_t> in_;
  size_t pos_ = 0;
  size_t repeat_ = 0;
  uint8_t last_ = 0;
};

uint32_t Be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

}  // namespace

bool LooksLikeBinHex(std::span<const uint8_t> data) {
  std::string_view head(reinterpret_cast<const char*>(data.data()), std::min<size_t>(data.size(), 8192));
  return head.find(kBanner) != std::string_view::npos;
}

void ExtractBinHex(std::span<const uint8_t> data, ChildSink& sink) {
  std::string_view text(reinterpret_cast<const char*>(data.data()), data.size());
  size_t banner = text.find(kBanner);
  if (banner == std::string_view::npos) return;
  size_t start = text.find(':', banner + kBanner.size());
  if (start == std::string_view::npos) {
    sink.Problem("corrupt-archive", "BinHex banner without data");
    return;
  }
  std::array<int8_t, 256> value;
  value.fill(-1);
  for (size_t i = 0; i < kAlphabet.size(); ++i) value[static_cast<uint8_t>(kAlphabet[i])] = static_cast<int8_t>(i);

  std::vector<uint8_t> raw;  // before RLE: at most 3/4 of the input
  raw.reserve((text.size() - start) / 4 * 3 + 3);
  uint32_t acc = 0;
  int bits = 0;
  bool closed = false;
  for (size_t i = start + 1; i < text.size(); ++i) {
    uint8_t c = static_cast<uint8_t>(text[i]);
    if (c == ':') {
      closed = true;
      break;
    }
    if (c == '\r' || c == '\n' || c == ' ' || c == '\t') continue;
    if (value[c] < 0) break;  // not BinHex any more
    acc = (acc << 6) | static_cast<uint32_t>(value[c]);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      raw.push_back(static_cast<uint8_t>(acc >> bits));
      acc &= (1u << bits) - 1;
    }
  }
  if (!closed) sink.Problem("corrupt-archive", "BinHex data not terminated by ':'");

  Rle rle(raw);
  std::vector<uint8_t> header;
  if (rle.Take(1, &header) != 1 || header[0] > 63) {
    sink.Problem("corrupt-archive", "BinHex header is damaged");
    return;
  }
  size_t name_len = header[0];
  const size_t kFixed = 1 + 4 + 4 + 2 + 4 + 4;  // version .. rsrc_len
  if (rle.Take(name_len + kFixed + 2, &header) != name_len + kFixed + 2) {
    sink.Problem("corrupt-archive", "BinHex header is truncated");
    return;
  }
  std::string name(reinterpret_cast<const char*>(header.data() + 1), name_len);
  if (name.empty() || name.find('\0') != std::string::npos || name.find('/') != std::string::npos) {
    name = "data";
  }
  const uint8_t* f = header.data() + 1 + name_len + 1 + 4 + 4 + 2;
  uint32_t data_len = Be32(f), rsrc_len = Be32(f + 4);
  uint16_t hcrc = static_cast<uint16_t>((f[8] << 8) | f[9]);
  if (Crc16(std::span<const uint8_t>(header.data(), header.size() - 2)) != hcrc) {
    sink.Problem("corrupt-archive", "BinHex header CRC mismatch");
  }

  struct Fork {
    uint32_t len;
    std::string name;
  } forks[] = {{data_len, name}, {rsrc_len, name + ".rsrc"}};
  for (const Fork& fork : forks) {
    if (fork.len == 0) continue;
    if (fork.len > sink.Room()) {
      sink.Overflow();
      return;
    }
    std::vector<uint8_t>& out = sink.Buffer();
    out.clear();
    size_t got = rle.Take(fork.len, &out);
    std::vector<uint8_t> crc_bytes;
    bool crc_ok = got == fork.len && rle.Take(2, &crc_bytes) == 2 &&
                  Crc16(out) == static_cast<uint16_t>((crc_bytes[0] << 8) | crc_bytes[1]);
    if (got < fork.len) {
      sink.Problem("corrupt-archive", fmt::format("BinHex fork '{}' truncated at {} of {} bytes", fork.name, got, fork.len));
    } else if (!crc_ok) {
      sink.Problem("corrupt-archive", fmt::format("BinHex fork '{}' CRC mismatch", fork.name));
    }
    if (got > 0 && !sink.Child(fork.name, out)) return;
    if (got < fork.len) return;
  }
}

}  // namespace avkey::scan
