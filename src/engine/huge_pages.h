// An allocator for the large tables built at load time (hash entries, signature names),
// backed by transparent huge pages where the kernel offers them. Internal to the engine.
//
// Why: start-up is mostly first-touched memory. On the VMs avkey is measured on a fresh
// 4 KiB page costs ~10-14 us to fault in, and the 100k-hash bench set touches ~2,800 of
// them (perf: the MD5 entry table, the names, the signature table, the read piece).
// 8 MiB touched page by page took 25-34 ms there; the same in 2 MiB pages 0.5-13 ms
// (a throw-away program: one write per 4 KiB into an aligned mapping, with and without
// MADV_HUGEPAGE, three runs each). With THP "never", or no huge page free, the
// kernel falls back to ordinary pages: the same memory, only slower to fault in.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <string>
#include <vector>

namespace avkey::engine {

namespace huge_pages {
inline constexpr size_t kHugePage = size_t{2} << 20;
// Smaller requests go to the ordinary heap: rounding them up to 2 MiB would cost more
// memory than their faults cost time.
inline constexpr size_t kMinBytes = size_t{1} << 20;

inline size_t RoundUp(size_t n) { return (n + kHugePage - 1) / kHugePage * kHugePage; }

// A 2 MiB-aligned anonymous mapping of RoundUp(bytes), marked MADV_HUGEPAGE.
inline void* Map(size_t bytes) {
  const size_t size = RoundUp(bytes);
  if (size < bytes) throw std::bad_alloc();
  void* raw = ::mmap(nullptr, size + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  const auto base = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (base + kHugePage - 1) & ~(uintptr_t{kHugePage} - 1);
  // Give back the slack on both sides of the aligned range.
  if (aligned > base) ::munmap(raw, aligned - base);
  const size_t tail = base + size + kHugePage - (aligned + size);
  if (tail > 0) ::munmap(reinterpret_cast<void*>(aligned + size), tail);
  void* p = reinterpret_cast<void*>(aligned);
  (void)::madvise(p, size, MADV_HUGEPAGE);  // a hint: EINVAL without THP support is fine
  return p;
}
inline void Unmap(void* p, size_t bytes) { ::munmap(p, RoundUp(bytes)); }
}  // namespace huge_pages

template <typename T>
struct HugePageAllocator {
  using value_type = T;
  HugePageAllocator() noexcept = default;
  template <typename U>
  HugePageAllocator(const HugePageAllocator<U>&) noexcept {}

  T* allocate(size_t n) {
    if (n > SIZE_MAX / sizeof(T)) throw std::bad_array_new_length();
    if (n * sizeof(T) < huge_pages::kMinBytes) return std::allocator<T>().allocate(n);
    return static_cast<T*>(huge_pages::Map(n * sizeof(T)));
  }
  void deallocate(T* p, size_t n) noexcept {
    if (n * sizeof(T) < huge_pages::kMinBytes) return std::allocator<T>().deallocate(p, n);
    huge_pages::Unmap(p, n * sizeof(T));
  }
  template <typename U>
  bool operator==(const HugePageAllocator<U>&) const noexcept {
    return true;
  }
};

// Gives the kernel back the pages of `c`'s allocation past its contents (splitting a huge
// page where needed), so that capacity reserved on an estimate costs no memory once a
// table is complete. The capacity stays: pages touched again come back zero-filled.
template <typename Container>
void ReleaseSlack(Container& c) {
  using T = typename Container::value_type;
  if (c.capacity() * sizeof(T) < huge_pages::kMinBytes) return;  // then it came from the heap
  static const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto base = reinterpret_cast<uintptr_t>(c.data());
  // +1: a string's terminator, which follows its contents.
  const uintptr_t used = (base + (c.size() + 1) * sizeof(T) + page - 1) & ~(page - 1);
  const uintptr_t end = base + huge_pages::RoundUp(c.capacity() * sizeof(T));
  if (end > used) (void)::madvise(reinterpret_cast<void*>(used), end - used, MADV_DONTNEED);
}

template <typename T>
using HugeVector = std::vector<T, HugePageAllocator<T>>;
using HugeString = std::basic_string<char, std::char_traits<char>, HugePageAllocator<char>>;

}  // namespace avkey::engine
