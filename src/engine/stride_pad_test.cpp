// Slot databases of Database::Impl::kPadFrom..kPadTo expressions are padded with literals
// that cannot occur, so that Vectorscan searches them one byte per step (database_impl.h).
// The padding must never show: not as a detection, not as an error, cold or cached.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "avkey/engine/engine.h"
#include "engine/database_impl.h"
#include "engine/hs_block.h"

namespace avkey::engine {
namespace {

// `count` .ndb signatures of 10 printable bytes each (distinct), every third with a ?? in
// the middle; Pad.<i> is the i-th.
std::string PrintableNdb(size_t count, std::vector<std::string>* bodies) {
  std::string ndb;
  uint32_t x = 12345;
  for (size_t i = 0; i < count; ++i) {
    std::string body, hex;
    for (int j = 0; j < 10; ++j) {
      x = x * 1103515245u + 12345u;
      const char c = static_cast<char>('!' + (x >> 16) % 94);
      body += c;
      char h[3];
      std::snprintf(h, sizeof h, "%02x", static_cast<unsigned char>(c));
      hex += (i % 3 == 0 && j == 5) ? "??" : h;
    }
    bodies->push_back(body);
    ndb += "Pad." + std::to_string(i) + ":0:*:" + hex + "\n";
  }
  return ndb;
}

std::set<std::string> Found(const std::shared_ptr<const Database>& db, const std::string& data) {
  Scanner s(db);
  std::vector<Detection> out;
  EXPECT_TRUE(s.Scan(std::span(reinterpret_cast<const uint8_t*>(data.data()), data.size()), {}, &out).ok());
  std::set<std::string> names;
  for (const auto& d : out) names.insert(d.name);
  return names;
}

TEST(StrideOnePad, PaddingLiteralsAreDistinctAndCannotBeText) {
  std::set<std::string> seen;
  for (size_t k = 0; k < Database::Impl::kPadTo; ++k) {
    const std::string b = Database::Impl::StrideOnePadBytes(k);
    ASSERT_EQ(b.size(), 8u);
    for (unsigned char c : b) EXPECT_GE(c, 0x80);
    seen.insert(b);
    std::string expr;
    for (unsigned char c : b) {
      char h[5];
      std::snprintf(h, sizeof h, "\\x%02x", c);
      expr += h;
    }
    EXPECT_EQ(Database::Impl::StrideOnePad(k), expr);
  }
  EXPECT_EQ(seen.size(), Database::Impl::kPadTo);
}

TEST(StrideOnePad, PaddedDatabaseReportsOnlyRealSignatures) {
  const auto dir = std::filesystem::temp_directory_path() / ("avkey-pad-test-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::vector<std::string> bodies;
  const std::string ndb = PrintableNdb(1000, &bodies);  // >= kPadFrom: padded
  static_assert(Database::Impl::kPadFrom <= 1000 && 1000 < Database::Impl::kPadTo);
  // Two real signatures, and the first 200 padding literals, each where a match would end
  // at the very end of the layer once too.
  std::string data = "head " + bodies[17] + " middle " + bodies[999] + " ";
  for (size_t k = 0; k < 200; ++k) data += Database::Impl::StrideOnePadBytes(k) + " ";
  data += Database::Impl::StrideOnePadBytes(5);
  const std::set<std::string> expected = {"Pad.17.UNOFFICIAL", "Pad.999.UNOFFICIAL"};
  for (const char* state : {"miss", "hit"}) {
    DatabaseBuilder b;
    b.SetCacheDirectory(dir);
    ASSERT_TRUE(b.AddSource("pad.ndb", ndb, false).ok());
    auto db = b.Build();
    ASSERT_TRUE(db.has_value()) << db.error();
    EXPECT_EQ((*db)->report().cache_state, state);
    EXPECT_EQ((*db)->report().body, 1000u);
    EXPECT_EQ(Found(*db, data), expected) << state;
    // Every signature is still found on its own (the padding displaces nothing).
    for (size_t i : {0u, 1u, 2u, 3u, 500u, 998u}) {
      EXPECT_EQ(Found(*db, "x " + bodies[i] + " y"), (std::set<std::string>{"Pad." + std::to_string(i) + ".UNOFFICIAL"}))
          << i << " " << state;
    }
  }
  std::filesystem::remove_all(dir);
}

// BlockScan copies a slot's longest match plus its zone of each large layer's end
// (database_impl.h hs_tail): the span of target 0's patterns counts in every slot, a
// target's own only in its slot, the normalised-text slot has its own, and * copies kTail.
TEST(BlockScanTail, EachSlotCopiesItsLongestMatchAndTheZone) {
  DatabaseBuilder b;
  ASSERT_TRUE(b.AddSource("t.ndb",
                          "Any.Short:0:*:61626364\n"           // 4 bytes, normalisable
                          "Any.Span:0:*:00414243{100-180}4445\n" // 186 bytes, needs a NUL
                          "Pe.Long:1:*:4d5a{300}4d5a\n"         // 304 bytes
                          "Elf.Star:6:*:7f454c46*4142\n"        // unbounded
                          "Txt.Seven:7:*:7365(76|6e)656e\n",     // 5 bytes, normalisable
                          false)
                  .ok());
  auto db = b.Build();
  ASSERT_TRUE(db.has_value()) << db.error();
  const Database::Impl& d = (*db)->impl();
  const uint32_t zone = static_cast<uint32_t>(BlockScan::kZone);
  EXPECT_EQ(d.hs_tail[0], 186 + zone);
  EXPECT_EQ(d.hs_tail[1], 304 + zone);
  EXPECT_EQ(d.hs_tail[6], BlockScan::kTail);
  EXPECT_EQ(d.hs_tail[7], 186 + zone);
  EXPECT_EQ(d.hs_tail[Database::Impl::kNormalizedSlot], 5 + zone);
}

}  // namespace
}  // namespace avkey::engine
