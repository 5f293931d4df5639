#include "engine/text_norm.h"

#include <array>

#if defined(__SSE2__)
#include <emmintrin.h>
#include <tmmintrin.h>
#endif

namespace avkey::engine {
namespace {

// Per byte: what it becomes (0: dropped).
constexpr auto kMap = [] {
  std::array<uint8_t, 256> m{};
  for (int c = 0x20; c < 0x80; ++c) m[c] = static_cast<uint8_t>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  for (int c = '\t'; c <= '\r'; ++c) m[c] = ' ';
  return m;
}();

#if defined(__SSE2__) && (defined(__x86_64__) || defined(__i386__))
#define AVKEY_TEXT_NORM_SSSE3 1
// Per 8-bit keep mask: the indices of its set bits, in order (pshufb's control for
// packing the kept bytes of 8 to the front).
constexpr auto kPack = [] {
  std::array<std::array<uint8_t, 8>, 256> t{};
  for (int m = 0; m < 256; ++m) {
    int k = 0;
    for (int b = 0; b < 8; ++b)
      if (m & (1 << b)) t[m][k++] = static_cast<uint8_t>(b);
    for (; k < 8; ++k) t[m][k] = 0x80;  // zero fill
  }
  return t;
}();

// Writes the bytes of `m` whose bit is set in `keep`, in order, to `out`; returns how many.
// Writes 16 bytes whatever the count (the caller leaves room).
__attribute__((target("ssse3"))) size_t Pack(__m128i m, unsigned keep, uint8_t* out) {
  const unsigned lo = keep & 0xff, hi = keep >> 8;
  const __m128i lo_ctl = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(kPack[lo].data()));
  const __m128i hi_ctl = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(kPack[hi].data()));
  _mm_storel_epi64(reinterpret_cast<__m128i*>(out), _mm_shuffle_epi8(m, lo_ctl));
  const size_t n = static_cast<size_t>(__builtin_popcount(lo));
  _mm_storel_epi64(reinterpret_cast<__m128i*>(out + n), _mm_shuffle_epi8(_mm_srli_si128(m, 8), hi_ctl));
  return n + static_cast<size_t>(__builtin_popcount(hi));
}
#endif

}  // namespace

bool TextNormHasPack() {
#if defined(AVKEY_TEXT_NORM_SSSE3)
  static const bool has = __builtin_cpu_supports("ssse3");
  return has;
#else
  return false;
#endif
}

size_t NormalizeClamText(std::span<const uint8_t> in, uint8_t* out) { return NormalizeClamText(in, out, TextNormHasPack()); }

size_t NormalizeClamText(std::span<const uint8_t> in, uint8_t* out, bool pack) {
  (void)pack;  // (without SSSE3 code)
  size_t n = 0;
  uint8_t prev = 0;  // last byte written (a space not yet followed by anything else)
  size_t i = 0;
  // Branch-light: every byte is stored, and the output advances unless it was dropped or
  // repeats a space.
  auto scalar = [&](size_t end) {
    for (; i < end; ++i) {
      const uint8_t m = kMap[in[i]];
      out[n] = m;
      n += (m != 0) & !(m == ' ' && prev == ' ');
      prev = m != 0 ? m : prev;
    }
  };
#if defined(__SSE2__)
  const __m128i space = _mm_set1_epi8(' ');
  const __m128i case_bit = _mm_set1_epi8(0x20);
  while (i + 16 <= in.size()) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in.data() + i));
    // Bytes >= 0x80 are negative as signed bytes: the sign mask finds them.
    const __m128i ws = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8(8)), _mm_cmplt_epi8(v, _mm_set1_epi8(14)));
    const __m128i control = _mm_andnot_si128(ws, _mm_cmplt_epi8(v, space));  // includes >= 0x80
    if (_mm_movemask_epi8(control) != 0) {
      scalar(i + 16);  // something to drop: byte by byte
      continue;
    }
    const __m128i upper = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('A' - 1)), _mm_cmplt_epi8(v, _mm_set1_epi8('Z' + 1)));
    __m128i m = _mm_add_epi8(v, _mm_and_si128(upper, case_bit));
    m = _mm_or_si128(_mm_andnot_si128(ws, m), _mm_and_si128(ws, space));
    const unsigned spaces = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(m, space)));
    // A space right after a space (or after the last one written) is folded away.
    const unsigned folded = spaces & ((spaces << 1) | (prev == ' ' ? 1u : 0u));
    if (folded == 0) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + n), m);
      n += 16;
#if defined(AVKEY_TEXT_NORM_SSSE3)
    } else if (pack) {
      n += Pack(m, ~folded & 0xffff, out + n);  // n <= i: the 16 bytes written fit in `out`
#endif
    } else {
      scalar(i + 16);  // a run of spaces to fold, byte by byte
      continue;
    }
    prev = (spaces >> 15) != 0 ? ' ' : 0x21;  // only whether it was a space matters
    i += 16;
  }
#endif
  scalar(in.size());
  return n;
}

}  // namespace avkey::engine
