#include "scan/ole2.h"

#include <gtest/gtest.h>

#include <string>

#include "scan/extract_test_util.h"

namespace avkey::scan {
namespace {

constexpr uint32_t kEnd = 0xfffffffe, kFree = 0xffffffff, kFatSect = 0xfffffffd;

void Put16(std::string& s, size_t at, uint16_t v) {
  s[at] = static_cast<char>(v);
  s[at + 1] = static_cast<char>(v >> 8);
}
void Put32(std::string& s, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) s[at + i] = static_cast<char>(v >> (8 * i));
}
std::string Le32(uint32_t v) {
  std::string s(4, '\0');
  Put32(s, 0, v);
  return s;
}

std::string Native() {
  std::string body = std::string("\x02\x00", 2) + "evil.exe" + '\0' + "C:\\evil.exe" + '\0' + Le32(0x00030000) +
                     Le32(5) + std::string("C:\\t\0", 5) + Le32(7) + "payload";
  return Le32(static_cast<uint32_t>(body.size())) + body;
}

struct Entry {
  std::string name;
  uint8_t type;
  uint32_t left = kFree, right = kFree, child = kFree, start = 0, size = 0;
};

// Sectors: 0 FAT, 1 directory, 2 miniFAT, 3 mini stream, 4-5 "Big" (600 bytes).
std::string Build(std::vector<uint32_t> fat = {}, std::vector<Entry> entries = {}) {
  std::string f(512 * 7, '\0');
  const uint8_t magic[8] = {0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1};
  for (int i = 0; i < 8; ++i) f[i] = static_cast<char>(magic[i]);
  Put16(f, 0x1a, 3);
  Put16(f, 0x1c, 0xfffe);
  Put16(f, 0x1e, 9);
  Put16(f, 0x20, 6);
  Put32(f, 0x2c, 1);
  Put32(f, 0x30, 1);
  Put32(f, 0x38, 512);  // mini stream cutoff: "Big" (600 bytes) uses the FAT
  Put32(f, 0x3c, 2);
  Put32(f, 0x40, 1);
  Put32(f, 0x44, kEnd);
  for (int i = 0; i < 109; ++i) Put32(f, 0x4c + 4 * i, i == 0 ? 0 : kFree);
  if (fat.empty()) fat = {kFatSect, kEnd, kEnd, kEnd, 5, kEnd};
  for (size_t i = 0; i < 128; ++i) Put32(f, 512 + 4 * i, i < fat.size() ? fat[i] : kFree);
  std::string native = Native();
  if (entries.empty()) {
    entries = {{"Root Entry", 5, kFree, kFree, 1, 3, 64},
               {"Storage", 1, kFree, 3, 2, 0, 0},
               {"\x01Ole10Native", 2, kFree, kFree, kFree, 0, static_cast<uint32_t>(native.size())},
               {"Big", 2, kFree, kFree, kFree, 4, 600}};
  }
  for (size_t i = 0; i < entries.size() && i < 4; ++i) {
    size_t at = 1024 + 128 * i;
    const Entry& e = entries[i];
    for (size_t k = 0; k < e.name.size(); ++k) Put16(f, at + 2 * k, static_cast<uint8_t>(e.name[k]));
    Put16(f, at + 0x40, static_cast<uint16_t>(2 * (e.name.size() + 1)));
    f[at + 0x42] = static_cast<char>(e.type);
    Put32(f, at + 0x44, e.left);
    Put32(f, at + 0x48, e.right);
    Put32(f, at + 0x4c, e.child);
    Put32(f, at + 0x74, e.start);
    Put32(f, at + 0x78, e.size);
  }
  for (size_t i = 0; i < 128; ++i) Put32(f, 1536 + 4 * i, i == 0 ? kEnd : kFree);  // miniFAT
  f.replace(2048, native.size(), native);                                           // mini sector 0
  for (int i = 0; i < 600; ++i) f[2560 + i] = static_cast<char>('a' + i % 26);
  return f;
}

std::string Names(const RecordingSink& sink) {
  std::string n;
  for (const auto& c : sink.children) n += c.name + ";";
  return n;
}

TEST(Ole2, StreamsWithPathsAndOle10NativePayload) {
  std::string f = Build();
  ASSERT_TRUE(LooksLikeOle2(AsBytes(f)));
  RecordingSink sink;
  ExtractOle2(AsBytes(f), sink);
  EXPECT_EQ(Names(sink), "Storage/\x01Ole10Native;evil.exe;Big;");
  ASSERT_EQ(sink.children.size(), 3u);
  EXPECT_EQ(sink.children[0].data, Native());
  EXPECT_EQ(sink.children[1].data, "payload");
  EXPECT_EQ(sink.children[2].data.size(), 600u);
  EXPECT_EQ(sink.children[2].data.substr(510, 4), "qrst");
  EXPECT_TRUE(sink.problems.empty());
}

TEST(Ole2, FatLoopIsCorruptNotEndless) {
  // Big's chain 4 -> 5 -> 4 ... and a size larger than the file.
  std::vector<Entry> entries = {{"Root Entry", 5, kFree, kFree, 3, 3, 64},
                                {"x", 2, kFree, kFree, kFree, 0, 10},
                                {"y", 2, kFree, kFree, kFree, 0, 0},
                                {"Big", 2, kFree, kFree, kFree, 4, 1u << 30}};
  RecordingSink sink(/*room=*/2u << 30);
  ExtractOle2(AsBytes(Build({kFatSect, kEnd, kEnd, kEnd, 5, 4}, entries)), sink);
  EXPECT_TRUE(sink.HasProblem("corrupt-archive"));
  ASSERT_FALSE(sink.children.empty());
  EXPECT_LE(sink.children.back().data.size(), 7u * 512);
}

TEST(Ole2, DirectoryCycleAndHugeSizes) {
  std::vector<Entry> entries = {{"Root Entry", 5, kFree, kFree, 1, 3, 64},
                                {"S", 1, 2, 3, 1, 0, 0},  // its own child
                                {"a", 2, 1, 3, kFree, 4, 600},
                                {"b", 2, 2, 1, kFree, 4, 600}};
  RecordingSink sink;
  ExtractOle2(AsBytes(Build({}, entries)), sink);
  EXPECT_EQ(sink.children.size(), 2u);
  RecordingSink small(/*room=*/100);
  ExtractOle2(AsBytes(Build()), small);
  EXPECT_EQ(small.overflows, 1);
}

TEST(Ole2, TruncatedAndDamagedHeadersNeverCrash) {
  std::string f = Build();
  for (size_t n = 0; n <= f.size(); n += 37) {
    RecordingSink sink;
    ExtractOle2(AsBytes(f.substr(0, n)), sink);
  }
  std::string bad = f;
  Put16(bad, 0x1e, 20);
  RecordingSink sink;
  ExtractOle2(AsBytes(bad), sink);
  EXPECT_TRUE(sink.HasProblem("corrupt-archive"));
  // Every header field set to 0xff bytes.
  for (size_t at = 0x1a; at < 0x4c; ++at) {
    std::string g = f;
    g[at] = '\xff';
    RecordingSink s;
    ExtractOle2(AsBytes(g), s);
  }
}

TEST(Ole10Native, MalformedPackages) {
  std::span<const uint8_t> payload;
  std::string name;
  std::string n = Native();
  EXPECT_TRUE(ParseOle10Native(AsBytes(n), true, &payload, &name));
  EXPECT_EQ(name, "evil.exe");
  for (size_t k = 0; k < n.size(); ++k) {
    EXPECT_FALSE(ParseOle10Native(AsBytes(n.substr(0, k)), true, &payload, &name)) << k;
  }
  std::string huge = n;
  Put32(huge, n.size() - 11, 0xffffffff);
  EXPECT_FALSE(ParseOle10Native(AsBytes(huge), true, &payload, &name));
}

}  // namespace
}  // namespace avkey::scan
