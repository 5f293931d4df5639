#include "engine/text_norm.h"

#include <array>

#if defined(__SSE2__)
#include <emmintrin.h>
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

}  // namespace

size_t NormalizeClamText(std::span<const uint8_t> in, uint8_t* out) {
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
    if ((spaces & (spaces >> 1)) != 0 || ((spaces & 1) != 0 && prev == ' ')) {
      scalar(i + 16);  // a run of spaces to fold
      continue;
    }
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + n), m);
    n += 16;
    prev = (spaces >> 15) != 0 ? ' ' : 0x21;  // only whether it was a space matters
    i += 16;
  }
#endif
  scalar(in.size());
  return n;
}

}  // namespace avkey::engine
