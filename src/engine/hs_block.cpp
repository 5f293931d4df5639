#include "engine/hs_block.h"

#include <algorithm>
#include <climits>

namespace avkey::engine {
namespace {

using Hit = std::pair<unsigned long long, unsigned>;  // (end, id)

// The scan in place: every match is passed on; those that end in the zone (after `zone`)
// are also remembered, so that the padded copy does not report them twice.
struct InPlace {
  match_event_handler on_match;
  void* context;
  unsigned long long zone;
  std::vector<Hit>* seen;
};

int OnInPlace(unsigned id, unsigned long long from, unsigned long long to, unsigned flags, void* p) {
  const auto* w = static_cast<const InPlace*>(p);
  if (to > w->zone) w->seen->emplace_back(to, id);
  return w->on_match(id, from, to, flags, w->context);
}

// The padded copy: passes on the matches whose end, moved by `shift`, lies in (lo, hi] and
// that the scan in place did not report (`seen`, sorted).
struct Window {
  match_event_handler on_match;
  void* context;
  unsigned long long lo, hi, shift;
  const std::vector<Hit>* seen;
};

int InWindow(unsigned id, unsigned long long from, unsigned long long to, unsigned flags, void* p) {
  const auto* w = static_cast<const Window*>(p);
  to += w->shift;
  if (to <= w->lo || to > w->hi) return 0;
  if (w->seen && std::binary_search(w->seen->begin(), w->seen->end(), Hit{to, id})) return 0;
  return w->on_match(id, from + w->shift, to, flags, w->context);
}

}  // namespace

hs_error_t BlockScan::Scan(const hs_database_t* db, hs_scratch_t* scratch, std::span<const uint8_t> data,
                           match_event_handler on_match, void* context, size_t tail) {
  const size_t n = data.size();
  if (n > UINT_MAX - kPad) return HS_INVALID;
  const size_t zone = n > kZone ? n - kZone : 0;
  size_t from = 0;
  seen_.clear();
  if (n > kTail) {
    // Everything the scan in place finds, including matches in the zone that start before
    // the copied tail (a long gap: only this scan can see their start).
    InPlace w{on_match, context, zone, &seen_};
    hs_error_t e = hs_scan(db, reinterpret_cast<const char*>(data.data()), static_cast<unsigned>(n), 0, scratch,
                           OnInPlace, &w);
    if (e != HS_SUCCESS) return e;  // an error, or the caller's callback ended the scan
    std::sort(seen_.begin(), seen_.end());
    from = n - std::clamp(tail, kZone, kTail);
  }
  // The zone again from the padded copy, for what the scan in place lost. Padding cannot
  // add a match that ends inside the data, and one that ends in the padding is dropped.
  copy_.assign(data.begin() + static_cast<std::ptrdiff_t>(from), data.end());
  copy_.resize(n - from + kPad, '\0');
  Window w{on_match, context, from == 0 ? 0 : zone, n, from, from == 0 ? nullptr : &seen_};
  return hs_scan(db, copy_.data(), static_cast<unsigned>(copy_.size()), 0, scratch, InWindow, &w);
}

}  // namespace avkey::engine
