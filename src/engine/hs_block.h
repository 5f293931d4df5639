// Vectorscan block-mode scanning that does not lose matches at the end of the block.
// Internal to the engine.
//
// Debian 12's libvectorscan 5.4.9 misses some matches that end within about 32 bytes of
// the end of the scanned block, depending on the buffer's address (about 1% of the
// placements tried; never further from the end; tools/vectorscan_tail_probe.cpp). A match
// at the very end of a file or member is common enough (trailers, appended payloads) that
// avkey cannot leave this to chance. BlockScan scans in place, then scans a copy of the
// last kTail bytes with kPad bytes of padding after them, where the real end is no longer
// the block's end, for the matches that end in the last kZone bytes and that the scan in
// place did not report. A layer of at most kTail bytes is scanned only as a padded copy.
#pragma once

#include <hs/hs.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace avkey::engine {

// `bytes` as a Vectorscan regex matching exactly them ("\xNN" each).
inline std::string HsLiteral(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string e;
  e.reserve(bytes.size() * 4);
  for (unsigned char ch : bytes) e += {'\\', 'x', kHex[ch >> 4], kHex[ch & 15]};
  return e;
}

class BlockScan {
 public:
  static constexpr size_t kZone = 64;         // twice the widest miss seen
  static constexpr size_t kTail = 4096;       // context copied before the zone
  static constexpr size_t kPad = 64;
  // hs_scan() over `data`: on_match sees offsets into `data`, each (id, end) once. The
  // copy holds the last `tail` bytes (kZone..kTail; the database's longest match + kZone
  // is enough): a match that ends in the zone but starts before the copy (a pattern with a
  // long gap) is found only if the scan in place finds it.
  // HS_FLAG_SINGLEMATCH patterns may be reported twice (from each scan, different ends).
  hs_error_t Scan(const hs_database_t* db, hs_scratch_t* scratch, std::span<const uint8_t> data,
                  match_event_handler on_match, void* context, size_t tail = kTail);

 private:
  std::vector<char> copy_;  // reused: no allocation per layer after the first
  std::vector<std::pair<unsigned long long, unsigned>> seen_;  // (end, id) in the zone, in place
};

}  // namespace avkey::engine
