// Measures the engine's promise that scanning allocates nothing per file after
// warm-up (for layers that are neither executables nor detections): global operator
// new is counted in this test binary.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <random>
#include <string>

#include "avkey/engine/engine.h"

namespace {
std::atomic<uint64_t> g_allocs{0};
}  // namespace

void* operator new(std::size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
// Every replaceable form that the standard library may pair with operator delete is
// replaced, so that allocation and release always go through the same malloc/free
// (otherwise ASan rightly reports a new/free mismatch, e.g. in std::stable_sort).
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n ? n : 1);
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace avkey::engine {
namespace {

TEST(ScannerAllocations, NoneAfterWarmUpOnCleanLayers) {
  DatabaseBuilder b;
  ASSERT_TRUE(AddBuiltinSignatures(&b).ok());
  ASSERT_TRUE(b.AddSource("t.ndb", "A:0:*:4142??4344*45464748\nB:0:*:6162636465(66|67)\nC:7:*:74657874\n", false).ok());
  ASSERT_TRUE(b.AddSource("t.ldb", "L;Engine:81-255,Target:0;0&1;41424344;45464748::i\n", false).ok());
  ASSERT_TRUE(b.AddSource("t.hdb", "e8dc4081b13434b45189a720b77b6818:8:H\n", false).ok());
  auto db = b.Build();
  ASSERT_TRUE(db.has_value());
  Scanner s(*db);
  std::mt19937 rng(1);
  std::vector<std::vector<uint8_t>> layers;
  for (int i = 0; i < 50; ++i) {
    std::vector<uint8_t> v(1000 + rng() % 50000);
    for (auto& c : v) c = static_cast<uint8_t>(rng());
    if (i % 2) std::fill(v.begin(), v.end(), 'a' + i % 20);  // text layers take the normalised pass too
    v[10] = 'A'; v[11] = 'B'; v[12] = 'x';  // partial hits: verification runs and fails
    layers.push_back(std::move(v));
  }
  // HTML layers take the normaliser and its buffer passes instead (typed HTML at once, from
  // a late marker, as UTF-16LE); the script goes through the JavaScript normaliser, decoders
  // and all.
  for (int i = 0; i < 10; ++i) {
    std::string page =
        "<html><head><script language=\"javascript\">var a = '<b>'; function f(x) { return x.y + "
        "unescape(\"%41%u0042\") + \"s\" + 'LongStringLiteralOfMoreThanSixteenBytes'; } eval(\"var q = f(1);\"); "
        "dF(\"hoodu+4,;2\");</script><style>p {}</style>";
    for (int k = 0; k < 200 * (i + 1); ++k)
      page += "<p class=x title='T&amp;t'>Some &lt;text&gt; &#233;\xc3\xa9 <a href=\"http://Example/\">l</a><!-- c --> ";
    if (i % 3 == 1) page.insert(0, std::string(2000, 'y') + "\n");
    std::vector<uint8_t> v(page.begin(), page.end());
    if (i % 3 == 2) {
      std::vector<uint8_t> le;
      for (uint8_t c : v) le.insert(le.end(), {c, 0});
      v = std::move(le);
    }
    layers.push_back(std::move(v));
  }
  std::vector<Detection> out;
  for (const auto& l : layers) ASSERT_TRUE(s.Scan(l, {}, &out).ok());  // warm-up
  const uint64_t before = g_allocs.load();
  for (int round = 0; round < 3; ++round)
    for (const auto& l : layers) ASSERT_TRUE(s.Scan(l, {}, &out).ok());
  EXPECT_EQ(g_allocs.load() - before, 0u) << "heap allocations while scanning 180 clean layers";
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace avkey::engine
