// Scanner: one layer of bytes in, every matching signature out.
#include <algorithm>
#include <array>
#include <cstring>

#include "avkey/engine/engine.h"
#include "engine/database_impl.h"
#include "engine/filetype.h"
#include "engine/hs_block.h"
#include "engine/html_norm.h"
#include "engine/text_norm.h"

namespace avkey::engine {
namespace {

// Verifying more hits of one .ldb subsignature than this changes no realistic
// count condition and would let a hostile file make us verify millions of hits.
constexpr uint32_t kMaxCountedHits = 4096;
constexpr size_t kMinScannedSize = 5;
// clamscan's --max-htmlnormalize and --max-htmlnotags defaults: an HTML file above 40 MiB is
// not normalised (and, typed HTML from its first bytes, not scanned at all); its notags
// buffer is scanned only when the file is at most 8 MiB [observed at 8388608 / 8388609].
constexpr size_t kMaxHtmlNormalize = 40u << 20;
constexpr size_t kMaxHtmlNoTags = 8u << 20;
// Normaliser buffers above this are freed after the file, as the read buffer's are: kept,
// what a large HTML or text file left behind added to the peak when a large file came
// later (8 MiB kept: peak RSS 101 MB with --jobs 1 on the bench corpus, 80 MB at 2 MiB).
constexpr size_t kKeptHtmlBuffer = 2u << 20;

// Which bytes a body pass looks at, and so which targets apply to it.
enum class Pass : uint8_t {
  kRaw,         // the layer's bytes: target 0 and the layer's own type (not text)
  kNormalized,  // ClamAV's normalised text: targets 0 and 7
  kHtml,        // a normalised HTML buffer (nocomment, notags, javascript): targets 0 and 3
  kScriptText,  // the javascript buffer scanned again as text: targets 0 and 7
};

const char* YaraFileType(TargetType t) {
  switch (t) {
    case TargetType::kPE: return "PE";
    case TargetType::kELF: return "ELF";
    case TargetType::kMachO: return "MACHO";
    case TargetType::kOLE2: return "OLE2";
    case TargetType::kPDF: return "PDF";
    case TargetType::kHTML: return "HTML";
    case TargetType::kText: return "TEXT";
    case TargetType::kMail: return "MAIL";
    case TargetType::kGraphics: return "GRAPHICS";
    case TargetType::kFlash: return "FLASH";
    case TargetType::kJava: return "JAVA";
    default: return "";
  }
}

// The type a layer re-scanned as ClamAV type `name` (an .ldb HandlerType) is matched as:
// the matcher root libclamav picks for that type (cli_mtargets in matcher.h), and for HTML
// the normaliser's buffers, as for a file typed HTML from its first bytes. Text types are
// matched raw for target 0 and normalised for target 7, as detected text is.
TargetType TargetOfClType(std::string_view name, HtmlOrigin* origin) {
  *origin = HtmlOrigin::kNone;
  static constexpr std::pair<std::string_view, TargetType> kTypes[] = {
      {"CL_TYPE_MSEXE", TargetType::kPE},        {"CL_TYPE_MSOLE2", TargetType::kOLE2},
      {"CL_TYPE_MAIL", TargetType::kMail},       {"CL_TYPE_GRAPHICS", TargetType::kGraphics},
      {"CL_TYPE_GIF", TargetType::kGraphics},    {"CL_TYPE_PNG", TargetType::kGraphics},
      {"CL_TYPE_JPEG", TargetType::kGraphics},   {"CL_TYPE_TIFF", TargetType::kGraphics},
      {"CL_TYPE_ELF", TargetType::kELF},         {"CL_TYPE_TEXT_ASCII", TargetType::kText},
      {"CL_TYPE_TEXT_UTF8", TargetType::kText},  {"CL_TYPE_TEXT_UTF16LE", TargetType::kText},
      {"CL_TYPE_TEXT_UTF16BE", TargetType::kText}, {"CL_TYPE_MACHO", TargetType::kMachO},
      {"CL_TYPE_MACHO_UNIBIN", TargetType::kMachO}, {"CL_TYPE_PDF", TargetType::kPDF},
      {"CL_TYPE_SWF", TargetType::kFlash},       {"CL_TYPE_JAVA", TargetType::kJava},
  };
  if (name == "CL_TYPE_HTML" || name == "CL_TYPE_HTML_UTF16") {
    *origin = name == "CL_TYPE_HTML" ? HtmlOrigin::kEarly : HtmlOrigin::kUtf16Le;
    return TargetType::kHTML;
  }
  for (const auto& [n, t] : kTypes) {
    if (n == name) return t;
  }
  return TargetType::kAny;
}

}  // namespace

struct Scanner::Impl {
  std::shared_ptr<const Database> owner;
  const Database::Impl& d;
  HsScratchPtr hs_scratch;
  BlockScan block_scan;  // hs_block.h: Vectorscan 5.4.9 loses some matches at a block's end
  BodyPattern::Scratch pattern_scratch;
  std::unique_ptr<YaraScanner> yara;
  PcreScratchPtr pcre;
  // Per-scan state, reset through the touched lists (no per-file allocation).
  std::vector<uint8_t> sig_hit;
  std::vector<uint32_t> touched_sigs;
  std::vector<uint32_t> counts;
  std::vector<uint64_t> first_start;
  std::vector<uint32_t> touched_slots;
  std::vector<uint8_t> logical_touched;
  std::vector<uint32_t> touched_logicals;
  bool broken = false;  // a signature failed to compile on first use (ReportBroken)
  std::vector<std::string> yara_matches;
  // The layer being scanned.
  std::span<const uint8_t> data;
  TargetType type = TargetType::kAny;
  const ExeInfo* exe = nullptr;
  Pass pass = Pass::kRaw;
  uint64_t layer_size = 0;
  std::span<const LayerType> ancestors;  // this layer's containers (ScanContext)
  std::vector<uint8_t> normalized;  // reused across files
  HtmlNormalizer html;              // reused across files
  std::vector<uint8_t> utf16;       // pair decode of a UTF-16LE HTML file, reused
  std::vector<uint8_t> screnc_file;  // the decoded file of a CL_TYPE_SCRENC file, reused
  // HandlerType signatures matched in this Scan(): (order key, logical index), then the
  // result handed out by handler_matches().
  std::vector<std::pair<uint64_t, uint32_t>> handler_hits;
  std::vector<HandlerMatch> handlers;
  bool binary_data = false;  // the layer is CL_TYPE_BINARY_DATA
  std::string_view limit;    // last_limit()

  explicit Impl(std::shared_ptr<const Database> db) : owner(std::move(db)), d(owner->impl()) {
    // One scratch big enough for every target's database (hs_alloc_scratch grows it).
    hs_scratch_t* s = nullptr;
    bool scratch_ok = true;
    for (const auto& db : d.hs_dbs) {
      if (db && hs_alloc_scratch(db.get(), &s) != HS_SUCCESS) scratch_ok = false;
    }
    if (s != nullptr && scratch_ok) hs_scratch.reset(s);
    else if (s != nullptr) hs_free_scratch(s);
    if (d.yara) yara = std::make_unique<YaraScanner>(d.yara);
    pcre = NewPcreScratch();
    sig_hit.assign(d.sigs.size(), 0);
    counts.assign(d.subsig_slots, 0);
    first_start.assign(d.subsig_slots, 0);
    logical_touched.assign(d.logicals.size(), 0);
  }

  // Raw pass: target 0 and the file's own type, except text (7), which clamscan
  // matches only against the normalised form. Normalised text: targets 0 and 7.
  // Normalised HTML: targets 0 and 3.
  bool TargetMatches(TargetType t) const {
    switch (pass) {
      case Pass::kNormalized:
      case Pass::kScriptText: return t == TargetType::kAny || t == TargetType::kText;
      case Pass::kHtml: return t == TargetType::kAny || t == TargetType::kHTML;
      case Pass::kRaw: break;
    }
    return t == TargetType::kAny || (t == type && t != TargetType::kText);
  }

  // The target, besides 0, whose patterns the current pass can match (TargetMatches):
  // Database::Impl::SlotFor picks the Vectorscan database holding exactly those.
  TargetType PassTarget() const {
    switch (pass) {
      case Pass::kNormalized:
      case Pass::kScriptText: return TargetType::kText;
      case Pass::kHtml: return TargetType::kHTML;
      case Pass::kRaw: break;
    }
    return type == TargetType::kText ? TargetType::kAny : type;
  }

  // One pass of every body pattern over `buf`: Vectorscan finds candidates, each is
  // verified exactly; offset-pinned patterns are tried at their window directly.
  void ScanBodies(std::span<const uint8_t> buf, Pass p, Status* status) {
    data = buf;
    pass = p;
    const ExeInfo* saved_exe = exe;
    if (p != Pass::kRaw) exe = nullptr;  // offsets in a normalised form are not file offsets
    const size_t slot = p == Pass::kNormalized ? Database::Impl::kNormalizedSlot : d.SlotFor(PassTarget());
    if (const hs_database_t* hdb = d.hs_dbs[slot].get()) {
      if (!hs_scratch) {
        if (status->ok()) *status = Status::Error("Vectorscan scratch allocation failed");
      } else {
        hs_error_t e = block_scan.Scan(hdb, hs_scratch.get(), buf, &Impl::OnVectorscanMatch, this, d.hs_tail[slot]);
        if (e != HS_SUCCESS && status->ok()) *status = Status::Error("Vectorscan scan failed (" + std::to_string(e) + ")");
      }
    }
    ReportBroken(status);
    TryDirectBodies(TargetType::kAny, buf);
    if (const TargetType t = PassTarget(); t != TargetType::kAny) TryDirectBodies(t, buf);
    ReportBroken(status);
    exe = saved_exe;
    pass = Pass::kRaw;
  }

  // The offset-pinned bodies of target `t` (one that TargetMatches), each at its window
  // (ResolveOffset's, computed here for "n" and "EOF-n").
  void TryDirectBodies(TargetType t, std::span<const uint8_t> buf) {
    const auto slot = static_cast<size_t>(t);
    if (slot >= d.direct_bodies.size()) return;
    const uint64_t size = buf.size();
    for (const Database::Impl::DirectBody& e : d.direct_bodies[slot].pinned) {
      const auto n = static_cast<uint64_t>(e.n);
      if (n > size) break;  // and so are all that follow
      const uint64_t first = e.from_eof ? size - n : n;
      if (e.head.CanMatch(buf, first, first + e.shift)) TryDirectBody(e.body, buf, first, first + e.shift);
    }
    if (exe == nullptr) return;  // (ResolveOffset refuses every exe-relative offset)
    for (const Database::Impl::DirectBody& e : d.direct_bodies[slot].exe_relative) {
      const auto w = ResolveOffset(d.bodies[e.body].offset, size, exe);
      if (w && e.head.CanMatch(buf, w->first, w->last)) TryDirectBody(e.body, buf, w->first, w->last);
    }
  }

  void TryDirectBody(uint32_t bi, std::span<const uint8_t> buf, uint64_t first, uint64_t last) {
    const Body& b = d.bodies[bi];
    if (b.subsig < 0 && sig_hit[b.sig]) return;
    const BodyPattern* pattern = d.Pattern(bi);
    if (pattern == nullptr) {
      broken = true;
      return;
    }
    uint64_t start = 0;
    const uint32_t n =
        pattern->MatchWindow(buf, first, last, b.subsig < 0 ? 1 : kMaxCountedHits, &pattern_scratch, &start);
    if (n) Record(b, start, n);
  }

  // ClamAV's generic text normaliser (text_norm.h). Returns the normalised length; *out
  // only grows (to the largest layer) and is reused.
  static size_t NormalizeText(std::span<const uint8_t> in, std::vector<uint8_t>* out) {
    if (out->size() < in.size() + 1) out->resize(in.size() + 1);
    return NormalizeClamText(in, out->data());
  }

  void Record(const Body& b, uint64_t start, uint32_t hits) {
    if (b.subsig < 0) {
      if (!sig_hit[b.sig]) {
        sig_hit[b.sig] = 1;
        touched_sigs.push_back(b.sig);
      }
      return;
    }
    const uint32_t slot = d.logicals[b.sig].count_base + static_cast<uint32_t>(b.subsig);
    if (counts[slot] == 0) {
      touched_slots.push_back(slot);
      first_start[slot] = start;
    }
    counts[slot] += hits;
    if (!logical_touched[b.sig]) {
      logical_touched[b.sig] = 1;
      touched_logicals.push_back(b.sig);
    }
  }

  void OnHit(const Database::Impl::HsEntry& entry, uint64_t end) {
    const Body& b = d.bodies[entry.body];
    if (!TargetMatches(b.target)) return;
    if (b.subsig < 0 && sig_hit[b.sig]) return;
    if (b.subsig >= 0 && counts[d.logicals[b.sig].count_base + b.subsig] >= kMaxCountedHits) return;
    auto w = ResolveOffset(b.offset, data.size(), exe);
    if (!w) return;
    const BodyPattern* pattern = d.Pattern(entry.body);
    if (pattern == nullptr) {
      broken = true;
      return;
    }
    uint64_t start = 0;
    const bool ok = entry.anchor_only ? pattern->VerifyAt(data, end, w->first, w->last, &pattern_scratch, &start)
                                      : pattern->VerifyEnd(data, end, w->first, w->last, &pattern_scratch, &start);
    if (ok) Record(b, start, 1);
  }

  static int OnVectorscanMatch(unsigned id, unsigned long long /*from*/, unsigned long long to,
                               unsigned /*flags*/, void* ctx) {
    auto* self = static_cast<Impl*>(ctx);
    if (id >= self->d.hs_ids.size()) return 0;  // a padding literal (Database::Impl::kPadId + k)
    self->OnHit(self->d.hs_ids[id], to);
    return 0;  // keep going: --allmatch semantics
  }

  // A signature that loaded but did not compile (or parse) on first use: never taken
  // for a clean result.
  void ReportBroken(Status* status) {
    if (broken && status->ok()) *status = Status::Error("a signature that loaded failed to compile on first use");
    broken = false;
  }

  bool LogicalApplies(const LdbSignature& ldb) const {
    const TargetDescription& t = ldb.tdb;
    if (t.target && !TargetMatches(*t.target)) return false;
    if (t.file_size && !t.file_size->Contains(layer_size)) return false;
    if (t.entry_point && (!exe || !exe->has_entry_point || !t.entry_point->Contains(exe->entry_point_offset)))
      return false;
    if (t.number_of_sections && (!exe || !t.number_of_sections->Contains(exe->sections.size()))) return false;
    if ((t.container || !t.intermediates.empty()) && !ContainersMatch(t, ancestors, /*normalized_layer=*/pass == Pass::kHtml || pass == Pass::kScriptText))
      return false;
    return true;
  }

  bool EvaluateLogical(uint32_t l) {
    const Logical& lg = d.logicals[l];
    const LdbSignature* parsed = d.Ldb(l);
    if (parsed == nullptr) {
      broken = true;
      return false;
    }
    const LdbSignature& ldb = *parsed;
    if (!LogicalApplies(ldb)) return false;
    std::span<uint32_t> c(counts.data() + lg.count_base, ldb.subsigs.size());
    if (lg.has_pcre || lg.has_byte_compare) {
      for (size_t i = 0; i < ldb.subsigs.size(); ++i) {
        const LdbSubsig& ss = ldb.subsigs[i];
        uint32_t slot = lg.count_base + static_cast<uint32_t>(i);
        uint32_t result = 0;
        if (ss.kind == LdbSubsig::Kind::kPcre) {
          if (ss.pcre->trigger_expr && ss.pcre->trigger_expr->Evaluate(c))
            result = RunPcre(*ss.pcre, ss.offset, exe, data, pcre.get());
        } else if (ss.kind == LdbSubsig::Kind::kByteCompare) {
          uint32_t ref = lg.count_base + ss.byte_compare->subsig;
          if (ss.byte_compare->subsig < ldb.subsigs.size() && counts[ref] > 0)
            result = EvaluateByteCompare(*ss.byte_compare, data, first_start[ref]) ? 1 : 0;
        } else {
          continue;
        }
        if (result && counts[slot] == 0) touched_slots.push_back(slot);
        counts[slot] = result;
      }
    }
    return ldb.expression.Evaluate(c);
  }

  void Reset() {
    for (uint32_t s : touched_sigs) sig_hit[s] = 0;
    for (uint32_t s : touched_slots) counts[s] = 0;
    for (uint32_t l : touched_logicals) logical_touched[l] = 0;
    touched_sigs.clear();
    touched_slots.clear();
    touched_logicals.clear();
  }

  // Body and logical signatures found in the pass over `data` (`pass`), then Reset(): each
  // pass is a scan of its own for .ldb counts and conditions, as in clamscan.
  void CollectMatches(std::vector<Detection>* out, Status* status) {
    for (uint32_t sig : touched_sigs) out->push_back({std::string(d.SigName(sig)), EngineKind::kBody});
    for (uint32_t l : touched_logicals) {
      if (!EvaluateLogical(l)) continue;
      const LdbSignature* ldb = d.Ldb(l);  // parsed by EvaluateLogical
      // HandlerType: libclamav re-scans the layer instead of reporting when it knows the
      // layer's hash, which it does in the raw pass only: a normalised buffer (text, HTML,
      // javascript) is scanned without one, so a signature holding there is reported
      // [observed: a lower-case pattern over upper-case text is reported, not re-scanned;
      // Container:CL_TYPE_ANY, which fails in the re-scan, still reports]. A
      // CL_TYPE_BINARY_DATA layer is matched once more without the hash (the
      // CL_TYPE_OTHER pass of cli_magic_scan), which reports it as well.
      if (ldb != nullptr && ldb->tdb.handler_type && pass == Pass::kRaw) {
        const bool generic = !ldb->tdb.target || *ldb->tdb.target == TargetType::kAny;
        handler_hits.emplace_back((uint64_t{generic} << 32) | l, l);
        if (!binary_data) continue;
      }
      out->push_back({std::string(d.SigName(d.logicals[l].sig)), EngineKind::kLogical});
    }
    Reset();
    ReportBroken(status);
  }

  // One body pass over `buf` and what it matched: offsets, PCRE and byte compares are
  // within `buf`; a normalised buffer has no executable layout.
  void MatchPass(std::span<const uint8_t> buf, Pass p, std::vector<Detection>* out, Status* status) {
    const ExeInfo* saved_exe = exe;
    ScanBodies(buf, p, status);
    data = buf;
    pass = p;
    if (p != Pass::kRaw) exe = nullptr;
    CollectMatches(out, status);
    exe = saved_exe;
    pass = Pass::kRaw;
  }

  void ScanYara(std::span<const uint8_t> buf, const ScanContext& context, TargetType t,
                std::vector<Detection>* out, Status* status) {
    if (!yara) return;
    yara_matches.clear();
    Status ys = yara->Scan(buf, context, YaraFileType(t), &yara_matches);
    if (!ys.ok() && status->ok()) *status = ys;
    for (const auto& rule : yara_matches) out->push_back({"YARA." + rule + d.yara_suffix, EngineKind::kYara});
  }

  // The layer's own bytes: whole-layer and section hashes, body and logical signatures
  // (for text also over ClamAV's normalised form when `text_pass`), YARA.
  void ScanRaw(std::span<const uint8_t> bytes, const ScanContext& context, bool text_pass,
               LazyDigests* digests, std::vector<Detection>* out, Status* status) {
    data = bytes;
    layer_size = bytes.size();
    std::optional<ExeInfo> exe_info;
    exe = nullptr;
    if (d.needs_exe && (type == TargetType::kPE || type == TargetType::kELF || type == TargetType::kMachO)) {
      exe_info = ParseExecutable(bytes);
      if (exe_info) exe = &*exe_info;
    }

    // Hashes: only when some signature has this size.
    if (d.hashes.MayMatch(bytes.size()))
      d.hashes.Lookup(bytes.size(), digests, [&](uint32_t sig) { out->push_back({std::string(d.SigName(sig)), EngineKind::kHash}); });
    if (exe && exe->type == TargetType::kPE && !d.section_hashes.empty()) {
      for (const ExeSection& s : exe->sections) {
        if (s.raw_size == 0 || s.raw_offset + s.raw_size > bytes.size() || !d.section_hashes.MayMatch(s.raw_size))
          continue;
        LazyDigests sd(bytes.subspan(s.raw_offset, s.raw_size));
        d.section_hashes.Lookup(s.raw_size, &sd, [&](uint32_t sig) { out->push_back({std::string(d.SigName(sig)), EngineKind::kHash}); });
        if (sd.failed()) *status = Status::Error("hashing failed (OpenSSL refused a digest)");
      }
    }
    if (digests->failed()) *status = Status::Error("hashing failed (OpenSSL refused a digest)");

    // Body and logical signatures over the raw bytes and, for text, over ClamAV's
    // normalised form in a pass of its own (cli_scanscript): an .ldb holds in one of them
    // or not at all, and FileSize stays the file's size in both [observed: FileSize:39
    // holds for a 39-byte file normalised to 37].
    MatchPass(bytes, Pass::kRaw, out, status);
    if (text_pass && type == TargetType::kText && d.normalize_text) {
      const size_t n = NormalizeText(bytes, &normalized);
      MatchPass(std::span<const uint8_t>(normalized.data(), n), Pass::kNormalized, out, status);
    }
    data = bytes;
    exe = nullptr;
    ScanYara(bytes, context, type, out, status);
  }

  // One normalised HTML buffer, scanned as clamscan scans it: as a layer of its own (its
  // hash, targets 3 and 0 with offsets and .ldb conditions counted within it, YARA), whose
  // detections an allow-listed hash of the buffer clears. Buffers of 1-3 bytes count.
  // `p` kScriptText: the javascript buffer's second scan, as text (targets 0 and 7).
  void ScanHtmlBuffer(std::span<const uint8_t> buf, const ScanContext& context, std::vector<Detection>* out,
                      Status* status, Pass p = Pass::kHtml) {
    if (buf.empty()) return;
    const size_t mark = out->size();
    data = buf;
    layer_size = buf.size();
    exe = nullptr;
    LazyDigests digests(buf);
    if (d.hashes.MayMatch(buf.size()))
      d.hashes.Lookup(buf.size(), &digests, [&](uint32_t sig) { out->push_back({std::string(d.SigName(sig)), EngineKind::kHash}); });
    MatchPass(buf, p, out, status);
    ScanYara(buf, context, p == Pass::kScriptText ? TargetType::kText : TargetType::kHTML, out, status);
    if (out->size() > mark && !d.allow.empty() && d.allow.MayMatch(buf.size())) {
      bool allowed = false;
      d.allow.Lookup(buf.size(), &digests, [&](uint32_t) { allowed = true; });
      if (allowed) out->resize(mark);
    }
    if (digests.failed()) *status = Status::Error("hashing failed (OpenSSL refused a digest)");
  }

  // A file clamscan types HTML: the raw bytes as the origin demands (filetype.h), and the
  // nocomment and notags buffers of ClamAV's HTML normaliser.
  void ScanHtml(std::span<const uint8_t> bytes, HtmlOrigin origin, const ScanContext& context, LazyDigests* digests,
                std::vector<Detection>* out, Status* status) {
    std::span<const uint8_t> input = bytes;
    if (origin == HtmlOrigin::kUtf16Le) {
      DecodeUtf16Pairs(bytes, &utf16);
      input = utf16;
    }
    if (origin == HtmlOrigin::kLate || origin == HtmlOrigin::kGif) {
      // Typed HTML during the raw scan: that scan (as text or GIF) comes first.
      type = origin == HtmlOrigin::kLate ? TargetType::kText : TargetType::kGraphics;
      ScanRaw(bytes, context, /*text_pass=*/false, digests, out, status);
    }
    // The limits are compared with the normaliser's input: for UTF-16LE the decoded size
    // [not observed for UTF-16].
    if (input.size() <= kMaxHtmlNormalize && d.html_needs_buffers) {
      html.Run(input);
      if (html.javascript_truncated())
        limit = "a <script> block exceeded a budget of the JavaScript normaliser and was cut short";
      ScanHtmlBuffer(html.nocomment(), context, out, status);
      if (input.size() <= kMaxHtmlNoTags) ScanHtmlBuffer(html.notags(), context, out, status);
      // The <script> blocks through ClamAV's JavaScript normaliser: scanned as HTML, then
      // again as text (libclamav's cli_scanhtml scans the "javascript" file twice).
      if (!html.javascript().empty()) {
        ScanHtmlBuffer(html.javascript(), context, out, status);
        ScanHtmlBuffer(html.javascript(), context, out, status, Pass::kScriptText);
      }
      if (input.size() > kKeptHtmlBuffer) html.Trim(kKeptHtmlBuffer);
    }
    if (origin == HtmlOrigin::kUtf16Le) {
      // After the buffers, the UTF-16 file's own bytes as untyped data (target 0, hash).
      type = TargetType::kAny;
      ScanRaw(bytes, context, /*text_pass=*/false, digests, out, status);
    }
    if (utf16.capacity() > kKeptHtmlBuffer) {
      utf16.clear();
      utf16.shrink_to_fit();
    }
  }

  // handler_hits -> handlers, in clamscan's order (cli_scan_fmap evaluates the target
  // root's signatures, then the generic root's, each in load order), each signature once
  // (a file scanned in two raw passes matches twice). None when the layer is allow-listed.
  void CollectHandlers(size_t size, LazyDigests* digests) {
    if (!d.allow.empty() && d.allow.MayMatch(size)) {
      bool allowed = false;
      d.allow.Lookup(size, digests, [&](uint32_t) { allowed = true; });
      if (allowed) return;
    }
    std::sort(handler_hits.begin(), handler_hits.end());
    handler_hits.erase(std::unique(handler_hits.begin(), handler_hits.end()), handler_hits.end());
    for (const auto& [key, l] : handler_hits) {
      const LdbSignature* ldb = d.Ldb(l);
      if (ldb == nullptr || !ldb->tdb.handler_type) continue;
      handlers.push_back({std::string(d.SigName(d.logicals[l].sig)), *ldb->tdb.handler_type});
    }
  }

  Status Scan(std::span<const uint8_t> bytes, const ScanContext& context, std::vector<Detection>* out) {
    out->clear();
    handler_hits.clear();
    handlers.clear();
    limit = {};
    Status status = ScanLayer(bytes, context, out);
    // A file starting with "#@~^" is CL_TYPE_SCRENC: after its own scan, clamscan decodes
    // its first Script Encoder block into "<script>" + decoded bytes + "</script>" and scans
    // that as a file one layer deeper, typed from its content (docs/html.md) [observed].
    // (A HandlerType:CL_TYPE_SCRENC re-scan decodes whatever the bytes are, as cli_scanscrenc
    // would [not observed].)
    bool screnc = context.scan_as == "CL_TYPE_SCRENC";
    if (context.scan_as.empty() || context.scan_as == "CL_TYPE_ANY" || context.scan_as == "CL_TYPE_PART_ANY")
      screnc = bytes.size() > kMinScannedSize && std::memcmp(bytes.data(), "#@~^", 4) == 0;
    if (status.ok() && screnc && DecodeScriptEncoderFile(bytes, &screnc_file)) {
      const TargetType own_type = type;
      std::vector<LayerType> inner(context.ancestors.begin(), context.ancestors.end());
      inner.push_back({"CL_TYPE_SCRENC", false});
      ScanContext child = context;
      child.ancestors = inner;
      child.scan_as = {};
      const size_t own_handlers = handlers.size();
      std::vector<Detection> found;
      status = ScanLayer(screnc_file, child, &found);
      handlers.resize(own_handlers);  // (a HandlerType match in the decoded file is not reported)
      // An allow-listed hash of the file clears what its decoded file found too; that of the
      // decoded file only what was found in it (ScanLayer) [observed].
      if (!found.empty() && !d.allow.empty() && d.allow.MayMatch(bytes.size())) {
        LazyDigests own(bytes);
        bool allowed = false;
        d.allow.Lookup(bytes.size(), &own, [&](uint32_t) { allowed = true; });
        if (allowed) found.clear();
      }
      out->insert(out->end(), found.begin(), found.end());
      std::sort(out->begin(), out->end(), [](const Detection& a, const Detection& b) {
        return std::tie(a.engine, a.name) < std::tie(b.engine, b.name);
      });
      out->erase(std::unique(out->begin(), out->end()), out->end());
      type = own_type;
      ancestors = context.ancestors;  // (not `inner`, which goes out of scope)
      if (screnc_file.capacity() > kKeptHtmlBuffer) {
        screnc_file.clear();
        screnc_file.shrink_to_fit();
      }
    }
    return status;
  }

  // One layer: its bytes as its type demands; detections go to *out (sorted, unique).
  Status ScanLayer(std::span<const uint8_t> bytes, const ScanContext& context, std::vector<Detection>* out) {
    handler_hits.clear();
    // clamscan does not scan layers of 5 bytes or less (differential family hash).
    if (bytes.size() <= kMinScannedSize) {
      type = TargetType::kAny;
      return Status::Ok();
    }
    ancestors = context.ancestors;
    HtmlOrigin origin = HtmlOrigin::kNone;
    // HandlerType:CL_TYPE_ANY re-scans with the type detected again (cli_magic_scan types
    // a layer handed to it as ANY or PART_ANY).
    if (context.scan_as.empty() || context.scan_as == "CL_TYPE_ANY" || context.scan_as == "CL_TYPE_PART_ANY") {
      type = DetectFileType(bytes, &origin, &binary_data);
    } else {
      type = TargetOfClType(context.scan_as, &origin);
      binary_data = context.scan_as == "CL_TYPE_BINARY_DATA";
    }
    if (!d.normalize_html && origin != HtmlOrigin::kNone) {
      // Without normalisation (clamscan --normalize=no) HTML is matched raw as HTML, except
      // that a late marker leaves the file text [observed].
      if (origin == HtmlOrigin::kLate) type = TargetType::kText;
      origin = HtmlOrigin::kNone;
    }
    Status status;
    LazyDigests digests(bytes);
    if (origin == HtmlOrigin::kNone) {
      ScanRaw(bytes, context, /*text_pass=*/true, &digests, out, &status);
    } else {
      ScanHtml(bytes, origin, context, &digests, out, &status);
    }

    // Allow lists clear this layer's detections when its hash is listed (for HTML: those of
    // every buffer too, the file being their parent layer [observed]).
    if (!out->empty() && !d.allow.empty() && d.allow.MayMatch(bytes.size())) {
      bool allowed = false;
      d.allow.Lookup(bytes.size(), &digests, [&](uint32_t) { allowed = true; });
      if (allowed) out->clear();
    }
    if (!handler_hits.empty()) CollectHandlers(bytes.size(), &digests);
    if (normalized.capacity() > kKeptHtmlBuffer) {  // a large text file's normalised form
      normalized.clear();
      normalized.shrink_to_fit();
    }
    std::sort(out->begin(), out->end(), [](const Detection& a, const Detection& b) {
      return std::tie(a.engine, a.name) < std::tie(b.engine, b.name);
    });
    out->erase(std::unique(out->begin(), out->end()), out->end());
    return status;
  }
};

Scanner::Scanner(std::shared_ptr<const Database> db) : impl_(std::make_unique<Impl>(std::move(db))) {}
Scanner::~Scanner() = default;

Status Scanner::Scan(std::span<const uint8_t> data, const ScanContext& context, std::vector<Detection>* out) {
  return impl_->Scan(data, context, out);
}

TargetType Scanner::last_type() const { return impl_->type; }

std::span<const HandlerMatch> Scanner::handler_matches() const { return impl_->handlers; }

std::string_view Scanner::last_limit() const { return impl_->limit; }

}  // namespace avkey::engine
