#include "engine/huge_pages.h"

#include <gtest/gtest.h>

#include <cstring>

namespace avkey::engine {
namespace {

TEST(HugePagesTest, LargeAllocationsAreAlignedToTheHugePage) {
  HugeVector<uint64_t> v;
  v.reserve((3u << 20) / sizeof(uint64_t));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(v.data()) % huge_pages::kHugePage, 0u);
  HugeVector<uint64_t> small(16, 7);  // from the ordinary heap
  EXPECT_EQ(small[15], 7u);
}

TEST(HugePagesTest, ReleaseSlackKeepsContentsAndCapacity) {
  HugeVector<uint32_t> v;
  v.reserve((5u << 20) / sizeof(uint32_t));
  const size_t cap = v.capacity();
  for (uint32_t i = 0; i < 300'000; ++i) v.push_back(i * 2654435761u);
  // Dirty the slack the way a vector's own growth would not: it must come back zeroed,
  // and the contents must not move.
  std::memset(v.data() + v.size(), 0xAB, (cap - v.size()) * sizeof(uint32_t));
  ReleaseSlack(v);
  EXPECT_EQ(v.capacity(), cap);
  for (uint32_t i = 0; i < 300'000; ++i) ASSERT_EQ(v[i], i * 2654435761u) << i;
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE)) / sizeof(uint32_t);
  const size_t first_released = (v.size() + 1 + page - 1) / page * page;
  EXPECT_EQ(v.data()[first_released], 0u);       // given back: zero-filled on touch
  EXPECT_EQ(v.data()[cap - 1], 0u);
  EXPECT_EQ(v.data()[v.size()], 0xABABABABu);     // on the last used page: kept
  for (uint32_t i = 0; i < 1000; ++i) v.push_back(i);  // the capacity is still usable
  EXPECT_EQ(v.back(), 999u);
  EXPECT_EQ(v.capacity(), cap);
}

TEST(HugePagesTest, ReleaseSlackKeepsAStringsTerminator) {
  for (size_t used : {size_t{0}, size_t{4095}, size_t{4096}, size_t{1} << 20, (size_t{2} << 20) - 1}) {
    HugeString s;
    s.reserve(3u << 20);
    s.assign(used, 'x');
    ReleaseSlack(s);
    EXPECT_EQ(s.size(), used);
    EXPECT_EQ(std::strlen(s.c_str()), used);
    EXPECT_EQ(s.find_first_not_of('x'), std::string::npos);
  }
}

TEST(HugePagesTest, ReleaseSlackLeavesHeapAllocationsAlone) {
  HugeVector<int> v(100, 1);
  v.reserve(1000);
  ReleaseSlack(v);  // nothing to do: must not touch the heap's pages
  EXPECT_EQ(v[99], 1);
}

}  // namespace
}  // namespace avkey::engine
