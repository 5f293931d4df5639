// Tests of .ldb parsing, the logical-expression evaluator, byte compare and PCRE
// subsignatures. Expected results marked [observed] were checked with clamscan 1.4.6
// (shared/clamav-signature-formats.md); [clamav] ones follow libclamav's source.
#include "engine/ldb.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/filetype.h"

namespace avkey::engine {
namespace {

using ::testing::HasSubstr;

std::span<const uint8_t> Bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

bool Eval(std::string_view expr, std::vector<uint32_t> counts) {
  Result<LogicExpr> e = LogicExpr::Parse(expr, 64);
  EXPECT_TRUE(e.has_value()) << expr << ": " << (e ? "" : e.error());
  if (!e) return false;
  return e->Evaluate(counts);
}

std::string ExprError(std::string_view expr, size_t subsigs = 8) {
  Result<LogicExpr> e = LogicExpr::Parse(expr, subsigs);
  return e ? "" : e.error();
}

std::string LineError(std::string_view line) {
  Result<LdbSignature> r = ParseLdbLine(line);
  return r ? "" : r.error();
}

// ---- logical expressions --------------------------------------------------------

TEST(LogicExpr, ObservedSingleSubsigCountModifiers) {  // [observed], 3 matches
  EXPECT_TRUE(Eval("0=3", {3}));
  EXPECT_TRUE(Eval("0>2", {3}));
  EXPECT_TRUE(Eval("0<4", {3}));
  EXPECT_FALSE(Eval("0=2", {3}));
  EXPECT_FALSE(Eval("0>3", {3}));
  EXPECT_FALSE(Eval("0<3", {3}));
}

TEST(LogicExpr, ObservedBlockCountAndDistinct) {  // [observed] 5 matches from 3 subsigs
  const std::vector<uint32_t> counts = {2, 2, 1};
  EXPECT_TRUE(Eval("(0|1|2)>3,2", counts));
  EXPECT_FALSE(Eval("(0|1|2)>3,4", counts));
  EXPECT_TRUE(Eval("(0|1|2)>3,3", counts));
  EXPECT_TRUE(Eval("(0|1|2)=5,3", counts));
  EXPECT_FALSE(Eval("(0|1|2)>5", counts));
  EXPECT_TRUE(Eval("(0|1|2)<6", counts));
}

TEST(LogicExpr, ObservedNegation) {  // [observed] 0&(1=0) is "0 and not 1"
  EXPECT_TRUE(Eval("0&(1=0)", {1, 0}));
  EXPECT_FALSE(Eval("0&(1=0)", {1, 1}));
  EXPECT_FALSE(Eval("0&(1=0)", {0, 0}));
  EXPECT_TRUE(Eval("0&1=0", {1, 0}));
}

TEST(LogicExpr, PlainIndexAndBlock) {
  EXPECT_TRUE(Eval("0", {1}));
  EXPECT_FALSE(Eval("0", {0}));
  EXPECT_TRUE(Eval("0|1", {0, 7}));
  EXPECT_FALSE(Eval("0&1", {0, 7}));
  EXPECT_TRUE(Eval("((0))", {1}));
  EXPECT_TRUE(Eval("(0&1)|(2&3)", {0, 1, 1, 1}));
  // Indexes past the end of the counts span count as 0.
  EXPECT_FALSE(Eval("0&5", {1}));
  EXPECT_TRUE(Eval("0|5", {1}));
}

TEST(LogicExpr, ManualExamples) {
  // Sig1: (0&1&2&3)&(4|1)
  EXPECT_TRUE(Eval("(0&1&2&3)&(4|1)", {1, 1, 1, 1, 0}));
  EXPECT_FALSE(Eval("(0&1&2&3)&(4|1)", {1, 1, 1, 0, 1}));
  // Sig2: ((0|1|2)>5,2)&(3|1)
  EXPECT_TRUE(Eval("((0|1|2)>5,2)&(3|1)", {4, 2, 0, 1}));
  EXPECT_FALSE(Eval("((0|1|2)>5,2)&(3|1)", {6, 0, 0, 1}));  // one distinct only
  EXPECT_FALSE(Eval("((0|1|2)>5,2)&(3|1)", {3, 2, 0, 1}));  // 5 is not > 5
  EXPECT_FALSE(Eval("((0|1|2)>5,2)&(3|1)", {4, 0, 2, 0}));  // right side false
  // Sig3: ((0|1|2|3)=2)&(4|1)
  EXPECT_TRUE(Eval("((0|1|2|3)=2)&(4|1)", {0, 1, 1, 0, 0}));
  EXPECT_FALSE(Eval("((0|1|2|3)=2)&(4|1)", {0, 1, 2, 0, 0}));
  // Sig4: ((0|1)&(2|3))&4
  EXPECT_TRUE(Eval("((0|1)&(2|3))&4", {0, 1, 1, 0, 1}));
  EXPECT_FALSE(Eval("((0|1)&(2|3))&4", {0, 1, 0, 0, 1}));
}

TEST(LogicExpr, ClamavSingleSubsigIgnoresDistinctCount) {  // [clamav] only X is read
  EXPECT_TRUE(Eval("0>1,5", {2}));
  EXPECT_TRUE(Eval("0=2,9", {2}));
}

TEST(LogicExpr, ClamavEqualsZeroInsideBlockCountsAsDistinct) {
  // [clamav] "A=0" holds with count 0 and still adds A to the block's subsig set.
  EXPECT_TRUE(Eval("(0=0|1)>0,2", {0, 1}));
  EXPECT_FALSE(Eval("(0|1)>0,2", {0, 1}));
}

TEST(LogicExpr, ClamavFalseBlockCountsZeroMatches) {
  // [clamav] a false block gives a total of 0, so =0 and <X hold.
  EXPECT_TRUE(Eval("(0|1)=0", {0, 0}));
  EXPECT_TRUE(Eval("(0|1)<2", {0, 0}));
  EXPECT_TRUE(Eval("(0&1)=0", {5, 0}));  // & false: none of 0's matches count
  EXPECT_FALSE(Eval("(0&1)=5", {5, 0}));
}

TEST(LogicExpr, ClamavModifiedBlockDoesNotPassSubsigIds) {
  // [clamav] a block with a modifier passes its count up but not its subsig set.
  EXPECT_TRUE(Eval("((0|1)|2)>0,2", {1, 1, 0}));
  EXPECT_FALSE(Eval("((0|1)>0|2)>0,2", {1, 1, 0}));
  EXPECT_TRUE(Eval("((0|1)>0|2)>1", {1, 1, 0}));  // the count does pass
}

TEST(LogicExpr, ClamavGroupingOfMixedChains) {
  // [clamav] top level splits at the first operator: 0&1|2 is 0&(1|2) ...
  EXPECT_FALSE(Eval("0&1|2", {0, 0, 1}));
  EXPECT_TRUE(Eval("0|1&2", {1, 0, 0}));
  // ... inside parentheses at the last: (0&1|2) is (0&1)|2.
  EXPECT_TRUE(Eval("(0&1|2)", {0, 0, 1}));
  EXPECT_FALSE(Eval("(0|1&2)", {1, 0, 0}));
  // (0&1|2&3): left part 0&1|2 groups to the right, then &3.
  EXPECT_TRUE(Eval("(0&1|2&3)", {1, 0, 1, 1}));
  EXPECT_FALSE(Eval("(0&1|2&3)", {0, 0, 1, 1}));
}

TEST(LogicExpr, LongChainsNeedLittleStack) {
  std::string chain = "0";
  for (int i = 0; i < 3000; ++i) chain += i % 2 ? "|0" : "&0";
  Result<LogicExpr> e = LogicExpr::Parse(chain, 1);
  ASSERT_TRUE(e) << e.error();
  std::vector<uint32_t> one = {1};
  EXPECT_TRUE(e->Evaluate(one));
}

TEST(LogicExpr, NestingCap) {
  std::string ok = std::string(64, '(') + "0" + std::string(64, ')');
  EXPECT_TRUE(LogicExpr::Parse(ok, 1));
  std::string deep = std::string(65, '(') + "0" + std::string(65, ')');
  EXPECT_THAT(ExprError(deep, 1), HasSubstr("nested deeper than 64"));
  std::string huge = std::string(100000, '(');
  EXPECT_FALSE(LogicExpr::Parse(huge, 1));
}

TEST(LogicExpr, MaxIndex) {
  Result<LogicExpr> e = LogicExpr::Parse("((0|3)>2,1)&1", 8);
  ASSERT_TRUE(e) << e.error();
  EXPECT_EQ(e->max_index(), 4u);
  EXPECT_EQ(LogicExpr().max_index(), 0u);
}

TEST(LogicExpr, DefaultAndCopies) {
  LogicExpr empty;
  std::vector<uint32_t> counts = {1, 1};
  EXPECT_FALSE(empty.Evaluate(counts));
  Result<LogicExpr> e = LogicExpr::Parse("0&1", 2);
  ASSERT_TRUE(e);
  LogicExpr copy = *e;
  LogicExpr moved = std::move(*e);
  EXPECT_TRUE(copy.Evaluate(counts));
  EXPECT_TRUE(moved.Evaluate(counts));
  copy = empty;
  EXPECT_FALSE(copy.Evaluate(counts));
}

TEST(LogicExpr, RejectsMalformed) {
  EXPECT_THAT(ExprError(""), HasSubstr("empty"));
  EXPECT_THAT(ExprError("("), HasSubstr("missing argument"));
  EXPECT_THAT(ExprError("(0|1"), HasSubstr("missing closing parenthesis"));
  EXPECT_THAT(ExprError("0|1)"), HasSubstr("missing opening parenthesis"));
  EXPECT_THAT(ExprError(")"), HasSubstr("missing opening parenthesis"));
  EXPECT_THAT(ExprError("()"), HasSubstr("empty parentheses"));
  EXPECT_THAT(ExprError("0&"), HasSubstr("missing right argument"));
  EXPECT_THAT(ExprError("0&&1"), HasSubstr("missing right argument"));
  EXPECT_THAT(ExprError("&0"), HasSubstr("missing left argument"));
  EXPECT_THAT(ExprError("0>"), HasSubstr("missing number after '>'"));
  EXPECT_THAT(ExprError("(0|1)=,2"), HasSubstr("missing number after '='"));
  EXPECT_THAT(ExprError("0>1,"), HasSubstr("missing number after ','"));
  EXPECT_THAT(ExprError("0>1>2"), HasSubstr("more than one count modifier"));
  EXPECT_THAT(ExprError("(0|1)>1,2,3"), HasSubstr("more than one count modifier"));
  EXPECT_THAT(ExprError("(0)>2"), HasSubstr("group without"));  // ClamAV rejects it too
  EXPECT_THAT(ExprError("((0|1))>2"), HasSubstr("group without"));
  EXPECT_THAT(ExprError("a"), HasSubstr("can't parse"));
  EXPECT_THAT(ExprError("0 & 1"), HasSubstr("unexpected"));
  EXPECT_THAT(ExprError("(0 1)"), HasSubstr("expected ')'"));
  EXPECT_THAT(ExprError("0&5", 3), HasSubstr("out of range"));
  EXPECT_THAT(ExprError("64", 100), HasSubstr("out of range"));
  EXPECT_THAT(ExprError("99999999999999999999"), HasSubstr("out of range"));
  EXPECT_THAT(ExprError("0>99999999999"), HasSubstr("too large"));
}

// ---- line parsing -----------------------------------------------------------------

TEST(ParseLdbLine, ManualSig2) {
  Result<LdbSignature> r =
      ParseLdbLine("Sig2;Target:0;((0|1|2)>5,2)&(3|1);6b6f74656b;616c61;7a6f6c77;73746566616e");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->name, "Sig2");
  EXPECT_EQ(r->tdb.target, TargetType::kAny);
  EXPECT_FALSE(r->tdb.engine);
  EXPECT_EQ(r->expression_text, "((0|1|2)>5,2)&(3|1)");
  ASSERT_EQ(r->subsigs.size(), 4u);
  EXPECT_EQ(r->subsigs[0].kind, LdbSubsig::Kind::kBody);
  EXPECT_EQ(r->subsigs[0].pattern, "6b6f74656b");
  EXPECT_TRUE(r->subsigs[0].offset.anywhere());
  std::vector<uint32_t> counts = {4, 2, 0, 1};
  EXPECT_TRUE(r->expression.Evaluate(counts));
}

TEST(ParseLdbLine, ManualSig4WithOffsets) {
  Result<LdbSignature> r = ParseLdbLine(
      "Sig4;Engine:51-255,Target:1;((0|1)&(2|3))&4;EP+123:33c06834f04100f2aef7d14951684cf04100e8110a00;"
      "S2+78:22??232c2d252229{-15}6e6573(63|64)61706528;S3+50:68efa311c3b9963cb1ee8e586d32aeb9043e;"
      "f9c58dcf43987e4f519d629b103375;SL+550:6300680065005c0046006900");
  ASSERT_TRUE(r) << r.error();
  ASSERT_TRUE(r->tdb.engine);
  EXPECT_EQ(r->tdb.engine->min, 51u);
  EXPECT_EQ(r->tdb.engine->max, 255u);
  EXPECT_EQ(r->tdb.target, TargetType::kPE);
  ASSERT_EQ(r->subsigs.size(), 5u);
  EXPECT_EQ(r->subsigs[0].offset.kind, SigOffset::Kind::kEntryPoint);
  EXPECT_EQ(r->subsigs[0].offset.value, 123);
  EXPECT_EQ(r->subsigs[1].offset.kind, SigOffset::Kind::kSection);
  EXPECT_EQ(r->subsigs[1].offset.section, 2u);
  EXPECT_EQ(r->subsigs[1].offset.value, 78);
  EXPECT_EQ(r->subsigs[1].pattern, "22??232c2d252229{-15}6e6573(63|64)61706528");
  EXPECT_EQ(r->subsigs[1].kind, LdbSubsig::Kind::kBody);  // '(' but no '#'
  EXPECT_TRUE(r->subsigs[3].offset.anywhere());
  EXPECT_EQ(r->subsigs[4].offset.kind, SigOffset::Kind::kLastSection);
  EXPECT_EQ(r->subsigs[4].offset.value, 550);
}

TEST(ParseLdbLine, ManualSig1AndSig3) {
  EXPECT_TRUE(ParseLdbLine("Sig1;Target:0;(0&1&2&3)&(4|1);6b6f74656b;616c61;7a6f6c77;73746566616e;deadbeef"));
  EXPECT_TRUE(ParseLdbLine("Sig3;Target:0;((0|1|2|3)=2)&(4|1);6b6f74656b;616c61;7a6f6c77;73746566616e;deadbeef"));
}

TEST(ParseLdbLine, ModifiersAreStripped) {
  Result<LdbSignature> r = ParseLdbLine("clamav-wide-C0;Engine:81-255,Target:0;0&1;414141;68656c6c6f::iwfa");
  ASSERT_TRUE(r) << r.error();
  const LdbSubsig& s = r->subsigs[1];
  EXPECT_EQ(s.pattern, "68656c6c6f");
  EXPECT_TRUE(s.nocase && s.wide && s.fullword && s.ascii);
  EXPECT_FALSE(r->subsigs[0].nocase || r->subsigs[0].wide);
  Result<LdbSignature> o = ParseLdbLine("X;Engine:81-255,Target:0;0;EOF-10,5:41424344::i");
  ASSERT_TRUE(o) << o.error();
  EXPECT_EQ(o->subsigs[0].offset.kind, SigOffset::Kind::kEof);
  EXPECT_EQ(o->subsigs[0].offset.shift, 5u);
  EXPECT_EQ(o->subsigs[0].pattern, "41424344");
  EXPECT_TRUE(o->subsigs[0].nocase);
}

TEST(ParseLdbLine, TargetDescriptionKeys) {
  Result<LdbSignature> r = ParseLdbLine(
      "T;Engine:81-255,Target:1,FileSize:100-2000,EntryPoint:64-4096,NumberOfSections:3,"
      "Container:CL_TYPE_ZIP,Intermediates:CL_TYPE_ZIP>CL_TYPE_ANY,HandlerType:CL_TYPE_MSEXE,IconGroup1:grp;"
      "0;41424344");
  ASSERT_TRUE(r) << r.error();
  const TargetDescription& t = r->tdb;
  EXPECT_EQ(t.file_size->min, 100u);
  EXPECT_EQ(t.file_size->max, 2000u);
  EXPECT_EQ(t.entry_point->max, 4096u);
  EXPECT_EQ(t.number_of_sections->min, 3u);  // lone X means X-X
  EXPECT_EQ(t.number_of_sections->max, 3u);
  EXPECT_EQ(t.container, "CL_TYPE_ZIP");
  EXPECT_EQ(t.intermediates, (std::vector<std::string>{"CL_TYPE_ZIP", "CL_TYPE_ANY"}));
  EXPECT_EQ(t.handler_type, "CL_TYPE_MSEXE");
  EXPECT_TRUE(t.icon_group);
}

TEST(ParseLdbLine, TrailingNewlineIgnored) {
  EXPECT_TRUE(ParseLdbLine("Sig;Target:0;0;41424344\r\n"));
}

TEST(ParseLdbLine, PcreSubsignatures) {
  // Manual examples.
  Result<LdbSignature> all = ParseLdbLine(
      "Find.All.ClamAV;Engine:81-255,Target:0;1;6265676c6164697427736e6f7462797465636f6465;0/clamav/g");
  ASSERT_TRUE(all) << all.error();
  const LdbSubsig& p = all->subsigs[1];
  EXPECT_EQ(p.kind, LdbSubsig::Kind::kPcre);
  EXPECT_TRUE(p.offset.anywhere());
  EXPECT_EQ(p.pcre->trigger, "0");
  EXPECT_EQ(p.pcre->regex, "clamav");
  EXPECT_EQ(p.pcre->flags, "g");
  ASSERT_TRUE(p.pcre->trigger_expr);
  ASSERT_TRUE(p.pcre->program);

  Result<LdbSignature> at = ParseLdbLine(
      "Find.ClamAV.OnlyAt.299;Engine:81-255,Target:0;2;7374756c747a67657473;7063726572656765786c6f6c;"
      "299:0&1/clamav/");
  ASSERT_TRUE(at) << at.error();
  EXPECT_EQ(at->subsigs[2].offset.kind, SigOffset::Kind::kAbsolute);
  EXPECT_EQ(at->subsigs[2].offset.value, 299);
  EXPECT_EQ(at->subsigs[2].pcre->trigger, "0&1");
  EXPECT_TRUE(at->subsigs[2].pcre->flags.empty());

  EXPECT_TRUE(ParseLdbLine("Find.ClamAV.StartAt.300;Engine:81-255,Target:0;3;616c61696e;62756731393238;"
                           "636c6f736564;300:0&1&2/clamav/r"));
  Result<LdbSignature> enc = ParseLdbLine(
      "Find.All.Encompassed.ClamAV;Engine:81-255,Target:0;3;7768796172656e2774;796f757573696e67;79617261;"
      "200,300:0&1&2/clamav/ge");
  ASSERT_TRUE(enc) << enc.error();
  EXPECT_EQ(enc->subsigs[3].offset.value, 200);
  EXPECT_EQ(enc->subsigs[3].offset.shift, 300u);
  EXPECT_TRUE(ParseLdbLine("Named.CapGroup.Pcre;Engine:81-255,Target:0;3;636f75727479617264;616c62756d;"
                           "74657272696572;50:0&1&2/variable=(?<nilshell>.{16})end/gr"));
  EXPECT_TRUE(ParseLdbLine(
      "Firefox.IDB.UseAfterFree;Engine:81-255,Target:0;0&1;4944424b657952616e6765;"
      "0/^\\x2e(only|lowerBound|upperBound|bound)\\x28.*?\\x29.*?\\x2e(lower|upper|lowerOpen|upperOpen)/smi"));
}

TEST(ParseLdbLine, PcreDelimitersSemicolonsAndColons) {
  // \x3B is regex text; a raw ';' inside /.../ does not split (ClamAV's tokenizer).
  Result<LdbSignature> hex = ParseLdbLine("P;Engine:81-255,Target:0;1;414243;0/a\\x3Bb/");
  ASSERT_TRUE(hex) << hex.error();
  EXPECT_EQ(hex->subsigs[1].pcre->regex, "a\\x3Bb");
  Result<LdbSignature> raw = ParseLdbLine("P;Engine:81-255,Target:0;1;414243;0/a;b/");
  ASSERT_TRUE(raw) << raw.error();
  ASSERT_EQ(raw->subsigs.size(), 2u);
  EXPECT_EQ(raw->subsigs[1].pcre->regex, "a;b");
  // Escaped '/' inside the regex; ':' inside the regex is not an offset separator.
  Result<LdbSignature> esc = ParseLdbLine("P;Engine:81-255,Target:0;1;414243;10:0/a\\/b:c/i");
  ASSERT_TRUE(esc) << esc.error();
  EXPECT_EQ(esc->subsigs[1].offset.value, 10);
  EXPECT_EQ(esc->subsigs[1].pcre->regex, "a\\/b:c");
  EXPECT_EQ(esc->subsigs[1].pcre->flags, "i");
  EXPECT_EQ(RunPcre(*esc->subsigs[1].pcre, esc->subsigs[1].offset, nullptr, Bytes("0123456789A/B:C"), nullptr), 1u);
}

TEST(ParseLdbLine, ByteCompareMacroAndFuzzy) {
  Result<LdbSignature> bc = ParseLdbLine("BC;Engine:101-255,Target:0;0&1;4142;0(>>2#ib2#=0x0102)");
  ASSERT_TRUE(bc) << bc.error();
  const ByteCompare& b = *bc->subsigs[1].byte_compare;
  EXPECT_EQ(bc->subsigs[1].kind, LdbSubsig::Kind::kByteCompare);
  EXPECT_EQ(b.subsig, 0u);
  EXPECT_EQ(b.offset, 2);
  EXPECT_EQ(b.base, 'i');
  EXPECT_TRUE(b.big_endian);
  EXPECT_FALSE(b.little_endian);
  EXPECT_EQ(b.num_bytes, 2u);
  ASSERT_EQ(b.comparisons.size(), 1u);
  EXPECT_EQ(b.comparisons[0].op, '=');
  EXPECT_EQ(b.comparisons[0].value, 0x0102);

  Result<LdbSignature> two = ParseLdbLine("BC;Engine:101-255,Target:0;0&1;4142;0(<<0x10#hle4#>10,<-5)");
  ASSERT_TRUE(two) << two.error();
  const ByteCompare& t = *two->subsigs[1].byte_compare;
  EXPECT_EQ(t.offset, -16);
  EXPECT_EQ(t.base, 'h');
  EXPECT_TRUE(t.little_endian && t.exact);
  ASSERT_EQ(t.comparisons.size(), 2u);
  EXPECT_EQ(t.comparisons[1].op, '<');
  EXPECT_EQ(t.comparisons[1].value, -5);
  Result<LdbSignature> dec = ParseLdbLine("BC;Engine:101-255,Target:0;0&1;4142;0(#d3#=100)");
  ASSERT_TRUE(dec) << dec.error();
  EXPECT_TRUE(dec->subsigs[1].byte_compare->big_endian);  // implied by d

  Result<LdbSignature> macro = ParseLdbLine("TestMacro;Engine:51-255,Target:0;0&1;616161;${6-7}12$");
  ASSERT_TRUE(macro) << macro.error();
  EXPECT_EQ(macro->subsigs[1].kind, LdbSubsig::Kind::kMacro);
  EXPECT_EQ(macro->subsigs[1].macro.min, 6u);
  EXPECT_EQ(macro->subsigs[1].macro.max, 7u);
  EXPECT_EQ(macro->subsigs[1].macro.group, 12u);

  Result<LdbSignature> fuzzy = ParseLdbLine("Img;Engine:150-255,Target:0;0;fuzzy_img#af2ad01ed42993c7#0");
  ASSERT_TRUE(fuzzy) << fuzzy.error();
  EXPECT_EQ(fuzzy->subsigs[0].kind, LdbSubsig::Kind::kFuzzyImage);
  EXPECT_EQ(fuzzy->subsigs[0].pattern, "af2ad01ed42993c7");
  EXPECT_TRUE(ParseLdbLine("Img;Engine:150-255,Target:0;0;fuzzy_img#af2ad01ed42993c7"));
}

TEST(ParseLdbLine, RejectsMalformedLinesWithAReason) {
  const struct {
    const char* line;
    const char* reason;
  } cases[] = {
      {"", "empty line"},
      {"Sig;Target:0;0", "invalid ldb signature format"},
      {";Target:0;0;41424344", "empty signature name"},
      {"Sig;Target:0;0;41424344;", "trailing ';'"},
      {"Sig;Target:0;0&1;;41424344", "empty subsignature 0"},
      {"Sig;;0;41424344", "empty target description block"},
      {"Sig;Target:0;;41424344", "empty logical expression"},
      {"Sig;Target:0;0&1;41424344", "index 1 out of range"},      // 1 subsig, index 1
      {"Sig;Target:0;0;41424344;45464748", "doesn't match the IDs"},  // subsig 1 unused
      {"Sig;Target:0;(0|1;41424344;45464748", "missing closing parenthesis"},
      {"Sig;Target:0,Engine:51-255;0;41424344", "Engine attribute must be on the first position"},
      {"Sig;Engine:51-255;0;41424344", "no Target"},
      {"Sig;Target;0;41424344", "incorrect format of attribute"},
      {"Sig;Target:x;0;41424344", "invalid argument for Target"},
      {"Sig;Target:8;0;41424344", "unsupported target type 8"},
      {"Sig;Target:0,FileSize:1-2;0;41424344", "minimum level of at least 51"},
      {"Sig;Engine:51-x,Target:0;0;41424344", "invalid argument for Engine"},
      {"Sig;Engine:51-255,Target:0,FileSize:a-b;0;41424344", "invalid argument for FileSize"},
      {"Sig;Engine:51-255,Target:0,IconGroup1:x;0;41424344", "IconGroup is only supported in PE"},
      {"Sig;Engine:51-255,Target:0,EntryPoint:0-9;0;41424344", "EntryPoint/NumberOfSections"},
      {"Sig;Engine:51-255,Target:0,Container:ZIP;0;41424344", "unknown file type"},
      {"Sig;Target:0;0;41424344::z", "invalid subsignature modifier 'z'"},
      {"Sig;Target:0;0;41424344::I", "invalid subsignature modifier 'I'"},  // case-sensitive
      {"Sig;Target:0;0;1:2:3:4:5", "too many ':'"},
      {"Sig;Target:0;0;10:41424344:i", "unexpected ':'"},
      {"Sig;Target:0;0;EP+x:41424344", "bad offset"},
      {"Sig;Target:0;0;10:", "empty hex pattern"},
      {"Sig;Target:0;0;0/abc/", "self-referential"},
      {"Sig;Target:0;0&1;1/abc/;41424344", "subsequent subsignature 1"},
      {"Sig;Target:0;0&1;41424344;/abc/", "must contain a logical trigger"},
      {"Sig;Target:0;0&1;41424344;0/abc", "mismatched '/'"},
      {"Sig;Target:0;0&1;41424344;0//", "cannot be empty"},
      {"Sig;Target:0;0&1;41424344;0/abc/z", "unknown/extra pcre option 'z'"},
      {"Sig;Target:0;0&1;41424344;0/a(/", "PCRE2 compilation failed"},
      {"Sig;Target:0;0&1;41424344;0/(*UTF)a/", "PCRE2 compilation failed"},
      {"Sig;Target:0;0&1;41424344;0/abc/::i", "modifiers '::' are not supported"},
      {"Sig;Target:0;0&1;41424344;0&/abc/", "PCRE trigger"},
      {"Sig;Target:0;0&1;4142;0(>>2#ib3#=1)", "1, 2, 4 or 8"},
      {"Sig;Target:0;0&1;4142;0(>>2#hb19#=1)", "longer than 18"},
      {"Sig;Target:0;0&1;4142;0(>>2#hl#=1)", "length"},
      {"Sig;Target:0;0&1;4142;0(>2#ib2#=1)", "shift operator"},
      {"Sig;Target:0;0&1;4142;0(>>-2#ib2#=1)", "offset"},
      {"Sig;Target:0;0&1;4142;0(>>2#dl2#=1)", "option"},
      {"Sig;Target:0;0&1;4142;0(>>2#lb2#=1)", "option"},
      {"Sig;Target:0;0&1;4142;0(>>2#hi2#=1)", "option"},
      {"Sig;Target:0;0&1;4142;0(>>2#ib2#=1,=2,=3)", "too many commas"},
      {"Sig;Target:0;0&1;4142;0(>>2#ib2#!1)", "symbol"},
      {"Sig;Target:0;0&1;4142;0(>>2#ib2#=zz)", "value"},
      {"Sig;Target:0;0&1;4142;0(>>2#ib2#=)", "value"},
      {"Sig;Target:0;0&1;4142;0(>>2#ib2#=1#x)", "3 expected"},
      {"Sig;Target:0;0&1;4142;0(>>2#ib2#=1)x", "after byte compare ')'"},
      {"Sig;Target:0;0&1;4142;1(>>2#ib2#=1)", "refers to itself"},
      {"Sig;Target:0;0&1;4142;7(>>2#ib2#=1)", "refers to subsignature 7"},
      {"Sig;Target:0;0&1&2;4142;0/a/;1(>>2#ib2#=1)", "neither PCRE nor byte compare"},
      {"Sig;Target:0;0&1;616161;${6-7}40$", "only 32 macro groups"},
      {"Sig;Target:0;0&1;616161;${6-7}12", "missing the '$' terminator"},
      {"Sig;Target:0;0&1;616161;${6}12$", "invalid macro"},
      {"Sig;Target:0;0&1;${6-7}12$;616161", "cannot be the first"},
      {"Sig;Target:0;0;fuzzy_img#af2ad01e", "16 hex"},
      {"Sig;Target:0;0;fuzzy_img#af2ad01ed42993c7#3", "other than 0"},
  };
  for (const auto& c : cases) EXPECT_THAT(LineError(c.line), HasSubstr(c.reason)) << c.line;
}

TEST(ParseLdbLine, SubsignatureLimit) {
  std::string expr = "0";
  std::string subsigs = ";41424344";
  for (int i = 1; i < 64; ++i) {
    expr += "|" + std::to_string(i);
    subsigs += ";41424344";
  }
  EXPECT_TRUE(ParseLdbLine("Sig;Target:0;" + expr + subsigs));
  EXPECT_THAT(LineError("Sig;Target:0;" + expr + subsigs + ";41424344"), HasSubstr("too many subsignatures (65"));
}

TEST(LdbEngineRange, ReadsTheFirstAttributeOnly) {
  std::optional<Range> r = LdbEngineRange("S;Engine:81-255,Target:0;0;zz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->min, 81u);
  EXPECT_EQ(r->max, 255u);
  EXPECT_FALSE(LdbEngineRange("S;Target:0,Engine:81-255;0;zz"));
  EXPECT_FALSE(LdbEngineRange("S;Engine:x-255;0;zz"));
  EXPECT_FALSE(LdbEngineRange("nothing"));
}

// ---- byte compare -----------------------------------------------------------------

ByteCompare ParseBc(const std::string& text) {
  Result<LdbSignature> r = ParseLdbLine("BC;Engine:101-255,Target:0;0&1;4142;" + text);
  EXPECT_TRUE(r) << text << ": " << (r ? "" : r.error());
  return r ? *r->subsigs[1].byte_compare : ByteCompare{};
}

bool Bc(const std::string& text, std::string_view data, uint64_t match_start) {
  return EvaluateByteCompare(ParseBc(text), Bytes(data), match_start);
}

TEST(ByteCompare, ObservedRawIntegers) {  // [observed] bytes 01 02 after "AB"
  const std::string data("AB\x01\x02", 4);
  EXPECT_TRUE(Bc("0(>>2#ib2#=0x0102)", data, 0));
  EXPECT_TRUE(Bc("0(>>2#il2#=0x0201)", data, 0));
  EXPECT_FALSE(Bc("0(>>2#il2#=0x0102)", data, 0));
  EXPECT_TRUE(Bc("0(>>2#ib2#=258)", data, 0));  // decimal value
  EXPECT_TRUE(Bc("0(>>2#ib1#=1)", data, 0));
  EXPECT_TRUE(Bc("0(>>3#ib1#=2)", data, 0));
}

TEST(ByteCompare, RawIntegerWidthsAndSigns) {
  const std::string data("xx\x78\x56\x34\x12\xff\xff\xff\xff\xff\xff\xff\xff", 14);
  EXPECT_TRUE(Bc("0(>>2#il4#=0x12345678)", data, 0));
  EXPECT_TRUE(Bc("0(>>2#ib4#=0x78563412)", data, 0));
  EXPECT_TRUE(Bc("0(>>6#il8#=-1)", data, 0));  // raw 64-bit values compare signed
  EXPECT_TRUE(Bc("0(>>6#ib2#=65535)", data, 0));
  EXPECT_TRUE(Bc("0(>>2#il4#>0x12345677,<0x12345679)", data, 0));
  EXPECT_FALSE(Bc("0(>>2#il4#>0x12345677,<0x12345678)", data, 0));
  EXPECT_FALSE(Bc("0(>>7#il8#=-1)", data, 0));  // runs past the end
  EXPECT_FALSE(Bc("0(>>2#i4#=0x12345678)", data, 0));  // ClamAV: no endianness never matches
}

TEST(ByteCompare, NegativeShiftAndPositionZero) {
  const std::string data("\x01\x02zzAB", 6);
  EXPECT_TRUE(Bc("0(<<3#ib1#=2)", data, 4));
  EXPECT_FALSE(Bc("0(<<4#ib1#=1)", data, 4));  // ClamAV: a read at offset 0 never matches
  EXPECT_FALSE(Bc("0(<<5#ib1#=1)", data, 4));  // before the start
  EXPECT_FALSE(Bc("0(#ib1#=1)", data, 0));
}

TEST(ByteCompare, HexText) {
  const std::string data = "AB00ff|0x1F|  7f|3412|zz";
  EXPECT_TRUE(Bc("0(>>2#hb4#=255)", data, 0));
  EXPECT_TRUE(Bc("0(>>2#hbe4#=0xff)", data, 0));
  EXPECT_TRUE(Bc("0(>>7#hb4#=31)", data, 0));   // "0x" prefix accepted
  EXPECT_TRUE(Bc("0(>>12#hb4#=127)", data, 0));  // leading whitespace skipped ...
  EXPECT_FALSE(Bc("0(>>12#hbe4#=127)", data, 0));  // ... but not with 'e'
  EXPECT_TRUE(Bc("0(>>17#hl4#=0x1234)", data, 0));  // little-endian text: byte pairs swapped
  EXPECT_TRUE(Bc("0(>>17#hle4#=0x1234)", data, 0));
  EXPECT_TRUE(Bc("0(>>2#hb6#=255)", data, 0));    // stops at '|' without 'e'
  EXPECT_FALSE(Bc("0(>>2#hbe6#=255)", data, 0));  // 'e' needs all 6 characters
  EXPECT_TRUE(Bc("0(>>22#hb2#=0)", data, 0));     // no digits read as 0 ...
  EXPECT_FALSE(Bc("0(>>22#hbe2#=0)", data, 0));   // ... unless exact
  EXPECT_FALSE(Bc("0(>>2#h4#=255)", data, 0));    // ClamAV: no endianness never matches
  EXPECT_FALSE(Bc("0(>>2#hb18#=0)", std::string("AB") + std::string(18, 'f'), 0));  // overflow
}

TEST(ByteCompare, DecimalAndAutoText) {
  const std::string data = "AB 42|1234|0x10|-7";
  EXPECT_TRUE(Bc("0(>>2#d3#=42)", data, 0));
  EXPECT_FALSE(Bc("0(>>2#de3#=42)", data, 0));
  EXPECT_TRUE(Bc("0(>>6#de4#=1234)", data, 0));
  EXPECT_TRUE(Bc("0(>>6#d3#=123)", data, 0));
  EXPECT_TRUE(Bc("0(>>16#de2#=-7)", data, 0));
  EXPECT_TRUE(Bc("0(>>6#ab4#=1234)", data, 0));  // auto: decimal
  EXPECT_TRUE(Bc("0(>>11#ab4#=16)", data, 0));   // auto: "0x" means hex
  EXPECT_TRUE(Bc("0(>>11#al4#=16)", data, 0));   // hex may be little-endian (one byte here)
  EXPECT_FALSE(Bc("0(>>6#al4#=1234)", data, 0));  // little-endian decimal is unsupported
  EXPECT_FALSE(Bc("0(>>6#a4#=1234)", data, 0));   // ClamAV: auto without endianness
}

// ---- PCRE -------------------------------------------------------------------------

struct Pcre {
  LdbSubsig sub;
  uint32_t Run(std::string_view data, const ExeInfo* exe = nullptr) const {
    PcreScratchPtr scratch = NewPcreScratch();
    EXPECT_TRUE(scratch);
    return RunPcre(*sub.pcre, sub.offset, exe, Bytes(data), scratch.get());
  }
};

Pcre MakePcre(const std::string& subsig) {
  Result<LdbSignature> r = ParseLdbLine("P;Engine:81-255,Target:0;1;41;" + subsig);
  EXPECT_TRUE(r) << subsig << ": " << (r ? "" : r.error());
  return r ? Pcre{std::move(r->subsigs[1])} : Pcre{};
}

TEST(Pcre, NoOffsetSearchesEverywhere) {
  Pcre p = MakePcre("0/clamav/");
  EXPECT_EQ(p.Run("xx clamav yy clamav"), 1u);
  EXPECT_EQ(p.Run("xx CLAMAV"), 0u);
  EXPECT_EQ(MakePcre("0/clamav/i").Run("xx CLAMAV"), 1u);
  EXPECT_EQ(MakePcre("0/clamav/g").Run("clamav clamav xclamav"), 3u);
  EXPECT_EQ(p.Run(""), 0u);
}

TEST(Pcre, OffsetAnchorsUnlessRolling) {
  const std::string data = "xxxxxxxxaaaayyyyyyyyaaaa";  // "aaaa" at 8 and 20
  EXPECT_EQ(MakePcre("8:0/aaaa/").Run(data), 1u);
  EXPECT_EQ(MakePcre("9:0/aaaa/").Run(data), 0u);   // [observed] anchored at 9 fails
  EXPECT_EQ(MakePcre("9:0/aaaa/r").Run(data), 1u);  // [observed] rolling from 9 finds one
  EXPECT_EQ(MakePcre("9:0/aaaa/r").Run("xxxxxxxxaaaayyyy"), 0u);  // not before 9
  EXPECT_EQ(MakePcre("8:0/aaaa/g").Run("xxxxxxxxaaaaaaaayaaaa"), 2u);  // anchored chain
  EXPECT_EQ(MakePcre("0:0/aaaa/rg").Run(data), 2u);
  EXPECT_EQ(MakePcre("30:0/a/r").Run(data), 0u);  // offset past the end
}

TEST(Pcre, SubjectStartsAtTheOffset) {
  EXPECT_EQ(MakePcre("10:0/^abc/").Run("0123456789abc"), 1u);
  EXPECT_EQ(MakePcre("5:0/^abc/r").Run("0123456789abc"), 0u);
  EXPECT_EQ(MakePcre("5:0/abc/r").Run("0123456789abc"), 1u);
  EXPECT_EQ(MakePcre("EOF-3:0/abc/").Run("0123456789abc"), 1u);
}

TEST(Pcre, MaxshiftAndEncompass) {
  const std::string at8 = "xxxxxxxxaaaayyyyyyyy";
  const std::string at10 = "xxxxxxxxxxaaaayyyyyy";
  EXPECT_EQ(MakePcre("5,4:0/aaaa/").Run(at8), 1u);    // starts 3 after 5
  EXPECT_EQ(MakePcre("5,4:0/aaaa/").Run(at10), 0u);   // starts 5 after 5 > 4
  EXPECT_EQ(MakePcre("5,6:0/aaaa/").Run(at8), 1u);    // may end past the window
  EXPECT_EQ(MakePcre("5,6:0/aaaa/e").Run(at8), 0u);   // 'e': window [5, 11) too short
  EXPECT_EQ(MakePcre("5,7:0/aaaa/e").Run(at8), 1u);   // [5, 12) holds 8..11
  EXPECT_EQ(MakePcre("0,30:0/aaaa/ge").Run("aaaaxaaaa"), 2u);
}

TEST(Pcre, EntryPointOffsetNeedsExeInfo) {
  ExeInfo exe;
  exe.type = TargetType::kPE;
  exe.has_entry_point = true;
  exe.entry_point_offset = 4;
  Pcre p = MakePcre("EP+2:0/abc/");
  EXPECT_EQ(p.Run("0123zzabc", &exe), 1u);
  EXPECT_EQ(p.Run("0123zzabc"), 0u);
}

TEST(Pcre, BudgetsAndEmptyMatches) {
  // Catastrophic backtracking hits the match limit and counts as no match.
  EXPECT_EQ(MakePcre("0/(a+)+$/").Run(std::string(40, 'a') + "!"), 0u);
  // An empty global match does not spin.
  EXPECT_GE(MakePcre("0/x*/g").Run("aaa"), 1u);
  // A null scratch takes the slow path.
  Pcre p = MakePcre("0/abc/");
  EXPECT_EQ(RunPcre(*p.sub.pcre, p.sub.offset, nullptr, Bytes("zabc"), nullptr), 1u);
}

TEST(Pcre, TriggerAndFlags) {
  Pcre p = MakePcre("0/a.b/s");
  std::vector<uint32_t> none = {0}, one = {1};
  EXPECT_FALSE(p.sub.pcre->trigger_expr->Evaluate(none));
  EXPECT_TRUE(p.sub.pcre->trigger_expr->Evaluate(one));
  EXPECT_EQ(p.Run("a\nb"), 1u);
  EXPECT_EQ(MakePcre("0/a.b/").Run("a\nb"), 0u);
  EXPECT_EQ(MakePcre("0/^b/m").Run("a\nb"), 1u);
  EXPECT_EQ(MakePcre("0/a b/x").Run("ab"), 1u);
  EXPECT_EQ(MakePcre("0/b/A").Run("ab"), 0u);
  EXPECT_EQ(MakePcre("0/a$/E").Run("a\n"), 0u);
  EXPECT_EQ(MakePcre("0/a$/").Run("a\n"), 1u);
  EXPECT_EQ(MakePcre("0/a+/U").Run("aaa"), 1u);
  EXPECT_EQ(MakePcre("0/\\x3B/").Run("x;y"), 1u);
}

TEST(Pcre, CompileDirectly) {
  EXPECT_TRUE(CompilePcre("abc", "gremisxAEU"));
  EXPECT_FALSE(CompilePcre("", ""));
  EXPECT_FALSE(CompilePcre("abc", "q"));
  EXPECT_FALSE(CompilePcre("(", ""));
}

}  // namespace
}  // namespace avkey::engine

namespace avkey::engine {
namespace {

TargetDescription Tdb(std::string_view attrs) {
  Result<LdbSignature> r = ParseLdbLine("S;Engine:81-255,Target:0," + std::string(attrs) + ";0;41424344");
  EXPECT_TRUE(r) << attrs << ": " << r.error();
  return r ? r->tdb : TargetDescription{};
}

// Cases from clamscan 1.4.6 runs (ids of the container study kept in the names).
TEST(ContainersMatch, ContainerIsTheNearestRealParent) {
  const std::vector<LayerType> root;
  const std::vector<LayerType> in_zip = {{"CL_TYPE_ZIP"}};
  const std::vector<LayerType> in_tgz = {{"CL_TYPE_GZ"}, {"CL_TYPE_POSIX_TAR"}};
  const std::vector<LayerType> data_uri = {{"CL_TYPE_HTML"}, {"CL_TYPE_MAIL", true}};
  EXPECT_TRUE(ContainersMatch(Tdb("Container:CL_TYPE_ANY"), root));         // A01
  EXPECT_FALSE(ContainersMatch(Tdb("Container:CL_TYPE_ANY"), in_zip));      // A05
  EXPECT_TRUE(ContainersMatch(Tdb("Container:CL_TYPE_ZIP"), in_zip));       // A04
  EXPECT_TRUE(ContainersMatch(Tdb("Container:CL_TYPE_POSIX_TAR"), in_tgz)); // A07
  EXPECT_FALSE(ContainersMatch(Tdb("Container:CL_TYPE_GZ"), in_tgz));       // A08
  EXPECT_TRUE(ContainersMatch(Tdb("Container:CL_TYPE_HTML"), data_uri));    // B73: normalised MAIL skipped
  // Given twice, the last counts (A20, A21).
  EXPECT_TRUE(ContainersMatch(Tdb("Container:CL_TYPE_GZ,Container:CL_TYPE_POSIX_TAR"), in_tgz));
  EXPECT_FALSE(ContainersMatch(Tdb("Container:CL_TYPE_POSIX_TAR,Container:CL_TYPE_GZ"), in_tgz));
}

TEST(ContainersMatch, IntermediatesIsASuffixEndingAtTheParentWithAnyOnlyAddingDepth) {
  const std::vector<LayerType> tgz_in_zip = {{"CL_TYPE_ZIP"}, {"CL_TYPE_GZ"}, {"CL_TYPE_POSIX_TAR"}};
  auto m = [&](std::string_view chain) {
    return ContainersMatch(Tdb("Intermediates:" + std::string(chain)), tgz_in_zip);
  };
  EXPECT_TRUE(m("CL_TYPE_ZIP>CL_TYPE_GZ>CL_TYPE_POSIX_TAR"));                  // C01
  EXPECT_TRUE(m("CL_TYPE_GZ>CL_TYPE_POSIX_TAR"));                              // C02
  EXPECT_TRUE(m("CL_TYPE_POSIX_TAR"));                                         // C03
  EXPECT_FALSE(m("CL_TYPE_ZIP>CL_TYPE_GZ"));                                   // C04
  EXPECT_FALSE(m("CL_TYPE_POSIX_TAR>CL_TYPE_GZ>CL_TYPE_ZIP"));                 // C06
  EXPECT_FALSE(m("CL_TYPE_ANY>CL_TYPE_ZIP>CL_TYPE_GZ>CL_TYPE_POSIX_TAR"));     // C08
  EXPECT_FALSE(m("CL_TYPE_ZIP>CL_TYPE_POSIX_TAR"));                            // C09
  EXPECT_FALSE(m("CL_TYPE_ZIP>CL_TYPE_ANY>CL_TYPE_POSIX_TAR"));                // C10
  EXPECT_TRUE(m("CL_TYPE_GZ>CL_TYPE_ANY>CL_TYPE_POSIX_TAR"));                  // C11
  EXPECT_TRUE(m("CL_TYPE_POSIX_TAR>CL_TYPE_ANY"));                             // C12
  EXPECT_FALSE(m("CL_TYPE_GZ>CL_TYPE_ANY"));                                   // C13
  EXPECT_TRUE(m("CL_TYPE_ANY>CL_TYPE_ANY>CL_TYPE_ANY"));                       // C14
  EXPECT_FALSE(m("CL_TYPE_ANY>CL_TYPE_ANY>CL_TYPE_ANY>CL_TYPE_ANY"));          // C15
  EXPECT_FALSE(ContainersMatch(Tdb("Intermediates:CL_TYPE_ANY"), {}));         // C24: never at the root
  // ... but on the normalised buffers of an HTML file that is not inside anything (N14).
  EXPECT_TRUE(ContainersMatch(Tdb("Intermediates:CL_TYPE_ANY"), {}, /*normalized_layer=*/true));
  EXPECT_TRUE(ContainersMatch(Tdb("Container:CL_TYPE_ANY"), {}, /*normalized_layer=*/true));
  // Normalised layers count for depth, not for types (N01-N10).
  const std::vector<LayerType> data_uri = {{"CL_TYPE_HTML"}, {"CL_TYPE_MAIL", true}};
  EXPECT_TRUE(ContainersMatch(Tdb("Intermediates:CL_TYPE_HTML"), data_uri));
  EXPECT_TRUE(ContainersMatch(Tdb("Intermediates:CL_TYPE_ANY>CL_TYPE_HTML"), data_uri));
  EXPECT_FALSE(ContainersMatch(Tdb("Intermediates:CL_TYPE_ANY>CL_TYPE_ANY>CL_TYPE_HTML"), data_uri));
  EXPECT_FALSE(ContainersMatch(Tdb("Intermediates:CL_TYPE_HTML>CL_TYPE_MAIL"), data_uri));
}

TEST(ContainersMatch, OnlyTheFirst16IntermediatesAreRead) {
  std::string chain;
  std::vector<LayerType> deep;
  for (int i = 0; i < 8; ++i) {
    chain += std::string(i ? ">" : "") + "CL_TYPE_GZ>CL_TYPE_POSIX_TAR";
    deep.push_back({"CL_TYPE_GZ"});
    deep.push_back({"CL_TYPE_POSIX_TAR"});
  }
  EXPECT_TRUE(ContainersMatch(Tdb("Intermediates:" + chain), deep));                       // D01
  EXPECT_TRUE(ContainersMatch(Tdb("Intermediates:" + chain + ">CL_TYPE_BOGUS"), deep));     // D03
  EXPECT_FALSE(ContainersMatch(Tdb("Intermediates:CL_TYPE_MSEXE>" + chain), deep));         // D04
}

TEST(ParseLdbLine, UnknownContainerTypesSkipTheSignature) {
  for (const char* bad : {"Container:CL_TYPE_BOGUS", "Container:cl_type_zip", "Container:CL_TYPE_MSWORD",
                          "Container:", "Intermediates:CL_TYPE_ZIP>", "Intermediates:CL_TYPE_ZIP>>CL_TYPE_ZIP",
                          "HandlerType:CL_TYPE_PE"}) {
    EXPECT_FALSE(ParseLdbLine(std::string("S;Engine:81-255,Target:0,") + bad + ";0;41424344")) << bad;
  }
}

}  // namespace
}  // namespace avkey::engine
