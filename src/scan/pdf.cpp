// PDF streams without a full object parser: a stream is found by its keyword, its
// dictionary is the text between the preceding "obj" and "stream", and its end is
// /Length when that lands on "endstream", else the next "endstream" (damaged or
// hostile files often lie about /Length; indirect lengths are not resolved).
#include "scan/pdf.h"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "fmt/format.h"

namespace avkey::scan {
namespace {

using Bytes = std::span<const uint8_t>;

// Feeds libarchive a gzip member built around a deflate stream without copying it:
// a 10-byte gzip header, the deflate bytes, an 8-byte trailer (libarchive does not
// check the trailer's CRC, and ignores what follows it).
struct GzipFeed {
  Bytes deflate;
  int part = 0;
  static la_ssize_t Read(archive*, void* self, const void** buf) {
    static constexpr uint8_t kHeader[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff};
    static constexpr uint8_t kTrailer[8] = {};
    auto* f = static_cast<GzipFeed*>(self);
    switch (f->part++) {
      case 0:
        *buf = kHeader;
        return sizeof kHeader;
      case 1:
        if (!f->deflate.empty()) {
          *buf = f->deflate.data();
          return static_cast<la_ssize_t>(f->deflate.size());
        }
        [[fallthrough]];
      case 2:
        f->part = 3;
        *buf = kTrailer;
        return sizeof kTrailer;
      default:
        return 0;
    }
  }
};

struct ArchiveFree {
  void operator()(archive* a) const { archive_read_free(a); }
};

bool IsSpace(uint8_t c) { return c == ' ' || c == '\r' || c == '\n' || c == '\t' || c == '\f' || c == 0; }

bool IsDelimiter(uint8_t c) {
  return IsSpace(c) || c == '/' || c == '[' || c == ']' || c == '<' || c == '>' || c == '(' || c == ')';
}

// Reads the unsigned integer at text[*pos] (after spaces). Returns false if none.
bool ReadUint(std::string_view text, size_t* pos, uint64_t* value) {
  size_t p = *pos;
  while (p < text.size() && IsSpace(static_cast<uint8_t>(text[p]))) ++p;
  size_t start = p;
  uint64_t v = 0;
  while (p < text.size() && text[p] >= '0' && text[p] <= '9' && p - start < 15) v = v * 10 + static_cast<uint64_t>(text[p++] - '0');
  if (p == start) return false;
  *pos = p;
  *value = v;
  return true;
}

// The names in the dictionary's /Filter value ("/A" or "[/A /B]"), at most 8.
std::vector<std::string> Filters(std::string_view dict) {
  std::vector<std::string> names;
  size_t f = dict.find("/Filter");
  if (f == std::string_view::npos) return names;
  size_t p = f + 7;
  while (p < dict.size() && IsSpace(static_cast<uint8_t>(dict[p]))) ++p;
  bool array = p < dict.size() && dict[p] == '[';
  if (array) ++p;
  while (p < dict.size() && names.size() < 8) {
    while (p < dict.size() && IsSpace(static_cast<uint8_t>(dict[p]))) ++p;
    if (p >= dict.size() || dict[p] != '/') break;
    size_t start = ++p;
    while (p < dict.size() && !IsDelimiter(static_cast<uint8_t>(dict[p]))) ++p;
    names.emplace_back(dict.substr(start, p - start));
    if (!array) break;
  }
  return names;
}

}  // namespace

DecodeStatus InflateZlib(Bytes in, std::vector<uint8_t>* out, uint64_t room) {
  Bytes deflate = in;
  if (in.size() >= 2 && (in[0] & 0x0f) == 8 && ((in[0] << 8) | in[1]) % 31 == 0) {
    if (in[1] & 0x20) return DecodeStatus::kCorrupt;  // preset dictionary: not in PDF
    deflate = in.subspan(2);
  }
  std::unique_ptr<archive, ArchiveFree> a(archive_read_new());
  if (!a) return DecodeStatus::kCorrupt;
  archive_read_support_filter_gzip(a.get());
  archive_read_support_format_raw(a.get());
  GzipFeed feed{deflate};
  if (archive_read_open(a.get(), &feed, nullptr, &GzipFeed::Read, nullptr) != ARCHIVE_OK) {
    return DecodeStatus::kCorrupt;
  }
  archive_entry* entry = nullptr;
  if (archive_read_next_header(a.get(), &entry) != ARCHIVE_OK) return DecodeStatus::kCorrupt;
  uint8_t chunk[16384];
  for (;;) {
    la_ssize_t n = archive_read_data(a.get(), chunk, sizeof chunk);
    if (n == 0) return DecodeStatus::kOk;
    if (n < 0) {
      if (n == ARCHIVE_WARN) continue;
      return DecodeStatus::kCorrupt;
    }
    uint64_t left = room - std::min<uint64_t>(room, out->size());
    size_t take = static_cast<size_t>(std::min<uint64_t>(left, static_cast<uint64_t>(n)));
    out->insert(out->end(), chunk, chunk + take);
    if (take < static_cast<size_t>(n)) return DecodeStatus::kOverflow;
  }
}

DecodeStatus DecodeAsciiHex(Bytes in, std::vector<uint8_t>* out, uint64_t room) {
  int high = -1;
  for (uint8_t c : in) {
    if (c == '>') break;
    int v;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    else if (IsSpace(c)) continue;
    else return DecodeStatus::kCorrupt;
    if (high < 0) {
      high = v;
    } else {
      if (!PushBounded(*out, static_cast<uint8_t>(high * 16 + v), room)) return DecodeStatus::kOverflow;
      high = -1;
    }
  }
  if (high >= 0 && !PushBounded(*out, static_cast<uint8_t>(high * 16), room)) return DecodeStatus::kOverflow;
  return DecodeStatus::kOk;
}

DecodeStatus DecodeAscii85(Bytes in, std::vector<uint8_t>* out, uint64_t room) {
  size_t i = 0;
  if (in.size() >= 2 && in[0] == '<' && in[1] == '~') i = 2;
  uint32_t group[5];
  int n = 0;
  // A group of `count` characters (2..5) gives count - 1 bytes; short groups are padded with 'u'.
  auto flush = [&](int count) -> DecodeStatus {
    for (int k = count; k < 5; ++k) group[k] = 84;
    uint64_t v = 0;
    for (int k = 0; k < 5; ++k) v = v * 85 + group[k];
    if (v > 0xffffffffull) return DecodeStatus::kCorrupt;
    for (int k = 0; k < count - 1; ++k) {
      if (!PushBounded(*out, static_cast<uint8_t>(v >> (24 - 8 * k)), room)) return DecodeStatus::kOverflow;
    }
    return DecodeStatus::kOk;
  };
  for (; i < in.size(); ++i) {
    uint8_t c = in[i];
    if (IsSpace(c)) continue;
    if (c == '~') break;
    if (c == 'z' && n == 0) {
      for (int k = 0; k < 4; ++k) {
        if (!PushBounded(*out, 0, room)) return DecodeStatus::kOverflow;
      }
      continue;
    }
    if (c < '!' || c > 'u') return DecodeStatus::kCorrupt;
    group[n++] = c - '!';
    if (n == 5) {
      if (DecodeStatus st = flush(5); st != DecodeStatus::kOk) return st;
      n = 0;
    }
  }
  if (n == 1) return DecodeStatus::kCorrupt;
  if (n > 1) return flush(n);
  return DecodeStatus::kOk;
}

bool LooksLikePdf(Bytes data) {
  std::string_view head(reinterpret_cast<const char*>(data.data()), std::min<size_t>(data.size(), 1024));
  return head.find("%PDF-") != std::string_view::npos;
}

void ExtractPdf(Bytes data, ChildSink& sink) {
  std::string_view text(reinterpret_cast<const char*>(data.data()), data.size());
  std::vector<uint8_t> a, b;
  size_t scan_from = 0;    // never look for a dictionary inside the previous stream's data
  unsigned stream_no = 0;
  bool reported_corrupt = false;
  for (size_t pos = 0; pos < text.size();) {
    size_t kw = text.find("stream", pos);
    if (kw == std::string_view::npos) break;
    pos = kw + 6;
    if (kw >= 3 && text.substr(kw - 3, 3) == "end") continue;
    size_t start = kw + 6;
    if (start < text.size() && text[start] == '\r') ++start;
    if (start < text.size() && text[start] == '\n') ++start;
    if (start == kw + 6) continue;  // "stream" must end its line
    ++stream_no;

    // The dictionary: from the last "obj" before the keyword.
    size_t obj = text.rfind("obj", kw);
    std::string_view dict;
    std::string name = fmt::format("stream-{}", stream_no);
    if (obj != std::string_view::npos && obj >= scan_from) {
      dict = text.substr(obj + 3, kw - obj - 3);
      // "N G obj": the object number is the first of the two integers before "obj".
      size_t p = obj;
      while (p > scan_from && IsSpace(static_cast<uint8_t>(text[p - 1]))) --p;
      while (p > scan_from && text[p - 1] >= '0' && text[p - 1] <= '9') --p;
      while (p > scan_from && IsSpace(static_cast<uint8_t>(text[p - 1]))) --p;
      size_t q = p;
      while (p > scan_from && text[p - 1] >= '0' && text[p - 1] <= '9' && q - p < 10) --p;
      uint64_t num;
      size_t r = p;
      if (p < q && ReadUint(text, &r, &num) && r == q) name = fmt::format("obj-{}", num);
    } else {
      dict = text.substr(scan_from, kw - scan_from);
    }

    size_t end = std::string_view::npos;
    size_t len_at = dict.find("/Length");
    uint64_t length;
    size_t lp = len_at + 7;
    if (len_at != std::string_view::npos && ReadUint(dict, &lp, &length) && length <= text.size() - start) {
      // A direct length, unless it is "N G R" (indirect).
      size_t after = lp;
      uint64_t gen;
      bool indirect = ReadUint(dict, &after, &gen) && dict.substr(after).find_first_not_of(" \r\n\t") != std::string_view::npos &&
                      dict[dict.find_first_not_of(" \r\n\t", after)] == 'R';
      if (!indirect) {
        size_t e = start + static_cast<size_t>(length);
        size_t k = e;
        while (k < text.size() && IsSpace(static_cast<uint8_t>(text[k]))) ++k;
        if (text.substr(k, 9) == "endstream") end = e;
      }
    }
    if (end == std::string_view::npos) {
      size_t es = text.find("endstream", start);
      end = es == std::string_view::npos ? text.size() : es;
      if (end > start && text[end - 1] == '\n') --end;
      if (end > start && text[end - 1] == '\r') --end;
    }
    pos = std::max(pos, end);
    scan_from = end;
    Bytes raw = data.subspan(start, end - start);
    if (raw.empty()) continue;

    Bytes cur = raw;
    for (const std::string& f : Filters(dict)) {
      std::vector<uint8_t>& dst = cur.data() == a.data() && !a.empty() ? b : a;
      dst.clear();
      DecodeStatus st;
      uint64_t room = sink.Room();
      if (f == "FlateDecode" || f == "Fl") {
        st = InflateZlib(cur, &dst, room);
      } else if (f == "ASCIIHexDecode" || f == "AHx") {
        st = DecodeAsciiHex(cur, &dst, room);
      } else if (f == "ASCII85Decode" || f == "A85") {
        st = DecodeAscii85(cur, &dst, room);
      } else {
        break;  // an image codec or LZW: scan the bytes as they are
      }
      if (st == DecodeStatus::kOverflow) {
        sink.Overflow();
        return;
      }
      if (st == DecodeStatus::kCorrupt && !reported_corrupt) {
        sink.Problem("corrupt-archive", fmt::format("PDF {}: {} data is damaged", name, f));
        reported_corrupt = true;
      }
      cur = Bytes(dst.data(), dst.size());
      if (cur.empty()) break;
    }
    if (cur.empty()) continue;
    if (!sink.Child(name, cur)) return;
  }
}

}  // namespace avkey::scan
