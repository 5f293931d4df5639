// Probe for a Vectorscan defect seen with Debian 12's libvectorscan 5.4.9 on this project's
// machines (AMD EPYC, AVX-512; also with the portable, featureless platform): in block mode,
// with two literals in one database, a literal match that ends within about 32 bytes of the
// end of the scanned block is missed for some buffer addresses (about 1% of the placements
// tried here; never when the match ends further from the end). avkey's body matching hands
// every layer to Vectorscan: src/engine/hs_block.h works around it (found by a HandlerType
// unit test that failed only under ASan, whose allocator moves buffers). Re-run this against
// a newer Vectorscan before removing the workaround.
//   g++ -O1 -o /tmp/vectorscan_tail_probe tools/vectorscan_tail_probe.cpp -lhs
//   /tmp/vectorscan_tail_probe   -> "tot=738777 miss=6963" and where the misses are
// Stream mode (second part of the output) loses matches the same way, at the end of the
// stream and within about 11 bytes of the end of a chunk handed to hs_scan_stream(), for some
// chunk addresses: streaming a large file through Vectorscan in pieces, to hold less than the
// whole file in memory, would lose matches at the piece boundaries with this version.
//   -> "stream: chunk=4096 off=17 tot=644 miss=40 at d=-11 ... -2" (ends 2-11 bytes before a
//      chunk boundary); at other addresses d=78..80 (20-22 bytes before the stream end)
// Not built by CMake: a probe to re-run against a newer Vectorscan, not a test.
#include <hs/hs.h>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
static int cb(unsigned, unsigned long long, unsigned long long, unsigned, void* ctx) { ++*static_cast<int*>(ctx); return 0; }
int main() {
  const char* exprs[] = {"HDLSAME", "BODYMARK"};
  unsigned flags[] = {HS_FLAG_DOTALL, HS_FLAG_DOTALL};
  unsigned ids[] = {0, 1};
  hs_database_t* db = nullptr; hs_compile_error_t* err = nullptr;
  hs_compile_multi(exprs, flags, ids, 2, HS_MODE_BLOCK, nullptr, &db, &err);
  hs_scratch_t* s = nullptr; hs_alloc_scratch(db, &s);
  char* big = static_cast<char*>(aligned_alloc(4096, 1 << 16));
  memset(big, 'x', 1 << 16);
  std::map<size_t, long> by_len_bucket, by_tail;
  long tot = 0, miss = 0;
  for (size_t len = 8; len < 2000; len += 7)
    for (size_t pos = 0; pos + 8 <= len; pos += 5)
      for (size_t off = 0; off < 64; off += 5) {
        char* p = big + 1024 + off;
        memcpy(p + pos, "BODYMARK", 8);
        int n = 0;
        hs_scan(db, p, len, 0, s, cb, &n);
        memset(p + pos, 'x', 8);
        ++tot;
        if (!n) { ++miss; by_len_bucket[len / 100 * 100]++; by_tail[std::min<size_t>(len - pos - 8, 64) / 8 * 8]++; }
      }
  printf("tot=%ld miss=%ld\nby len: ", tot, miss);
  for (auto& [k, v] : by_len_bucket) printf("%zu:%ld ", k, v);
  printf("\nby bytes after the literal: ");
  for (auto& [k, v] : by_tail) printf("%zu:%ld ", k, v);
  printf("\n");

  // Stream mode: the literal planted so that its match ends `d` bytes from a chunk boundary
  // (the last chunk is 100 bytes: d = 78..80 is within 22 bytes of the end of the stream).
  hs_database_t* sdb = nullptr;
  hs_compile_multi(exprs, flags, ids, 2, HS_MODE_STREAM, nullptr, &sdb, &err);
  hs_scratch_t* ss = nullptr;
  hs_alloc_scratch(sdb, &ss);
  for (size_t chunk : {128ul, 4096ul, 65536ul})
    for (size_t base_off : {0ul, 1ul, 17ul, 64ul}) {
      char* p = static_cast<char*>(aligned_alloc(4096, 4 * chunk + 4096));
      memset(p, 'x', 4 * chunk + 4096);
      char* q = p + base_off;
      const size_t len = 4 * chunk + 100;
      long stot = 0, smiss = 0;
      std::map<long, long> at;
      for (size_t b = chunk; b < len; b += chunk)
        for (long d = -80; d <= 80; ++d) {
          const long pos = static_cast<long>(b) + d - 8;
          if (pos < 0 || pos + 8 > static_cast<long>(len)) continue;
          memcpy(q + pos, "BODYMARK", 8);
          int n = 0;
          hs_stream_t* st = nullptr;
          hs_open_stream(sdb, 0, &st);
          for (size_t a = 0; a < len; a += chunk)
            hs_scan_stream(st, q + a, static_cast<unsigned>(std::min(chunk, len - a)), 0, ss, cb, &n);
          hs_close_stream(st, ss, cb, &n);
          memset(q + pos, 'x', 8);
          ++stot;
          if (n != 1) ++smiss, ++at[d];
        }
      printf("stream: chunk=%zu off=%zu tot=%ld miss=%ld at d=", chunk, base_off, stot, smiss);
      for (auto& [d, c] : at) printf("%ld ", d);
      printf("\n");
      free(p);
    }
}
