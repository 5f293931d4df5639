// File typing and executable header parsing, modelled on what clamscan 1.4.6 does,
// because clamscan is the oracle for which signatures fire (DESIGN.md §3).
//
// Where ClamAV's behaviour is surprising, the comment says so and says how it was
// checked: "[observed]" means a synthetic file run through clamscan 1.4.6 with a
// probe .ndb per target type; otherwise the statement comes from reading libclamav
// (filetypes.c, textdet.c, matcher-ac.c, pe.c, elf.c, macho.c).
//
// Typing follows libclamav's two stages:
//   1. fixed magics at fixed offsets ("type 0" file-type signatures), first 1024 bytes;
//   2. when stage 1 found nothing, the buffer is classed text/binary and "on-the-fly"
//      type signatures (HTML markers, embedded PE, mail headers, SFX markers, ...) are
//      matched; the type that wins follows ClamAV's priority rule (FoldMatches()).
// Then, as clamscan's raw scan does, an ASCII text file with an HTML marker anywhere
// in the whole buffer is treated as HTML.
#include "engine/filetype.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

namespace avkey::engine {
namespace {

using namespace std::string_view_literals;
using Bytes = std::span<const uint8_t>;

// libclamav types a file from its first 1024 bytes (MAGIC_BUFFER_SIZE).
constexpr size_t kTypingWindow = 1024;
// clamscan skips files of 5 bytes or less ("File too small") [observed], so they
// never reach text scanning; we do not call them text either.
constexpr size_t kMinTextSize = 6;

// ---------------------------------------------------------------------------
// Stage 2 model: the subset of ClamAV's internal types that matters here.

// Result of typing before the mapping to TargetType.
enum class Kind : uint8_t {
  kNone,  // stage 2 found nothing: the text/binary class decides
  kPe,    // CL_TYPE_MSEXE
  kElf,
  kMachO,  // thin and fat (CL_TYPE_MACHO / CL_TYPE_MACHO_UNIBIN, both target 9)
  kOle2,
  kGraphics,
  kPdf,
  kFlash,
  kJava,
  kMail,
  kHtml,
  kSis,      // not a target type, but ranks between kMachO and kPdf
  kMbr,      // not a target type, ranks just below kHtml
  kOther,    // any other recognised format: archives, SFX markers, MHTML, ...
  kIgnored,  // CL_TYPE_IGNORED: clamscan does not scan the file at all
  kBinary,   // forced "binary data" (MPEG magics): no text typing
};

// On-the-fly matches are folded the way matcher-ac.c does it: in order of match end, a
// match replaces the current type when its cli_file_t value is larger, and always when
// it is CL_TYPE_MSEXE or any SFX-class type (the enum values >= CL_TYPE_SFX; MHTML and
// the newer container types sit there too). Rank mirrors the enum order of the types
// that do not always win.
int Rank(Kind k) {
  switch (k) {
    case Kind::kPe: return 0;
    case Kind::kMachO: return 1;
    case Kind::kSis: return 2;
    case Kind::kPdf: return 3;
    case Kind::kJava: return 4;
    case Kind::kMbr: return 5;
    case Kind::kHtml: return 6;
    case Kind::kMail: return 7;
    default: return 8;  // kOther, kIgnored
  }
}
bool AlwaysWins(Kind k) { return k == Kind::kPe || k == Kind::kOther || k == Kind::kIgnored; }

// One byte position of a pattern: matches c when (c & mask) equals a or b.
struct Elem {
  uint8_t a = 0;
  uint8_t b = 0;
  uint8_t mask = 0xff;
  bool Matches(uint8_t c) const { return (c & mask) == a || (c & mask) == b; }
  bool Fixed() const { return mask == 0xff && a == b; }
};

// A run of elements without gaps. Built from text where '~' before a letter makes that
// letter match either case and every other byte is literal.
struct Part {
  std::vector<Elem> elems;
};

Part Lit(std::string_view s) {
  Part p;
  for (size_t i = 0; i < s.size(); ++i) {
    uint8_t c = static_cast<uint8_t>(s[i]);
    const bool letter_follows =
        i + 1 < s.size() && ((s[i + 1] >= 'a' && s[i + 1] <= 'z') || (s[i + 1] >= 'A' && s[i + 1] <= 'Z'));
    if (c == '~' && letter_follows) {
      uint8_t l = static_cast<uint8_t>(s[++i]);
      uint8_t upper = (l >= 'a' && l <= 'z') ? static_cast<uint8_t>(l - 32) : l;
      uint8_t lower = (l >= 'A' && l <= 'Z') ? static_cast<uint8_t>(l + 32) : l;
      p.elems.push_back({upper, lower, 0xff});
    } else {
      p.elems.push_back({c, c, 0xff});
    }
  }
  return p;
}
Part Any(size_t n) { return Part{std::vector<Elem>(n, Elem{0, 0, 0})}; }
Part operator+(Part x, const Part& y) {
  x.elems.insert(x.elems.end(), y.elems.begin(), y.elems.end());
  return x;
}

constexpr uint64_t kUnbounded = ~uint64_t{0};
constexpr size_t kMaxTypeSigs = 128;  // the table below has 64

// Where the first part may start, relative to the start of the file.
struct Start {
  uint64_t lo = 0;
  uint64_t hi = kUnbounded;
  bool from_eof = false;  // lo is counted back from the end of the file
};
Start Anywhere() { return {}; }
Start At(uint64_t off) { return {off, off, false}; }
Start Within(uint64_t lo, uint64_t hi) { return {lo, hi, false}; }
Start EofMinus(uint64_t n) { return {n, n, true}; }

// A type signature of one or two parts; a gap of [gap_min, gap_max] bytes separates
// them. Every on-the-fly signature ClamAV ships needs at most two parts once fixed
// gaps ({n}) are written as wildcards.
struct TypeSig {
  Kind kind;
  Start start;
  Part first;
  Part second;  // empty: single part
  uint64_t gap_min = 0;
  uint64_t gap_max = 0;
};

// The on-the-fly ("type 1") signatures of clamscan 1.4.6's built-in file-type table,
// restated. ISO9660 is left out: its parts are >= 2043 bytes apart, so it can never
// match inside the typing window, and in the raw scan it only adds an embedded child.
const std::vector<TypeSig>& OnTheFlySigs() {
  static const std::vector<TypeSig> sigs = [] {
    std::vector<TypeSig> v;
    auto one = [&v](Kind k, Start s, Part p) { v.push_back({k, s, std::move(p), {}, 0, 0}); };
    auto two = [&v](Kind k, Start s, Part p, uint64_t gmin, uint64_t gmax, Part q) {
      v.push_back({k, s, std::move(p), std::move(q), gmin, gmax});
    };
    // HTML markers come in a few fixed spellings; they are not case-insensitive:
    // "<hTmL>", "<body>" and "<!doctype html>" do not make a file HTML [observed].
    for (std::string_view m :
         {"<HEAD>"sv, "<HTML>"sv, "<Head>"sv, "<Html>"sv, "<IFRAME"sv, "<IMG"sv, "<Img"sv, "<OBJECT"sv,
          "<Object"sv, "<SCRIPT"sv, "<Script"sv, "<TABLE"sv, "<head>"sv, "<html>"sv, "<iframe"sv, "<img"sv,
          "<object"sv, "<script"sv, "<table"sv}) {
      one(Kind::kHtml, Anywhere(), Lit(m));
    }
    // "<a " ... "href" / "HREF" (first two letters either case, "EF" or "ef").
    two(Kind::kHtml, Anywhere(), Lit("<~a "), 0, kUnbounded, Lit("~h~rEF"));
    two(Kind::kHtml, Anywhere(), Lit("<~a "), 0, kUnbounded, Lit("~h~ref"));
    one(Kind::kHtml, At(0), Lit("<%@ LANGUAGE ="));
    // An embedded PE header: "MZ", 60..300 bytes, "PE\0\0".
    two(Kind::kPe, Anywhere(), Lit("MZ"), 60, 300, Lit("PE\0\0"sv));
    // "%PDF-" or "%pdf-", one byte, "." anywhere.
    one(Kind::kPdf, Anywhere(), Lit("%PDF-") + Any(1) + Lit("."));
    one(Kind::kPdf, Anywhere(), Lit("%pdf-") + Any(1) + Lit("."));
    // Mail headers near the top: the first part must start in the first 1024 bytes
    // (2048 for Received:).
    two(Kind::kMail, Within(0, 1024), Lit("\n~from: "), 0, 1024, Lit("\n~m~i~m~e-~version: "));
    two(Kind::kMail, Within(0, 1024), Lit("\n~from: "), 0, 2048, Lit("\n~content-~type: "));
    two(Kind::kMail, Within(0, 1024), Lit("\n~m~i~m~e-~version: "), 0, 2048, Lit("\n~content-~type: "));
    two(Kind::kMail, Within(0, 1024), Lit("\n~message-~id: "), 0, 1024, Lit("\n~content-~type: "));
    two(Kind::kMail, Within(0, 2048), Lit("\n~received: "), 0, 2048, Lit("\n~content-~type: "));
    two(Kind::kMail, Within(0, 1024), Lit("Delivered-To:"), 0, 256, Lit("Received:"));
    // MHTML is its own type (not target 4): "MIME-Version:" at the very start, or after a
    // newline anywhere, followed within 1024 bytes by "Content-Type:". A file that
    // starts with MIME-Version/Content-Type is not typed as mail [observed].
    two(Kind::kOther, At(0), Lit("~m~i~m~e-~version: "), 0, 1024, Lit("\n~content-~type: "));
    two(Kind::kOther, Anywhere(), Lit("\n~m~i~m~e-~version: "), 0, 1024, Lit("\n~content-~type: "));
    // Fat Mach-O and Java class share CAFEBABE; the byte after three zero bytes tells
    // them apart: 0x00-0x1f is an architecture count, 0x20-0x3f a Java major version
    // (45..63). Anything else, e.g. Java 20+ (major 64+) or a nonzero minor version, is
    // neither [observed].
    one(Kind::kMachO, At(0), Lit("\xca\xfe\xba\xbe\0\0\0"sv) + Part{{Elem{0x00, 0x00, 0xe0}}});
    one(Kind::kJava, At(0), Lit("\xca\xfe\xba\xbe\0\0\0"sv) + Part{{Elem{0x20, 0x20, 0xe0}}});
    one(Kind::kSis, Within(8, 20), Lit("\x19\x04\x00\x10"sv));
    one(Kind::kMbr, At(510), Lit("\x55\xaa"));
    one(Kind::kIgnored, Within(0, 128),
        Lit("/RGB\nID\n") + Part{std::vector<Elem>(24, Elem{0xff, 0xff, 0xff})});
    // SFX markers and other containers; any of them ends target typing.
    one(Kind::kOther, Anywhere(), Lit("PK\x03\x04"));
    one(Kind::kOther, Anywhere(), Lit("Rar!\x1a\x07\0"sv));
    for (std::string_view tail : {"\0\x02"sv, "\x01\x02"sv, "\x02\x02"sv})
      one(Kind::kOther, Anywhere(), Lit("\x60\xea") + Any(7) + Lit(tail));
    one(Kind::kOther, Anywhere(),
        Lit("\xa3\x48\x4b\xbe\x98\x6c\x4a\xa9\x99\x4c\x53\x0a\x86\xd6\x48\x7d\x41U3!EA0") +
            Part{{Elem{'5', '6', 0xff}}});
    one(Kind::kOther, Anywhere(), Lit("\xef\xbe\xad\xdeNullsoftInst"));
    one(Kind::kOther, Anywhere(),
        Lit("InstallShield\0"sv) + Any(292) + Lit("\x06\0\0\0\0\0\0\0"sv) + Any(8) + Lit("\0\0\0\0\x01"sv));
    one(Kind::kOther, Anywhere(), Lit("MSCF\0\0\0\0"sv));
    one(Kind::kOther, Anywhere(), Lit("7z\xbc\xaf\x27\x1c"));
    one(Kind::kOther, Within(0, 32768), Lit("\0BEA01"sv));  // UDF
    one(Kind::kOther, EofMinus(512), Lit("koly"));          // DMG trailer
    one(Kind::kOther, Anywhere(), Lit("<xdp:xdp"));
    one(Kind::kOther, At(0), Lit("ER") + Any(510) + Lit("PM\0\0"sv));  // Apple partition map
    const Part xml = Lit("<?xml version=\"1.0\"");
    for (const Part& tail : {Lit("<Workbook"), Lit("<wordDocument"), Lit("<") + Any(2) + Lit(":Workbook"),
                             Lit("<") + Any(2) + Lit(":wordDocument"), Lit("progid=\"Word.Document\"?>")}) {
      two(Kind::kOther, At(0), xml, 0, 1024, tail);
    }
    two(Kind::kOther, At(0), Lit("\xef\xbb\xbf") + xml, 0, kUnbounded, Lit("<HWPML"));
    one(Kind::kOther, At(0), Any(1) + Lit("\r\r\n"));                                // Python 3.7+ bytecode
    one(Kind::kOther, At(2), Lit("-lh") + Part{{Elem{'0', '0', 0xf8}}} + Lit("-"));  // -lh0- .. -lh7-
    one(Kind::kOther, At(2), Lit("-lh") + Part{{Elem{'d', 'x', 0xff}}} + Lit("-"));
    one(Kind::kOther, At(2), Lit("-lz") + Part{{Elem{'s', '4', 0xff}}} + Lit("-"));
    one(Kind::kOther, At(2), Lit("-lz5-"));
    one(Kind::kOther, At(2), Lit("-pm0-"));
    // FoldMatches() keeps per-signature state in fixed arrays; outgrowing them is a
    // programming error that every test run would hit.
    if (v.size() > kMaxTypeSigs) std::abort();
    return v;
  }();
  return sigs;
}

// Fixed magics ("type 0"). The first that matches decides the type and stage 2 is
// skipped, so non-target formats are listed too: a file starting with "begin " or
// "PK\3\4" is not text for target 7 purposes.
struct Magic {
  uint32_t offset;
  std::string_view bytes;
  Kind kind;
};

// A bare "MZ" is enough for ClamAV's target 1: body signatures with Target:1 fire on
// "MZ" followed by anything [observed]; only EP/section offsets need a parsable PE.
constexpr Magic kMagics[] = {
    {0, "MZ"sv, Kind::kPe},
    {0, "\x7f\x45LF"sv, Kind::kElf},
    {0, "\xce\xfa\xed\xfe"sv, Kind::kMachO},
    {0, "\xcf\xfa\xed\xfe"sv, Kind::kMachO},
    {0, "\xfe\xed\xfa\xce"sv, Kind::kMachO},
    {0, "\xfe\xed\xfa\xcf"sv, Kind::kMachO},
    {0, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"sv, Kind::kOle2},
    {0, "%PDF-"sv, Kind::kPdf},
    {0, "GIF"sv, Kind::kGraphics},
    {0, "\x89PNG"sv, Kind::kGraphics},
    {0, "\xff\xd8\xff"sv, Kind::kGraphics},
    {0, "BM"sv, Kind::kGraphics},
    {0, "II*\0"sv, Kind::kGraphics},
    {0, "MM"sv, Kind::kGraphics},                        // TIFF big endian: two bytes are all ClamAV checks
    {0, "\0\0\0\x0cjP  \r\n\x87\n"sv, Kind::kGraphics},  // JPEG 2000
    {0, "FWS"sv, Kind::kFlash},
    {0, "CWS"sv, Kind::kFlash},
    {0, "ZWS"sv, Kind::kFlash},
    // Mail: header names at offset 0, case-sensitive as listed (lower-case "subject:"
    // is plain text [observed]).
    {0, ">From "sv, Kind::kMail},
    {0, "Date: "sv, Kind::kMail},
    {0, "Delivered-To: "sv, Kind::kMail},
    {0, "Delivery-date: "sv, Kind::kMail},
    {0, "Envelope-to: "sv, Kind::kMail},
    {0, "For: "sv, Kind::kMail},
    {0, "From "sv, Kind::kMail},
    {0, "From: "sv, Kind::kMail},
    {0, "Hi. This is the qmail-send"sv, Kind::kMail},
    {0, "Message-ID: "sv, Kind::kMail},
    {0, "Message-Id: "sv, Kind::kMail},
    {0, "Received: "sv, Kind::kMail},
    {0, "Received-SPF: "sv, Kind::kMail},
    {0, "Return-Path: "sv, Kind::kMail},
    {0, "Return-path: "sv, Kind::kMail},
    {0, "Subject: "sv, Kind::kMail},
    {0, "To: "sv, Kind::kMail},
    {0, "X-Apparently-To: "sv, Kind::kMail},
    {0, "X-EVS"sv, Kind::kMail},
    {0, "X-Envelope-From: "sv, Kind::kMail},
    {0, "X-Original-To: "sv, Kind::kMail},
    {0, "X-Real-To: "sv, Kind::kMail},
    {0, "X-Sieve: "sv, Kind::kMail},
    {0, "X-Symantec-"sv, Kind::kMail},
    {0, "X-UIDL: "sv, Kind::kMail},
    {0, "v:\nReceived: "sv, Kind::kMail},
    {0, "v:\r\nReceived: "sv, Kind::kMail},
    // Formats that are no target type.
    {0, "\x1f\x8b"sv, Kind::kOther},
    {0, "#@~^"sv, Kind::kOther},
    {0, "%!PS-Adobe-"sv, Kind::kOther},
    {0, "(This file must be converted with BinHex 4.0)"sv, Kind::kOther},
    {0, "BZh"sv, Kind::kOther},
    {0, "ITSF"sv, Kind::kOther},
    {0, "PK\x03\x04"sv, Kind::kOther},
    {0, "PK00PK\x03\x04"sv, Kind::kOther},
    {0, "RIFF"sv, Kind::kOther},
    {0, "RIFX"sv, Kind::kOther},
    {0, "Rar!"sv, Kind::kOther},
    {0, "SZDD"sv, Kind::kOther},
    {0, "\x60\xea"sv, Kind::kOther},
    {0, "begin "sv, Kind::kOther},
    {0, "x\x9f>\""sv, Kind::kOther},
    {0, "\xb6\xb9\xac\xae\xfe\xff\xff\xff"sv, Kind::kOther},
    {0, "{\\rt"sv, Kind::kOther},
    {257, "ustar"sv, Kind::kOther},
    {0, "[aliases]"sv, Kind::kOther},
    {0, "7z\xbc\xaf\x27\x1c"sv, Kind::kOther},
    {0, "070701"sv, Kind::kOther},
    {0, "070702"sv, Kind::kOther},
    {0, "070707"sv, Kind::kOther},
    {0, "\x71\xc7"sv, Kind::kOther},
    {0, "\xc7\x71"sv, Kind::kOther},
    {0, "MSCF\0\0\0\0"sv, Kind::kOther},
    {0, "xar!"sv, Kind::kOther},
    {0, "\xfd\x37zXZ\0"sv, Kind::kOther},
    {512, "EFI PART"sv, Kind::kOther},
    {4, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"sv, Kind::kOther},  // OLE2 inside HWP
    {0, "HWP Document File V3.00 \x1a\x01\x02\x03\x04\x05"sv, Kind::kOther},
    {0, "L\0\0\0\x01\x14\x02\0\0\0\0\0\xc0\0\0\0\0\0\0\x46"sv, Kind::kOther},  // .lnk
    {0, "EGGA"sv, Kind::kOther},
    {0, "ALZ\x01"sv, Kind::kOther},
    {0, "{\n  \"Magic\":\"CLAMJSONv0\""sv, Kind::kOther},
    {0, "\xe4\x52\x5c\x7b\x8c\xd8\xa7\x4d\xae\xb1\x53\x78\xd0\x29\x96\xd3"sv, Kind::kOther},  // OneNote
    // Formats clamscan does not scan at all.
    {0, ".RMF"sv, Kind::kIgnored},
    {0, "ID3"sv, Kind::kIgnored},
    {0, "OggS"sv, Kind::kIgnored},
    {0, "\xff\xfb\x90"sv, Kind::kIgnored},
    {0, "SIP-HIT (SIP/H"sv, Kind::kIgnored},
    {0, "SYMC\x01\0"sv, Kind::kIgnored},
    {0, "\x37\x7f\x06\x82\0\x2d\xe2\x18"sv, Kind::kIgnored},
    {0, "\x37\x7f\x06\x83\0\x2d\xe2\x18"sv, Kind::kIgnored},
    {0, "SQLite format 3\0"sv, Kind::kIgnored},
    {0, "\xd9\xd5\x05\xf9\x20\xa1\x63\xd7"sv, Kind::kIgnored},
    // MPEG streams are forced to "binary data": no text typing, stage 2 still runs.
    {0, "\0\0\x01\xb3"sv, Kind::kBinary},
    {0, "\0\0\x01\xba"sv, Kind::kBinary},
};

// Compiled Python (.pyc): a 16-bit version magic followed by "\r\n". The low bytes of
// the magics ClamAV lists; the high byte selects the Python release.
bool IsPycMagic(Bytes w) {
  if (w.size() < 4) return false;
  if (w[2] != '\r' || w[3] != '\n') {
    // Python 1.0-1.2: 02 09 99 00 and 03 09 99 00.
    return (w[0] == 0x02 || w[0] == 0x03) && w[1] == 0x09 && w[2] == 0x99 && w[3] == 0x00;
  }
  static constexpr uint16_t kMagics[] = {
      0x2e89, 0x1704, 0x4e99, 0xc4fc, 0xc4fd, 0xc687, 0xc688, 0xeb2a, 0xeb2b, 0xed2d, 0xed2e, 0xf23b, 0xf23c,
      0xf245, 0xf259, 0xf263, 0xf26d, 0xf26e, 0xf277, 0xf281, 0xf28b, 0xf28c, 0xf295, 0xf29f, 0xf2a9, 0xf2b3,
      0xf2b4, 0xf2c7, 0xf2d1, 0xf2d2, 0xf2db, 0xf2e5, 0xf2ef, 0xf2f9, 0xf303, 0xf304, 0xf30a, 0x0bb8, 0x0bc2,
      0x0bcc, 0x0bd6, 0x0be0, 0x0bea, 0x0bf4, 0x0bf5, 0x0bff, 0x0c09, 0x0c13, 0x0c1d, 0x0c1f, 0x0c27, 0x0c3b,
      0x0c45, 0x0c4f, 0x0c58, 0x0c62, 0x0c6c, 0x0c76, 0x0c80, 0x0c8a, 0x0c94, 0x0c9e, 0x0cb2, 0x0cbc, 0x0cc6,
      0x0cd0, 0x0cda, 0x0ce4, 0x0cee, 0x0cf8, 0x0d02, 0x0d0c, 0x0d16, 0x0d17, 0x0d20, 0x0d21, 0x0d2a, 0x0d2b,
      0x0d2c, 0x0d2d, 0x0d2f, 0x0d30, 0x0d31, 0x0d32, 0x0d33, 0x0d3e, 0x0d3f, 0x0df0, 0x0100, 0x0150};
  uint16_t m = static_cast<uint16_t>(w[0] | (w[1] << 8));
  return std::find(std::begin(kMagics), std::end(kMagics), m) != std::end(kMagics);
}

Kind MatchMagic(Bytes w) {
  for (const Magic& m : kMagics) {
    if (m.offset <= w.size() && m.bytes.size() <= w.size() - m.offset &&
        std::memcmp(w.data() + m.offset, m.bytes.data(), m.bytes.size()) == 0)
      return m.kind;
  }
  if (IsPycMagic(w)) return Kind::kOther;
  return Kind::kNone;
}

// ---------------------------------------------------------------------------
// Text classification: file(1)'s ascmagic tables as libclamav's textdet.c uses them.

enum class TextClass : uint8_t { kAscii, kUtf8, kUtf16, kBinary };

// Bytes that never appear in text: NUL..ACK, VT, SO..SUB, FS..US and DEL. Everything
// >= 0x80 is allowed, so Latin-1 counts as "ASCII" here [observed].
bool NeverInText(uint8_t c) {
  return c <= 0x06 || c == 0x0b || (c >= 0x0e && c <= 0x1a) || (c >= 0x1c && c <= 0x1f) || c == 0x7f;
}
// Plain ASCII text characters (BEL..CR except VT, ESC, printable, and NEL 0x85).
bool PlainText(uint8_t c) {
  return (c >= 0x07 && c <= 0x0d && c != 0x0b) || c == 0x1b || (c >= 0x20 && c <= 0x7e) || c == 0x85;
}

bool LooksAscii(Bytes b) { return std::none_of(b.begin(), b.end(), NeverInText); }

bool LooksUtf8(Bytes b) {
  bool got_one = false;
  for (size_t i = 0; i < b.size(); ++i) {
    uint8_t c = b[i];
    if ((c & 0x80) == 0) {
      if (!PlainText(c)) return false;
      continue;
    }
    if ((c & 0x40) == 0) return false;  // continuation byte first
    int following = 0;
    if ((c & 0x20) == 0)
      following = 1;
    else if ((c & 0x10) == 0)
      following = 2;
    else if ((c & 0x08) == 0)
      following = 3;
    else if ((c & 0x04) == 0)
      following = 4;
    else if ((c & 0x02) == 0)
      following = 5;
    else
      return false;
    for (int j = 0; j < following; ++j) {
      if (++i >= b.size()) return got_one;  // sequence cut by the window end
      if ((b[i] & 0xc0) != 0x80) return false;
    }
    got_one = true;
  }
  return got_one;
}

// UTF-16 heuristic. Without a byte-order mark the code units are read big endian from
// offset 2 and any unit >= 0x80 passes, so ordinary text with one control byte at an
// odd offset is "UTF-16BE text" to ClamAV, and still gets target-7 scanning [observed].
bool LooksUtf16(Bytes b) {
  if (b.size() < 2) return false;
  bool big_endian = true;
  bool bom = true;
  if (b[0] == 0xff && b[1] == 0xfe)
    big_endian = false;
  else if (!(b[0] == 0xfe && b[1] == 0xff))
    bom = false;
  size_t bad = 0;
  for (size_t i = 2; i + 1 < b.size(); i += 2) {
    unsigned c = big_endian ? (b[i] << 8 | b[i + 1]) : (b[i + 1] << 8 | b[i]);
    if (c == 0xfffe) return false;
    if (c < 0x80 && !PlainText(static_cast<uint8_t>(c))) {
      if (!bom) return false;
      ++bad;
    }
  }
  return !(bom && bad >= b.size() / 2);
}

TextClass ClassifyText(Bytes w) {
  if (LooksAscii(w)) return TextClass::kAscii;
  if (LooksUtf8(w)) return TextClass::kUtf8;  // unreachable in practice: kept for fidelity
  if (LooksUtf16(w)) return TextClass::kUtf16;
  return TextClass::kBinary;
}

// ---------------------------------------------------------------------------
// On-the-fly matching.

bool PartAt(const Part& p, Bytes d, size_t at) {
  if (at > d.size() || p.elems.size() > d.size() - at) return false;
  for (size_t i = 0; i < p.elems.size(); ++i)
    if (!p.elems[i].Matches(d[at + i])) return false;
  return true;
}

// Next position in [from, last] where p matches; kNpos when none.
constexpr size_t kNpos = ~size_t{0};
size_t FindPart(const Part& p, Bytes d, size_t from, size_t last) {
  if (p.elems.empty() || p.elems.size() > d.size()) return kNpos;
  last = std::min(last, d.size() - p.elems.size());
  const Elem& e0 = p.elems[0];
  for (size_t i = from; i <= last; ++i) {
    if (e0.Fixed()) {
      // Most parts start with a fixed byte ('<', '\n', 'M'): let memchr skip ahead.
      const void* hit = std::memchr(d.data() + i, e0.a, last - i + 1);
      if (!hit) return kNpos;
      i = static_cast<size_t>(static_cast<const uint8_t*>(hit) - d.data());
    } else if (!e0.Matches(d[i])) {
      continue;
    }
    if (PartAt(p, d, i)) return i;
  }
  return kNpos;
}

// Last position in [first, last] where p matches; kNpos when none. Only the last match
// of a signature matters to the fold, so searching from the end usually stops early.
size_t FindPartBackward(const Part& p, Bytes d, size_t first, size_t last) {
  if (p.elems.empty() || p.elems.size() > d.size()) return kNpos;
  last = std::min(last, d.size() - p.elems.size());
  if (first > last) return kNpos;
  const Elem& e0 = p.elems[0];
  for (size_t i = last + 1; i > first;) {  // i: one past the next candidate
    if (e0.Fixed()) {
      const void* hit = ::memrchr(d.data() + first, e0.a, i - first);  // glibc
      if (!hit) return kNpos;
      i = static_cast<size_t>(static_cast<const uint8_t*>(hit) - d.data());
    } else if (!e0.Matches(d[--i])) {
      continue;
    }
    if (PartAt(p, d, i)) return i;
  }
  return kNpos;
}

// End offset (one past the last byte) of the last complete match of `sig` in `d`, or
// kNpos. `file_size` anchors EOF-relative starts. Linear in d.size().
size_t LastMatchEnd(const TypeSig& sig, Bytes d, uint64_t file_size) {
  uint64_t lo = sig.start.lo, hi = sig.start.hi;
  if (sig.start.from_eof) {
    if (file_size < sig.start.lo) return kNpos;
    lo = hi = file_size - sig.start.lo;
  }
  if (lo >= d.size()) return kNpos;
  const size_t first_last = static_cast<size_t>(std::min<uint64_t>(hi, d.size()));
  const size_t len0 = sig.first.elems.size();
  const size_t len1 = sig.second.elems.size();
  if (len1 == 0) {
    size_t s = FindPartBackward(sig.first, d, lo, first_last);
    return s == kNpos ? kNpos : s + len0;
  }
  size_t next0 = FindPart(sig.first, d, lo, first_last);
  if (next0 == kNpos) return kNpos;
  if (sig.gap_max == kUnbounded) {
    // The earliest first part allows the most second parts; take the last of those.
    size_t q = FindPartBackward(sig.second, d, next0 + len0 + sig.gap_min, kNpos);
    return q == kNpos ? kNpos : q + len1;
  }
  // Bounded gap: pair each second part with the most recent first part that ends at
  // least gap_min bytes before it, the only candidate for the upper bound.
  size_t result = kNpos;
  size_t recent_end = kNpos;
  for (size_t q = FindPart(sig.second, d, next0 + len0, kNpos); q != kNpos;
       q = FindPart(sig.second, d, q + 1, kNpos)) {
    while (next0 != kNpos && next0 + len0 + sig.gap_min <= q) {
      recent_end = next0 + len0;
      next0 = FindPart(sig.first, d, next0 + 1, first_last);
    }
    if (recent_end != kNpos && q - recent_end <= sig.gap_max) result = q + len1;
    // No first part left that could pair with this or any later second part.
    if (next0 == kNpos && recent_end != kNpos && q - recent_end > sig.gap_max) break;
  }
  return result;
}

// Markup signatures, which all start with '<'. Markup-heavy text (XML, SVG, code) has
// a '<' every few bytes, so they share one pass over the '<' positions and only the
// signatures whose second byte matches are tried: on 8 MB of XML that is 4 ms instead
// of 30 ms for a pass per signature.
struct MarkupIndex {
  // By the byte after '<': unanchored single-part signatures, matched in the shared
  // pass of FoldMatches() ...
  std::array<std::vector<uint8_t>, 256> batched;
  // ... and every HTML signature, for MayHaveHtml().
  std::array<std::vector<uint8_t>, 256> html;
  std::array<bool, kMaxTypeSigs> is_batched{};
};

const MarkupIndex& Markup() {
  static const MarkupIndex index = [] {
    MarkupIndex m;
    const std::vector<TypeSig>& sigs = OnTheFlySigs();
    for (size_t i = 0; i < sigs.size(); ++i) {
      const TypeSig& sig = sigs[i];
      const Part& p = sig.first;
      if (p.elems.size() < 2 || !p.elems[0].Fixed() || p.elems[0].a != '<' || p.elems[1].mask != 0xff)
        continue;
      const uint8_t a = p.elems[1].a, b = p.elems[1].b, k = static_cast<uint8_t>(i);
      if (sig.kind == Kind::kHtml) {
        m.html[a].push_back(k);
        if (b != a) m.html[b].push_back(k);
      }
      if (sig.second.elems.empty() && sig.start.lo == 0 && sig.start.hi == kUnbounded &&
          !sig.start.from_eof) {
        m.batched[a].push_back(k);
        if (b != a) m.batched[b].push_back(k);
        m.is_batched[i] = true;
      }
    }
    return m;
  }();
  return index;
}

// The type libclamav's on-the-fly matcher settles on for `d`. Each signature is reduced
// to its last match end, which is enough: the fold's final value is the last
// always-winning match, unless a higher-ranked match ends after it.
Kind FoldMatches(Bytes d, uint64_t file_size) {
  const std::vector<TypeSig>& sigs = OnTheFlySigs();
  const MarkupIndex& markup = Markup();
  std::array<size_t, kMaxTypeSigs> last_end;
  last_end.fill(kNpos);
  // The shared backward pass over '<' for the batched markup signatures.
  size_t missing = 0;
  for (bool b : markup.is_batched) missing += b;
  for (size_t i = d.size(); missing && i > 0;) {
    const void* hit = ::memrchr(d.data(), '<', i);
    if (!hit) break;
    i = static_cast<size_t>(static_cast<const uint8_t*>(hit) - d.data());
    if (i + 1 >= d.size()) continue;
    for (uint8_t k : markup.batched[d[i + 1]]) {
      if (last_end[k] == kNpos && PartAt(sigs[k].first, d, i)) {
        last_end[k] = i + sigs[k].first.elems.size();
        --missing;
      }
    }
  }

  struct Hit {
    size_t end;
    Kind kind;
  };
  std::array<Hit, kMaxTypeSigs> hits;
  size_t n = 0;
  for (size_t k = 0; k < sigs.size(); ++k) {
    const size_t end = markup.is_batched[k] ? last_end[k] : LastMatchEnd(sigs[k], d, file_size);
    if (end == kNpos) continue;
    if (sigs[k].kind == Kind::kIgnored) return Kind::kIgnored;  // ClamAV stops right there
    hits[n++] = {end, sigs[k].kind};
  }
  if (n == 0) return Kind::kNone;
  // Latest always-winning match; ties at one end position go to the higher rank.
  const Hit* pivot = nullptr;
  for (size_t i = 0; i < n; ++i) {
    const Hit& h = hits[i];
    if (AlwaysWins(h.kind) &&
        (!pivot || h.end > pivot->end || (h.end == pivot->end && Rank(h.kind) > Rank(pivot->kind))))
      pivot = &h;
  }
  Kind best = pivot ? pivot->kind : Kind::kNone;
  int best_rank = pivot ? Rank(pivot->kind) : -1;
  for (size_t i = 0; i < n; ++i) {
    const Hit& h = hits[i];
    if (AlwaysWins(h.kind) || (pivot && h.end < pivot->end)) continue;
    if (Rank(h.kind) > best_rank) {
      best = h.kind;
      best_rank = Rank(h.kind);
    }
  }
  return best;
}

// libclamav's UTF-16 HTML probe: each byte pair (lo, hi) becomes (hi << 4) + lo,
// truncated to a byte. For UTF-16LE ASCII that is the character itself.
size_t DecodePairs(Bytes w, std::array<uint8_t, kTypingWindow / 2>* out) {
  size_t n = w.size() / 2;
  for (size_t j = 0; j < n; ++j) (*out)[j] = static_cast<uint8_t>((w[2 * j + 1] << 4) + w[2 * j]);
  return n;
}

// Text behind a UTF-16 byte-order mark, reduced to ASCII (other characters become
// 0x80, which no marker contains). ClamAV converts BOM-marked files before looking
// for HTML a last time.
size_t DecodeBom(Bytes w, std::array<uint8_t, kTypingWindow / 2>* out) {
  if (w.size() < 4) return 0;
  bool be;
  if (w[0] == 0xfe && w[1] == 0xff && !(w[2] == 0 && w[3] == 0))
    be = true;
  else if (w[0] == 0xff && w[1] == 0xfe && !(w[2] == 0 && w[3] == 0))
    be = false;
  else
    return 0;
  size_t n = 0;
  for (size_t i = 2; i + 1 < w.size() && n < out->size(); i += 2) {
    unsigned c = be ? (w[i] << 8 | w[i + 1]) : (w[i + 1] << 8 | w[i]);
    (*out)[n++] = c < 0x80 ? static_cast<uint8_t>(c) : 0x80;
  }
  return n;
}

// Whether some HTML signature's first part occurs anywhere: one memchr pass over '<'.
// It keeps the whole-file fold below off the common path of text without markup.
bool MayHaveHtml(Bytes d) {
  const MarkupIndex& markup = Markup();
  const std::vector<TypeSig>& sigs = OnTheFlySigs();
  for (size_t i = 0; i + 1 < d.size(); ++i) {
    const void* hit = std::memchr(d.data() + i, '<', d.size() - 1 - i);
    if (!hit) return false;
    i = static_cast<size_t>(static_cast<const uint8_t*>(hit) - d.data());
    for (uint8_t k : markup.html[d[i + 1]])
      if (PartAt(sigs[k].first, d, i)) return true;
  }
  return false;
}

TargetType ToTarget(Kind k) {
  switch (k) {
    case Kind::kPe: return TargetType::kPE;
    case Kind::kElf: return TargetType::kELF;
    case Kind::kMachO: return TargetType::kMachO;
    case Kind::kOle2: return TargetType::kOLE2;
    case Kind::kGraphics: return TargetType::kGraphics;
    case Kind::kPdf: return TargetType::kPDF;
    case Kind::kFlash: return TargetType::kFlash;
    case Kind::kJava: return TargetType::kJava;
    case Kind::kMail: return TargetType::kMail;
    case Kind::kHtml: return TargetType::kHTML;
    default: return TargetType::kAny;
  }
}

// ---------------------------------------------------------------------------
// Bounds-checked integer reads.

class Reader {
 public:
  Reader(Bytes data, bool big_endian) : data_(data), big_endian_(big_endian) {}

  bool Has(uint64_t off, uint64_t len) const { return off <= data_.size() && len <= data_.size() - off; }
  bool U16(uint64_t off, uint16_t* out) const { return Read(off, 2, out); }
  bool U32(uint64_t off, uint32_t* out) const { return Read(off, 4, out); }
  bool U64(uint64_t off, uint64_t* out) const { return Read(off, 8, out); }

 private:
  template <typename T>
  bool Read(uint64_t off, unsigned len, T* out) const {
    if (!Has(off, len)) return false;
    uint64_t v = 0;
    for (unsigned i = 0; i < len; ++i) {
      uint8_t byte = data_[off + (big_endian_ ? i : len - 1 - i)];
      v = v << 8 | byte;
    }
    *out = static_cast<T>(v);
    return true;
  }

  Bytes data_;
  bool big_endian_;
};

uint64_t ClampToFile(uint64_t raw, uint64_t size, uint64_t file_size) {
  if (raw >= file_size) return 0;
  return std::min(size, file_size - raw);
}

// ---------------------------------------------------------------------------
// PE, as libclamav's cli_peheader() sees it for signature offsets.

// Alignment helpers in 32-bit arithmetic, wrapping like ClamAV's PEALIGN/PESALIGN.
uint32_t AlignDown(uint32_t v, uint32_t a) { return a ? v / a * a : v; }
uint32_t AlignUp(uint32_t v, uint32_t a) { return a ? (v / a + (v % a != 0)) * a : v; }

struct PeSection {
  uint32_t rva, vsz, raw, rsz;
};

std::optional<ExeInfo> ParsePe(Bytes data) {
  const Reader r(data, false);
  const uint64_t fsize = data.size();
  uint32_t lfanew = 0;
  if (!r.U32(0x3c, &lfanew) || lfanew == 0) return std::nullopt;
  uint32_t signature = 0;
  uint16_t nsections = 0, opt_size = 0, magic = 0;
  // File header: "PE\0\0", Machine, NumberOfSections, ..., SizeOfOptionalHeader (+20).
  if (!r.Has(lfanew, 24) || !r.U32(lfanew, &signature) || signature != 0x00004550) return std::nullopt;
  (void)r.U16(lfanew + 6, &nsections);
  (void)r.U16(lfanew + 20, &opt_size);
  // ClamAV has no 96-section limit any more: a 100-section PE still gets EP and Sx
  // offsets [observed]. The 16-bit count is the budget (at most 2.6 MB of headers).
  if (nsections == 0) return std::nullopt;
  const uint64_t opt = uint64_t{lfanew} + 24;
  // The fixed part of the optional header is 96 bytes (PE32) or 112 (PE32+); data
  // directories follow. Any magic other than 0x20b is read as PE32, as ClamAV does.
  if (opt_size < 96 || !r.Has(opt, 96) || !r.U16(opt, &magic)) return std::nullopt;
  const bool plus = magic == 0x20b;
  const uint32_t fixed = plus ? 112 : 96;
  if (plus && (opt_size < 112 || !r.Has(opt, 112))) return std::nullopt;
  uint32_t entry = 0, salign = 0, falign = 0, header_size = 0, ndirs = 0;
  (void)r.U32(opt + 16, &entry);
  (void)r.U32(opt + 32, &salign);
  (void)r.U32(opt + 36, &falign);
  (void)r.U32(opt + 60, &header_size);
  (void)r.U32(opt + (plus ? 108 : 92), &ndirs);
  const uint32_t dirs_size = std::min<uint32_t>(ndirs, 16) * 8;
  if (opt_size < fixed + dirs_size || !r.Has(opt + fixed, dirs_size)) return std::nullopt;
  const uint64_t table = opt + opt_size;
  if (!r.Has(table, uint64_t{nsections} * 40)) return std::nullopt;
  header_size = AlignUp(header_size, salign);

  // Sections whose raw pointer is 512-aligned but not FileAlignment-aligned make
  // ClamAV fall back to 512-byte file alignment for all sections.
  for (uint32_t i = 0; falign != 0x200 && i < nsections; ++i) {
    uint32_t raw_size = 0, raw_ptr = 0;
    (void)r.U32(table + i * 40 + 16, &raw_size);
    (void)r.U32(table + i * 40 + 20, &raw_ptr);
    if (falign && raw_size && raw_ptr % falign && !(raw_ptr % 0x200)) falign = 0x200;
  }

  ExeInfo info;
  info.type = TargetType::kPE;
  info.pe32_plus = plus;
  std::vector<PeSection> sections;
  sections.reserve(nsections);
  for (uint32_t i = 0; i < nsections; ++i) {
    const uint64_t h = table + i * 40;
    uint32_t vsize = 0, vaddr = 0, raw_size = 0, raw_ptr = 0;
    (void)r.U32(h + 8, &vsize);
    (void)r.U32(h + 12, &vaddr);
    (void)r.U32(h + 16, &raw_size);
    (void)r.U32(h + 20, &raw_ptr);
    // ClamAV works with aligned values: raw pointers rounded down to FileAlignment,
    // sizes rounded up, then raw sizes cut at the end of the file.
    PeSection s{AlignDown(vaddr, salign), AlignUp(vsize, salign), AlignDown(raw_ptr, falign),
                AlignUp(raw_size, falign)};
    uint32_t unaligned_raw_size = raw_size;
    if (s.rsz) {
      if (s.raw >= fsize || raw_ptr >= fsize) {
        s.rsz = 0;
        unaligned_raw_size = 0;
      } else {
        if (uint64_t{s.raw} + s.rsz > fsize) s.rsz = static_cast<uint32_t>(fsize - s.raw);
        if (uint64_t{raw_ptr} + unaligned_raw_size > fsize)
          unaligned_raw_size = static_cast<uint32_t>(fsize - raw_ptr);
      }
    }
    if (!s.vsz && s.rsz) s.vsz = AlignUp(unaligned_raw_size, salign);
    // Values with the sign bit set make ClamAV reject the whole file [observed].
    if (vaddr >> 31 || vsize >> 31 || (s.rsz && raw_ptr >> 31) || unaligned_raw_size >> 31)
      return std::nullopt;
    sections.push_back(s);
    info.sections.push_back({s.rva, s.vsz, s.raw, s.rsz});
  }

  // Entry point RVA to file offset (cli_rawaddr): inside the headers it is used as
  // is; otherwise the last section whose raw data covers it wins.
  if (entry < header_size) {
    if (entry >= fsize) return std::nullopt;
    info.entry_point_offset = entry;
  } else {
    auto it = std::find_if(sections.rbegin(), sections.rend(), [entry](const PeSection& s) {
      return s.rsz && s.rva <= entry && s.rsz > entry - s.rva;
    });
    if (it == sections.rend()) return std::nullopt;  // ClamAV drops EP and sections alike
    info.entry_point_offset = uint64_t{entry - it->rva} + it->raw;
  }
  info.has_entry_point = true;
  return info;
}

// ---------------------------------------------------------------------------
// ELF, as libclamav's cli_elfheader() sees it.

// Address arithmetic is done in the file's word size, wrapping like ClamAV's.
template <typename Word>
std::optional<ExeInfo> ParseElfT(Bytes data, bool big_endian) {
  constexpr bool k64 = sizeof(Word) == 8;
  const Reader r(data, big_endian);
  auto word = [&r](uint64_t off, Word* out) {
    if constexpr (k64)
      return r.U64(off, out);
    else
      return r.U32(off, out);
  };
  if (!r.Has(0, k64 ? 64 : 52)) return std::nullopt;
  Word entry = 0, phoff = 0, shoff = 0;
  uint16_t phentsize = 0, phnum = 0, shentsize = 0, shnum = 0;
  (void)word(24, &entry);
  (void)word(k64 ? 32 : 28, &phoff);
  (void)word(k64 ? 40 : 32, &shoff);
  (void)r.U16(k64 ? 54 : 42, &phentsize);
  (void)r.U16(k64 ? 56 : 44, &phnum);
  (void)r.U16(k64 ? 58 : 46, &shentsize);
  (void)r.U16(k64 ? 60 : 48, &shnum);

  ExeInfo info;
  info.type = TargetType::kELF;
  info.has_entry_point = true;
  // ClamAV refuses more than 128 program headers. With no program headers or a zero
  // e_entry it reports entry offset 0 rather than failing.
  if (phnum > 128) return std::nullopt;
  if (phnum && entry) {
    const uint32_t ph_size = k64 ? 56 : 32;
    if (phentsize != ph_size || !r.Has(phoff, uint64_t{phnum} * ph_size)) return std::nullopt;
    // The first program header of any type whose memory image holds e_entry; in
    // well-formed files that is the PT_LOAD segment, and ClamAV does not check p_type.
    bool found = false;
    for (uint16_t i = 0; i < phnum && !found; ++i) {
      const uint64_t h = uint64_t{phoff} + uint64_t{i} * ph_size;
      Word offset = 0, vaddr = 0, memsz = 0;
      (void)word(h + (k64 ? 8 : 4), &offset);
      (void)word(h + (k64 ? 16 : 8), &vaddr);
      (void)word(h + (k64 ? 40 : 20), &memsz);
      if (vaddr <= entry && static_cast<Word>(vaddr + memsz) > entry) {
        info.entry_point_offset = static_cast<Word>(entry - vaddr + offset);
        found = true;
      }
    }
    if (!found) return std::nullopt;
  }
  // Section headers: more than 256, a wrong e_shentsize (checked even when there are
  // no sections) or a table past the end of the file lose the EP too [observed].
  if (shnum > 256) return std::nullopt;
  const uint32_t sh_size = k64 ? 64 : 40;
  if (shentsize != sh_size) return std::nullopt;
  if (!r.Has(shoff, uint64_t{shnum} * sh_size)) return std::nullopt;
  info.sections.reserve(shnum);
  for (uint16_t i = 0; i < shnum; ++i) {
    const uint64_t h = uint64_t{shoff} + uint64_t{i} * sh_size;
    Word addr = 0, offset = 0, size = 0;
    (void)word(h + (k64 ? 16 : 12), &addr);
    (void)word(h + (k64 ? 24 : 16), &offset);
    (void)word(h + (k64 ? 32 : 20), &size);
    info.sections.push_back({static_cast<uint32_t>(addr),
                             static_cast<uint32_t>(std::min<uint64_t>(size, UINT32_MAX)), offset,
                             ClampToFile(offset, size, data.size())});
  }
  return info;
}

std::optional<ExeInfo> ParseElf(Bytes data) {
  if (data.size() < 6) return std::nullopt;
  // Any data encoding other than 1 (little endian) is read as big endian.
  const bool big_endian = data[5] != 1;
  switch (data[4]) {
    case 1: return ParseElfT<uint32_t>(data, big_endian);
    case 2: return ParseElfT<uint64_t>(data, big_endian);
    default: return std::nullopt;
  }
}

// ---------------------------------------------------------------------------
// Mach-O (thin), as libclamav's cli_machoheader() sees it.
//
// ClamAV takes the entry point only from a PowerPC LC_THREAD/LC_UNIXTHREAD; for x86 it
// reads the thread state but never uses eip, and LC_MAIN is not looked at. Every other
// Mach-O therefore has entry offset 0, so "EP+n" means file offset n [observed on an
// x86_64 LC_MAIN and an i386 LC_UNIXTHREAD binary]. We reproduce that, since official
// signatures were tested against it.
std::optional<ExeInfo> ParseMachO(Bytes data) {
  if (data.size() < 28) return std::nullopt;
  const uint32_t magic_le = data[0] | data[1] << 8 | data[2] << 16 | static_cast<uint32_t>(data[3]) << 24;
  bool big_endian, m64;
  switch (magic_le) {
    case 0xfeedface: big_endian = false, m64 = false; break;
    case 0xfeedfacf: big_endian = false, m64 = true; break;
    case 0xcefaedfe: big_endian = true, m64 = false; break;
    case 0xcffaedfe: big_endian = true, m64 = true; break;
    default: return std::nullopt;
  }
  const Reader r(data, big_endian);
  uint32_t cpu = 0, ncmds = 0;
  (void)r.U32(4, &cpu);
  (void)r.U32(16, &ncmds);
  enum class Arch { kOther, kX86, kPpc, kPpc64 } arch = Arch::kOther;
  if (cpu == 7)
    arch = Arch::kX86;
  else if (cpu == 18)
    arch = Arch::kPpc;
  else if (cpu == (18 | 0x1000000))
    arch = Arch::kPpc64;
  if (ncmds == 0 || ncmds > 1024) return std::nullopt;

  ExeInfo info;
  info.type = TargetType::kMachO;
  info.has_entry_point = true;
  uint64_t at = m64 ? 32 : 28;
  uint64_t entry = 0;
  for (uint32_t i = 0; i < ncmds; ++i) {
    uint32_t cmd = 0, cmdsize = 0;
    if (!r.U32(at, &cmd) || !r.U32(at + 4, &cmdsize)) return std::nullopt;
    at += 8;
    if (cmd == (m64 ? 0x19u : 0x1u)) {  // LC_SEGMENT_64 / LC_SEGMENT
      // ClamAV steps over the segment command and its sections by their struct sizes,
      // not by cmdsize.
      const uint64_t seg_size = m64 ? 64 : 48;
      uint32_t nsects = 0;
      if (!r.Has(at, seg_size) || !r.U32(at + seg_size - 8, &nsects)) return std::nullopt;
      at += seg_size;
      if (nsects > 255) return std::nullopt;
      const uint64_t sect_size = m64 ? 80 : 68;
      for (uint32_t j = 0; j < nsects; ++j, at += sect_size) {
        if (!r.Has(at, sect_size)) return std::nullopt;
        uint64_t addr = 0, size = 0;
        uint32_t addr32 = 0, size32 = 0, offset = 0, align = 0;
        if (m64) {
          (void)r.U64(at + 32, &addr);
          (void)r.U64(at + 40, &size);
          (void)r.U32(at + 48, &offset);
          (void)r.U32(at + 52, &align);
        } else {
          (void)r.U32(at + 32, &addr32);
          (void)r.U32(at + 36, &size32);
          (void)r.U32(at + 40, &offset);
          (void)r.U32(at + 44, &align);
          addr = addr32;
          size = size32;
          if (align >= 31) return std::nullopt;  // ClamAV rejects 2^align > INT32_MAX
        }
        // Raw size is the section size rounded up to its alignment, in 32 bits; a
        // 64-bit alignment exponent is taken modulo 32, as the x86 shift ClamAV relies on.
        const uint32_t vsz = static_cast<uint32_t>(size);
        const uint32_t alignment = uint32_t{1} << (align & 31);
        const uint32_t rsz = vsz + (alignment - vsz % alignment) % alignment;
        info.sections.push_back(
            {static_cast<uint32_t>(addr), vsz, offset, ClampToFile(offset, rsz, data.size())});
      }
    } else if (arch != Arch::kOther && (cmd == 0x4 || cmd == 0x5)) {  // LC_THREAD / LC_UNIXTHREAD
      at += 8;                                                        // flavor, count
      // Thread state sizes: i386 16 registers; ppc srr0, srr1, r0-r31 and six more;
      // ppc64 the same with 64-bit registers and padding (312 bytes).
      const uint64_t state_size = arch == Arch::kX86 ? 64 : arch == Arch::kPpc ? 160 : 312;
      if (!r.Has(at, state_size)) return std::nullopt;
      if (arch == Arch::kPpc) {
        uint32_t pc = 0;
        (void)r.U32(at, &pc);
        entry = pc;
      } else if (arch == Arch::kPpc64) {
        uint64_t pc = 0;
        (void)r.U64(at, &pc);
        entry = static_cast<uint32_t>(pc);  // ClamAV keeps the entry in an unsigned int
      }
      at += state_size;
    } else if (cmdsize > 8) {
      at += cmdsize - 8;
    }
  }
  if (entry && !info.sections.empty()) {
    // Virtual address to file offset through the first section that holds it.
    const uint32_t ep = static_cast<uint32_t>(entry);
    auto it = std::find_if(info.sections.begin(), info.sections.end(), [ep](const ExeSection& s) {
      return s.rva <= ep && static_cast<uint32_t>(s.rva + s.virtual_size) > ep;
    });
    if (it == info.sections.end()) return std::nullopt;
    info.entry_point_offset = static_cast<uint32_t>(ep - it->rva + static_cast<uint32_t>(it->raw_offset));
  } else {
    // Without sections ClamAV leaves the virtual address in place as the "offset".
    info.entry_point_offset = entry;
  }
  return info;
}

}  // namespace

TargetType DetectFileType(std::span<const uint8_t> data, HtmlOrigin* html, bool* binary_data) {
  HtmlOrigin ignored;
  if (!html) html = &ignored;
  *html = HtmlOrigin::kNone;
  bool ignored_binary = false;
  if (!binary_data) binary_data = &ignored_binary;
  *binary_data = false;
  if (data.empty()) return TargetType::kAny;
  const Bytes window = data.first(std::min(data.size(), kTypingWindow));

  Kind kind = MatchMagic(window);
  if (kind != Kind::kNone && kind != Kind::kBinary) {
    // The raw scan of a GIF (ClamAV's generic CL_TYPE_GRAPHICS) also looks for type
    // signatures over the whole file, and an HTML marker anywhere gets it normalised as
    // HTML too. PNG, JPEG, BMP and TIFF have their own types and do not [observed: a
    // marker 3000 bytes into a GIF counts; "GIF" is all of the magic that matters].
    if (kind == Kind::kGraphics && data.size() >= 3 && data[0] == 'G' && data[1] == 'I' && data[2] == 'F' &&
        MayHaveHtml(data) && FoldMatches(data, data.size()) == Kind::kHtml)
      *html = HtmlOrigin::kGif;
    return ToTarget(kind);
  }

  const TextClass text = kind == Kind::kBinary ? TextClass::kBinary : ClassifyText(window);
  kind = FoldMatches(window, data.size());
  if (kind == Kind::kNone) {
    // Nothing recognised: look for HTML in UTF-16 (LE without a BOM through ClamAV's
    // pair decoding; either byte order behind a BOM) [observed for both].
    std::array<uint8_t, kTypingWindow / 2> decoded;
    size_t n = DecodePairs(window, &decoded);
    if (n && FoldMatches(Bytes(decoded.data(), n), n) == Kind::kHtml) {
      *html = HtmlOrigin::kUtf16Le;
      return TargetType::kHTML;
    }
    n = DecodeBom(window, &decoded);
    if (n && FoldMatches(Bytes(decoded.data(), n), n) == Kind::kHtml) {
      // A little-endian BOM lands here only when the pair decoding saw no marker (non-ASCII
      // text around it); it is treated like the pair-decoded case [not observed].
      *html = window[0] == 0xfe ? HtmlOrigin::kUtf16BeBom : HtmlOrigin::kUtf16Le;
      return TargetType::kHTML;
    }
  }
  if (kind != Kind::kNone) {
    if (kind == Kind::kHtml) *html = HtmlOrigin::kEarly;
    return ToTarget(kind);
  }
  if (text == TextClass::kBinary || data.size() < kMinTextSize) {
    *binary_data = text == TextClass::kBinary;
    return TargetType::kAny;
  }
  // clamscan's raw scan of an ASCII text file keeps matching type signatures over the
  // whole file; if it ends on HTML the file is scanned as HTML and not as text, so an
  // "<img" at byte 5000 of a .js file makes it HTML [observed at byte 2000].
  if (text == TextClass::kAscii && data.size() > window.size() && MayHaveHtml(data) &&
      FoldMatches(data, data.size()) == Kind::kHtml) {
    *html = HtmlOrigin::kLate;
    return TargetType::kHTML;
  }
  return TargetType::kText;
}

void DecodeUtf16Pairs(std::span<const uint8_t> data, std::vector<uint8_t>* out) {
  const size_t n = data.size() / 2;
  if (out->size() < n) out->resize(n);
  for (size_t j = 0; j < n; ++j) (*out)[j] = static_cast<uint8_t>((data[2 * j + 1] << 4) + data[2 * j]);
  out->resize(n);
}

std::optional<ExeInfo> ParseExecutable(std::span<const uint8_t> data) {
  if (data.size() < 4) return std::nullopt;
  // cli_peheader also accepts the old "ZM" DOS signature.
  if ((data[0] == 'M' && data[1] == 'Z') || (data[0] == 'Z' && data[1] == 'M')) return ParsePe(data);
  if (data[0] == 0x7f && data[1] == 'E' && data[2] == 'L' && data[3] == 'F') return ParseElf(data);
  return ParseMachO(data);
}

}  // namespace avkey::engine
