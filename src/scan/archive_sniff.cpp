#include "scan/archive_sniff.h"

#include <algorithm>
#include <cstring>
#include <initializer_list>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <string_view>

namespace avkey::scan {
namespace {

using Bytes = std::span<const uint8_t>;

bool StartsWith(Bytes d, std::string_view magic) {
  return d.size() >= magic.size() && std::memcmp(d.data(), magic.data(), magic.size()) == 0;
}

// A byte string searched for, at positions >= from only.
struct Needle {
  std::string_view bytes;  // 2 bytes or more
  size_t from = 0;
};

bool MatchesAt(const uint8_t* p, size_t n, size_t at, const Needle& nd) {
  return at >= nd.from && at + nd.bytes.size() <= n && std::memcmp(p + at, nd.bytes.data(), nd.bytes.size()) == 0;
}

// The first position in [p, p + n) where one of `needles` occurs, or n. One pass for all
// of them: glibc's memmem ran at about 1 GB/s here, one pass per needle, and was 12% of a
// whole scan. Per needle, its first and last bytes are compared 16 positions at a time
// (SSE2) and the whole needle only where both match.
size_t FindAny(const uint8_t* p, size_t n, std::span<const Needle> needles) {
  if (needles.empty()) return n;
  size_t longest = 0;
  for (const Needle& nd : needles) longest = std::max(longest, nd.bytes.size());
  size_t i = 0;
#if defined(__SSE2__)
  constexpr size_t kMaxNeedles = 5;
  if (needles.size() <= kMaxNeedles) {
    __m128i first[kMaxNeedles], last[kMaxNeedles];
    for (size_t j = 0; j < needles.size(); ++j) {
      first[j] = _mm_set1_epi8(needles[j].bytes.front());
      last[j] = _mm_set1_epi8(needles[j].bytes.back());
    }
    for (; i + longest - 1 + 16 <= n; i += 16) {
      const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
      unsigned any = 0;
      unsigned masks[kMaxNeedles];
      for (size_t j = 0; j < needles.size(); ++j) {
        const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i + needles[j].bytes.size() - 1));
        masks[j] = static_cast<unsigned>(
            _mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(a, first[j]), _mm_cmpeq_epi8(b, last[j]))));
        any |= masks[j];
      }
      for (; any != 0; any &= any - 1) {
        const unsigned bit = any & (0u - any);
        for (size_t j = 0; j < needles.size(); ++j) {
          if ((masks[j] & bit) && MatchesAt(p, n, i + static_cast<size_t>(__builtin_ctz(bit)), needles[j])) {
            return i + static_cast<size_t>(__builtin_ctz(bit));
          }
        }
      }
    }
  }
#endif
  for (; i < n; ++i) {
    for (const Needle& nd : needles) {
      if (MatchesAt(p, n, i, nd)) return i;
    }
  }
  return n;
}

bool ContainsAny(Bytes d, std::initializer_list<Needle> needles) {
  return FindAny(d.data(), d.size(), {needles.begin(), needles.size()}) < d.size();
}

uint32_t Le32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

// The filters' bidders look at the first bytes only (lzma's is a weak heuristic: its
// properties byte and dictionary size; the bidder also scores the size field, which
// never decides alone whether it bids).
bool CompressedStreamMagic(Bytes d) {
  static constexpr std::string_view kMagics[] = {
      {"\x1f\x8b\x08", 3},         // gzip
      {"BZh", 3},                  // bzip2
      {"\x1f\x9d", 2},             // compress
      {"\x04\x22\x4d\x18", 4},     // lz4
      {"\x02\x21\x4c\x18", 4},     // lz4, legacy frame
      {"LZIP", 4},                 // lzip
      {"\xfd" "7zXZ\x00", 6},      // xz
      {"\x28\xb5\x2f\xfd", 4},     // zstd
      {"\xed\xab\xee\xdb", 4},     // rpm
  };
  for (std::string_view m : kMagics) {
    if (StartsWith(d, m)) return true;
  }
  // zstd skippable frame: 0x184D2A50-0x184D2A5F, little-endian.
  if (d.size() >= 4 && (d[0] & 0xf0) == 0x50 && d[1] == 0x2a && d[2] == 0x4d && d[3] == 0x18) return true;
  if (d.size() >= 14 && d[0] <= (4 * 5 + 4) * 9 + 8) {
    const uint32_t dict = Le32(d.data() + 1);
    const bool power_of_two = dict >= 0x1000 && dict <= 0x08000000 && (dict & (dict - 1)) == 0;
    const bool mib_steps = dict >= 0x00300000 && dict <= 0x03F00000 && (dict & 0xfffff) == 0;
    if (power_of_two || mib_steps) return true;
  }
  return false;
}

// libarchive's uu bidder: a line that starts with "begin " or "begin-base64 ", then a
// three-digit octal mode and a space. Its bidder reads line by line and gives up at the
// first byte that is neither printable ASCII nor CR/LF (a tab, a NUL, UTF-8...), so only
// the bytes before that one are searched: an executable is done after one byte.
// How many bytes from the start are printable ASCII, CR or LF. Text files are walked to
// their end, so 16 bytes at a time where SSE2 is there (a byte loop was ~5% of a scan).
size_t PrintablePrefix(Bytes d) {
  const auto printable = [](uint8_t c) { return (c >= 0x20 && c < 0x7f) || c == '\n' || c == '\r'; };
  size_t i = 0;
#if defined(__SSE2__)
  const __m128i lo = _mm_set1_epi8(0x1f), hi = _mm_set1_epi8(0x7f);
  const __m128i lf = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r');
  for (; i + 16 <= d.size(); i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(d.data() + i));
    // Signed compares: bytes >= 0x80 are negative, so not above 0x1f.
    const __m128i ok = _mm_or_si128(_mm_and_si128(_mm_cmpgt_epi8(v, lo), _mm_cmplt_epi8(v, hi)),
                                    _mm_or_si128(_mm_cmpeq_epi8(v, lf), _mm_cmpeq_epi8(v, cr)));
    const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(ok));
    if (mask != 0xffff) return i + static_cast<size_t>(__builtin_ctz(~mask));
  }
#endif
  while (i < d.size() && printable(d[i])) ++i;
  return i;
}

bool UuBeginLine(Bytes full) {
  const Bytes d = full.first(PrintablePrefix(full));
  constexpr std::string_view kBegin = "begin";
  const Needle needle{kBegin};
  const auto* s = reinterpret_cast<const char*>(d.data());
  for (size_t at = FindAny(d.data(), d.size(), {&needle, 1}); at < d.size();
       at += 1 + FindAny(d.data() + at + 1, d.size() - at - 1, {&needle, 1})) {
    if (at > 0 && s[at - 1] != '\n' && s[at - 1] != '\r') continue;
    std::string_view rest(s + at + kBegin.size(), d.size() - at - kBegin.size());
    if (rest.starts_with("-base64 ")) {
      rest.remove_prefix(8);
    } else if (rest.starts_with(" ")) {
      rest.remove_prefix(1);
    } else {
      continue;
    }
    if (rest.size() >= 4 && rest[0] >= '0' && rest[0] <= '7' && rest[1] >= '0' && rest[1] <= '7' &&
        rest[2] >= '0' && rest[2] <= '7' && rest[3] == ' ') {
      return true;
    }
  }
  return false;
}

// Formats identified at offset 0.
bool ArchiveMagic(Bytes d) {
  static constexpr std::string_view kMagics[] = {
      {"7z\xbc\xaf\x27\x1c", 6},   // 7zip
      {"!<arch>\n", 8},            // ar
      {"MSCF\0\0\0\0", 8},         // cab
      {"0707", 4},                 // cpio, the ASCII variants 070707 070727 070701 070702
      {"\xc7\x71", 2},             // cpio, binary little-endian
      {"\x71\xc7", 2},             // cpio, binary big-endian
      {"Rar!\x1a\x07", 6},         // rar and rar5
      {"WARC/", 5},                // warc
      {"xar!", 4},                 // xar
      {"PK", 2},                   // zip, streamable
  };
  for (std::string_view m : kMagics) {
    if (StartsWith(d, m)) return true;
  }
  // lha: "-l?x-" at offset 2 of a header of at least 22 bytes.
  if (d.size() >= 22 && d[2] == '-' && d[3] == 'l' && d[6] == '-') return true;
  // tar: a 512-byte header whose checksum field holds only octal digits, spaces and NULs
  // (a block of zeros, the end-of-archive mark, passes too).
  if (d.size() >= 512) {
    bool octal = true;
    for (size_t i = 148; i < 156 && octal; ++i) {
      const uint8_t c = d[i];
      octal = c == ' ' || c == 0 || (c >= '0' && c <= '7');
    }
    if (octal) return true;
  }
  // iso9660: the first volume descriptor at 32 KiB.
  constexpr size_t kIsoDescriptor = 32768;
  if (d.size() >= kIsoDescriptor + 6 && std::memcmp(d.data() + kIsoDescriptor + 1, "CD001", 5) == 0) return true;
  return false;
}

// Self-extracting archives: PE ("MZ") and ELF files are searched for an archive inside.
// The bidders start at fixed offsets but, given the whole file in memory, walk to its end.
bool SelfExtractor(Bytes d) {
  const bool pe = StartsWith(d, "MZ");
  const bool elf = StartsWith(d, "\x7f" "ELF");
  if (!pe && !elf) return false;
  constexpr Needle k7zip{{"7z\xbc\xaf\x27\x1c", 6}, 0x27000};  // PE and ELF
  constexpr Needle kRar{{"Rar!\x1a\x07", 6}, 0x10000};           // rar and rar5, PE and ELF
  constexpr Needle kCab{"MSCF"};  // PE only; its bidder wants "MSCF\0\0\0\0"
  constexpr Needle kLhaH{"-lh"};  // PE only: lha, "-lh?-"
  constexpr Needle kLhaZ{"-lz"};  // PE only: lha, "-lz?-"
  if (elf) return ContainsAny(d, {k7zip, kRar});
  return ContainsAny(d, {k7zip, kRar, kCab, kLhaH, kLhaZ});
}

// zip, seekable: an end-of-central-directory record in the last 16 KiB.
bool ZipEndRecord(Bytes d) {
  constexpr size_t kTail = 16 * 1024;
  const size_t from = d.size() > kTail ? d.size() - kTail : 0;
  return ContainsAny(d.subspan(from), {Needle{{"PK\x05\x06", 4}}});
}

}  // namespace

bool MayBeLibarchiveInput(std::span<const uint8_t> data) {
  return CompressedStreamMagic(data) || ArchiveMagic(data) || ZipEndRecord(data) || SelfExtractor(data) ||
         UuBeginLine(data);
}

}  // namespace avkey::scan
