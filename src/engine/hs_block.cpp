#include "engine/hs_block.h"

#include <algorithm>
#include <climits>

namespace avkey::engine {
namespace {

// Passes on the matches whose end, moved by `shift`, lies in (lo, hi].
struct Window {
  match_event_handler on_match;
  void* context;
  unsigned long long lo, hi, shift;
};

int InWindow(unsigned id, unsigned long long from, unsigned long long to, unsigned flags, void* p) {
  const auto* w = static_cast<const Window*>(p);
  to += w->shift;
  if (to <= w->lo || to > w->hi) return 0;
  return w->on_match(id, from + w->shift, to, flags, w->context);
}

}  // namespace

hs_error_t BlockScan::Scan(const hs_database_t* db, hs_scratch_t* scratch, std::span<const uint8_t> data,
                           match_event_handler on_match, void* context) {
  const size_t n = data.size();
  if (n > UINT_MAX - kPad) return HS_INVALID;
  const size_t zone = n > kZone ? n - kZone : 0;
  size_t from = 0;
  if (n > kTail) {
    // Everything that ends before the zone, in place.
    Window w{on_match, context, 0, zone, 0};
    hs_error_t e = hs_scan(db, reinterpret_cast<const char*>(data.data()), static_cast<unsigned>(n), 0, scratch,
                           InWindow, &w);
    if (e != HS_SUCCESS) return e;  // an error, or the caller's callback ended the scan
    from = n - kTail;
  }
  // The rest from the padded copy. Padding cannot add a match that ends inside the data,
  // and one that ends in the padding is dropped.
  copy_.assign(data.begin() + static_cast<std::ptrdiff_t>(from), data.end());
  copy_.resize(n - from + kPad, '\0');
  Window w{on_match, context, from == 0 ? 0 : zone, n, from};
  return hs_scan(db, copy_.data(), static_cast<unsigned>(copy_.size()), 0, scratch, InWindow, &w);
}

}  // namespace avkey::engine
