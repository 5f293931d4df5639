// libFuzzer target for the engine's scan path: one Database built once from a fixed set
// of .ndb/.ldb/.hdb/.hsb/.mdb signatures plus the builtin ones (EICAR .ndb, clam.exe .hsb,
// YARA rules), then every input is scanned as one layer. This reaches file typing and
// PE/ELF parsing (target types, EP/Sx/SE/SL offsets), Vectorscan anchors and exact
// verification of wildcards, alternatives, ranges and boundaries, EOF-relative offsets,
// .ldb logic/counts, PCRE with triggers and offsets, byte-compare, and hash lookups.
//
// The signatures are fixed so that a crash reproduces from the input alone; seeds from
// fuzz/make_seeds.py contain each signature's bytes so the fuzzer starts from hits.
// Any signature of the set that stops loading is printed once at start-up: the set is
// meant to load cleanly, and a silent drop would quietly lose coverage.
//   fuzz/run.sh 120 scanner_fuzz
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <span>
#include <vector>

#include "avkey/engine/engine.h"

namespace {

using avkey::engine::Database;

constexpr char kNdb[] =
    // plain, wildcards, nibbles, ranges, star, alternatives, boundaries
    "Fz.Ndb.Plain:0:*:46555a5a504c41494e\n"                           // FUZZPLAIN
    "Fz.Ndb.Wild:0:*:46575a??{2}4a4b*4c4d4e\n"
    "Fz.Ndb.Nibble:0:*:464e4?4b4c[1-3]4f50\n"
    "Fz.Ndb.Range:0:*:46524e47{10-300}52414e47\n"
    "Fz.Ndb.AtLeast:0:*:464c4541{3-}4c454153\n"
    "Fz.Ndb.UpTo:0:*:46555054{-4}4f55505f\n"
    "Fz.Ndb.Alt:0:*:46414c54(6162|6364|65)7a7a\n"
    "Fz.Ndb.NotAlt:0:*:464e414c!(61|62)7878\n"
    "Fz.Ndb.AltGeneric:0:*:4647(61|6263|64{2}65)7a7a\n"
    "Fz.Ndb.Bound:0:*:(B)46424e44(B)\n"
    "Fz.Ndb.Line:0:*:(L)464c494e45(L)\n"
    "Fz.Ndb.NonAlnum:0:*:46574348(W)\n"
    "Fz.Ndb.Star2:0:*:465331*465332*465333\n"
    // offsets: absolute, absolute with shift, EOF-relative
    "Fz.Ndb.Abs0:0:0:465a4142\n"
    "Fz.Ndb.AbsShift:0:16,32:465a5348\n"
    "Fz.Ndb.Eof:0:EOF-8:465a454f\n"
    "Fz.Ndb.EofShift:0:EOF-64,32:465a4553\n"
    // executables: entry point, sections, last section
    "Fz.Ndb.PeEp:1:EP+0:5589e5??83ec\n"
    "Fz.Ndb.PeEpShift:1:EP-8,16:909090??c3\n"
    "Fz.Ndb.PeS0:1:S0+0,64:465a5330\n"
    "Fz.Ndb.PeS1:1:S1+16:465a5331\n"
    "Fz.Ndb.PeSE0:1:SE0:465a5345\n"
    "Fz.Ndb.PeSL:1:SL+0,128:465a534c\n"
    "Fz.Ndb.PeAny:1:*:465a50452d414e59\n"
    "Fz.Ndb.ElfEp:6:EP+0,8:31ed4989d1\n"
    "Fz.Ndb.ElfAny:6:*:465a454c46\n"
    "Fz.Ndb.MachO:9:*:465a4d414348\n"
    "Fz.Ndb.Text:7:*:66757a7a2074657874\n"
    "Fz.Ndb.Flevel:0:*:465a464c4556:51:255\n";

constexpr char kLdb[] =
    "Fz.Ldb.And;Target:0;0&1;465a4c41;465a4c42\n"
    "Fz.Ldb.Or;Target:0;(0|1)&2=0;465a4f31;465a4f32;465a4f33\n"
    "Fz.Ldb.Count;Target:0;0>2|1=2;465a4331;465a4332\n"
    "Fz.Ldb.Block;Target:0;(0|1|2)>3,2;465a4261;465a4262;465a4263\n"
    "Fz.Ldb.Offsets;Target:0;0&1;10:465a4f61;EOF-4:465a4f62\n"
    "Fz.Ldb.OffsetShift;Target:0;0;4,60:465a4f63??465a\n"
    "Fz.Ldb.Pcre;Engine:81-255,Target:0;0&1;465a5041;0/pc[0-9]+re/\n"
    "Fz.Ldb.PcreFlags;Engine:81-255,Target:0;0&1;465a5042;0/^(a|b)+c$/ims\n"
    "Fz.Ldb.PcreAnchored;Engine:81-255,Target:0;0&1;465a5043;9:0/a+b*c/re\n"
    "Fz.Ldb.PcreGlobal;Engine:81-255,Target:0;0&1>1;465a5044;0/glob[0-9]/g\n"
    "Fz.Ldb.PcreEof;Engine:81-255,Target:0;0&1;465a5045;EOF-16:0/(x+x+)+y/E\n"
    "Fz.Ldb.PcreTrigger;Engine:81-255,Target:0;(0|1)&2;465a5046;465a5047;0|1/tr[i1]g/A\n"
    "Fz.Ldb.BcRaw;Engine:81-255,Target:0;0&1;465a4231;0(>>4#ib2#=0x0102)\n"
    "Fz.Ldb.BcRawLe;Engine:81-255,Target:0;0&1;465a4232;0(>>4#il4#>305419896)\n"
    "Fz.Ldb.BcDec;Engine:81-255,Target:0;0&1;465a4233;0(>>4#d3#>99)\n"
    "Fz.Ldb.BcHex;Engine:81-255,Target:0;0&1;465a4234;0(>>4#hle4#=0x2b1a)\n"
    "Fz.Ldb.BcAuto;Engine:81-255,Target:0;0&1;465a4235;0(>>4#abe4#=0x10)\n"
    "Fz.Ldb.BcBack;Engine:81-255,Target:0;0&1;465a4236;0(<<2#ib2#>0x0300,<0x0400)\n"
    "Fz.Ldb.Mods;Engine:81-255,Target:0;0|1|2|3;465a4e6f43617365::i;465a57696465::wa;465a46776f7264::f;"
    "465a416c6c::iwaf\n"
    "Fz.Ldb.FileSize;Engine:51-255,Target:0,FileSize:16-4096;0;465a4653\n"
    "Fz.Ldb.Pe;Engine:51-255,Target:1,NumberOfSections:1-8,EntryPoint:0-100000;0&1;EP+0:5589;"
    "S0+0:465a\n"
    "Fz.Ldb.Elf;Target:6;0&1;0:7f454c46;465a4c45\n";

constexpr char kHdb[] =
    "e2fa9c30005a50b00eec7e712c8e6af4:19:Fz.Hdb.Md5\n"              // "AVKEY-FUZZ-HASH-MD5"
    "dce82ae4942330e46e38e3b0e0878d40b7fddf39:20:Fz.Hdb.Sha1\n"     // "AVKEY-FUZZ-HASH-SHA1"
    "47a6e7a2cd7d15ac250bba36e98bfca1:*:Fz.Hdb.AnySize:73\n";       // "AVKEY-FUZZ-HASH-SHA1"

constexpr char kHsb[] =
    "f5e72ea9cfb0ac7c3b01742b8db16522c6715401814812f1270d08af96be9549:22:Fz.Hsb.Sha256\n";

// A PE section of 512 zero bytes.
constexpr char kMdb[] = "512:bf619eac0cdf3f68d496ea9344137e8b:Fz.Mdb.ZeroSection\n";

std::shared_ptr<const Database> BuildDatabase() {
  avkey::engine::DatabaseBuilder b;
  if (!avkey::engine::AddBuiltinSignatures(&b).ok()) __builtin_trap();
  for (auto [name, text] : {std::pair{"fuzz.ndb", kNdb}, std::pair{"fuzz.ldb", kLdb},
                            std::pair{"fuzz.hdb", kHdb}, std::pair{"fuzz.hsb", kHsb},
                            std::pair{"fuzz.mdb", kMdb}}) {
    if (!b.AddSource(name, text, false).ok()) __builtin_trap();
  }
  auto db = b.Build();
  if (!db) {
    std::fprintf(stderr, "scanner_fuzz: database did not build: %s\n", db.error().c_str());
    __builtin_trap();
  }
  const auto& r = (*db)->report();
  for (const auto& p : r.problems)
    std::fprintf(stderr, "scanner_fuzz: signature not loaded: %s:%llu: %s\n", p.file.c_str(),
                 static_cast<unsigned long long>(p.line), p.reason.c_str());
  std::fprintf(stderr, "scanner_fuzz: loaded hash %llu, section hash %llu, body %llu, logical %llu, yara %llu\n",
               static_cast<unsigned long long>(r.hash), static_cast<unsigned long long>(r.section_hash),
               static_cast<unsigned long long>(r.body), static_cast<unsigned long long>(r.logical),
               static_cast<unsigned long long>(r.yara));
  return *db;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static avkey::engine::Scanner* scanner = new avkey::engine::Scanner(BuildDatabase());
  static std::vector<avkey::engine::Detection> out;
  avkey::engine::ScanContext ctx{"input.bin", "/fuzz/input.bin", "root"};
  (void)scanner->Scan(std::span<const uint8_t>(data, size), ctx, &out);
  // Contract: --allmatch reports each signature once.
  for (size_t i = 1; i < out.size(); ++i)
    if (out[i] == out[i - 1]) __builtin_trap();
  return 0;
}
