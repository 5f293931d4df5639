#include "engine/huge_pages.h"

#include "avkey/engine/engine.h"

#include <malloc.h>
#include <unistd.h>

#include <cstdlib>

namespace avkey::engine {

void UseHugePagesForTheHeap() {
  constexpr size_t kPad = size_t{64} << 20;
  // The heap then grows by 64 MiB at a time (address space: pages are touched only when
  // used) and is not trimmed below that, so that the range advised here stays the heap's.
  if (mallopt(M_TOP_PAD, static_cast<int>(kPad)) != 1) return;
  (void)mallopt(M_TRIM_THRESHOLD, static_cast<int>(2 * kPad));
  // A block the heap's free top cannot hold (and below the mmap threshold) makes malloc
  // extend it now, by the pad.
  void* first = std::malloc(size_t{64} << 10);
  if (first == nullptr) return;
  const auto at = reinterpret_cast<uintptr_t>(first);
  void* end = ::sbrk(0);
  std::free(first);
  if (end == reinterpret_cast<void*>(-1)) return;
  // Only when the block came from the brk heap just extended (another malloc, such as a
  // sanitizer's, allocates elsewhere: then nothing is advised).
  const auto top = reinterpret_cast<uintptr_t>(end);
  if (at >= top || top - at > 2 * kPad) return;
  const auto lo = (at + huge_pages::kHugePage - 1) & ~(huge_pages::kHugePage - 1);
  const auto hi = top & ~(huge_pages::kHugePage - 1);
  if (hi > lo) (void)::madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_HUGEPAGE);
}

}  // namespace avkey::engine
