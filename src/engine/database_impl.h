// The compiled form of a Database, shared by the builder and the scanner. Internal.
#pragma once

#include <hs/hs.h>

#include <array>
#include <atomic>
#include <memory>
#include <type_traits>
#include <string>
#include <unordered_set>
#include <vector>

#include "avkey/engine/engine.h"
#include "engine/body_pattern.h"
#include "engine/file_io.h"
#include "engine/frozen.h"
#include "engine/hash_index.h"
#include "engine/ldb.h"
#include "engine/offset.h"
#include "engine/yara_rules.h"

namespace avkey::engine {

// ClamAV functionality level we implement signatures for (clamscan 1.4.6 runs 216).
inline constexpr uint32_t kFlevel = 216;

struct HsDatabaseDeleter {
  void operator()(hs_database_t* db) const { hs_free_database(db); }
};
using HsDatabasePtr = std::unique_ptr<hs_database_t, HsDatabaseDeleter>;
struct HsScratchDeleter {
  void operator()(hs_scratch_t* s) const { hs_free_scratch(s); }
};
using HsScratchPtr = std::unique_ptr<hs_scratch_t, HsScratchDeleter>;

// A reported signature. Its name (as reported, with ".UNOFFICIAL" where due) lives in
// Database::Impl::sig_names: one buffer for all names instead of one heap string each
// (a 100k-line .hdb spent a fifth of its load allocating them; fresh memory is what
// start-up pays for on a VM, about 3 ms per MiB here).
struct SigInfo {
  uint32_t name_offset;
  uint32_t name_size;
  EngineKind engine;
  uint8_t pad_[3] = {};  // explicit, zeroed padding: written to the parsed cache byte for byte
};

// One body pattern: an .ndb signature or one variant of an .ldb body subsignature.
// Plain data: the pattern itself is kept as text (Database::Impl::texts) and compiled on
// first use (Database::Impl::Pattern): a scan verifies a few thousand of the patterns at
// most, and compiling all of them at load was most of a large set's start-up and memory
// (issue 2's 40k-logical set: 0.53-0.68 s -> 0.25 s warm, 241 -> 141 MB peak).
struct Body {
  // kNeverNormalized: the pattern needs a byte ClamAV's text normaliser never writes
  // (InNormalizedText), so it cannot match a normalised text buffer (set at parse).
  enum Flags : uint8_t { kNocase = 1, kWide = 2, kFullword = 4, kNeverNormalized = 8 };
  SigOffset offset;
  uint32_t text_offset = 0;  // the hex pattern, as written, in Database::Impl::texts
  uint32_t text_size = 0;
  uint32_t sig = 0;          // .ndb: index into sigs; .ldb: index into logicals
  int32_t subsig = -1;       // -1 for .ndb; subsignature index for .ldb
  TargetType target = TargetType::kAny;
  uint8_t flags = 0;
  bool direct = false;     // verified at its offset window without Vectorscan
  // Direct bodies: the bytes every match starts with (none for ::i), tested before the
  // pattern itself is looked at (Database::Impl::DirectBody).
  PatternHead head;
  // The most bytes a match can span (BodyPattern::max_length, kUnbounded for * or {n-}):
  // how much of a layer's end BlockScan copies for this pattern's database.
  uint32_t max_length = 0;
  PatternOptions options() const {
    return PatternOptions{(flags & kNocase) != 0, (flags & kWide) != 0, (flags & kFullword) != 0};
  }
};
static_assert(std::is_trivially_copyable_v<Body>);

// Compiles a body's pattern text: the same steps, and so the same errors, at load and at
// first use. `lean` keeps the forward form only (BodyPattern::Compile).
Result<BodyPattern> CompileBody(const Body& b, std::string_view text, bool lean);

// One .ldb signature. Its line is kept as text (Database::Impl::texts) and parsed on
// first use (Database::Impl::Ldb), when one of its body subsignatures matched.
struct Logical {
  uint32_t text_offset = 0;  // the whole .ldb line
  uint32_t text_size = 0;
  uint32_t sig = 0;          // index into sigs
  uint32_t count_base = 0;   // first slot in the scanner's per-subsig arrays
  uint32_t subsig_count = 0;
  bool has_pcre = false;
  bool has_byte_compare = false;
  uint8_t pad_[2] = {};  // explicit, zeroed padding (parsed cache)
};
static_assert(std::is_trivially_copyable_v<Logical>);

// Objects made on first use by threads sharing a Database: the first to finish
// publishes; a thread that lost the race deletes its own copy.
template <typename T>
class LazySlots {
 public:
  LazySlots() = default;
  LazySlots(const LazySlots&) = delete;
  LazySlots& operator=(const LazySlots&) = delete;
  ~LazySlots() { Clear(); }
  void Reset(size_t n) {
    Clear();
    slots_ = std::make_unique<std::atomic<const T*>[]>(n);
    size_ = n;
  }
  size_t size() const { return size_; }
  template <typename Make>
  const T* Get(size_t i, Make&& make) const {
    const T* p = slots_[i].load(std::memory_order_acquire);
    if (p != nullptr) return p;
    std::unique_ptr<const T> made = make();
    if (!made) return nullptr;
    const T* expected = nullptr;
    if (slots_[i].compare_exchange_strong(expected, made.get(), std::memory_order_acq_rel))
      return made.release();
    return expected;  // another thread's copy won; ours is freed
  }
 private:
  void Clear() {
    for (size_t i = 0; i < size_; ++i) delete slots_[i].load(std::memory_order_relaxed);
    slots_.reset();
    size_ = 0;
  }
  std::unique_ptr<std::atomic<const T*>[]> slots_;
  size_t size_ = 0;
};

struct Database::Impl {
  LoadReport report;
  std::string identity;
  // The arrays below are filled by the builder, or read in place from a parsed cache
  // file (parsed_cache.h), which `mapped` then keeps open.
  MappedFile mapped;
  Frozen<SigInfo> sigs;
  Frozen<char> sig_names;  // every SigInfo's name, back to back
  std::string_view SigName(uint32_t sig) const {
    return AsText(sig_names).substr(sigs[sig].name_offset, sigs[sig].name_size);
  }
  HashIndex hashes;        // whole-layer hashes (.hdb .hsb)
  HashIndex section_hashes;  // PE section hashes (.mdb .msb)
  HashIndex allow;         // .fp .sfp
  Frozen<char> texts;      // body patterns and .ldb lines, as written (Body, Logical)
  std::string_view Text(uint32_t offset, uint32_t size) const { return AsText(texts).substr(offset, size); }
  Frozen<Body> bodies;
  LazySlots<BodyPattern> patterns;       // per body, compiled on first use
  // The compiled pattern of body `i`, or null if its text does not compile (impossible
  // for a text that loaded; the caller reports it rather than treating it as clean).
  const BodyPattern* Pattern(uint32_t i) const;
  // Vectorscan id -> body index and how its hits are verified: the whole pattern
  // as a regex (hit = match end, VerifyEnd), or its anchor literal (VerifyAt) for
  // the few patterns Vectorscan cannot compile as a regex.
  struct HsEntry {
    uint32_t body;
    bool anchor_only;
  };
  std::vector<HsEntry> hs_ids;
  std::vector<uint8_t> anchor_only;      // per body: verified from its anchor (VerifyAt)
  // One Vectorscan database per target, as libclamav keeps one matcher root per target:
  // slot 0 holds the target-0 patterns, slot T (when some pattern has target T) those of
  // targets 0 and T, so a layer is searched only for what can match it (an ELF file not for
  // PE-only literals). Empty slots are null.
  // Slot kNormalizedSlot is for the pass over a text layer's normalised form: the patterns
  // of targets 0 and 7 that can match it (no kNeverNormalized). Null when there are none,
  // and then that pass has nothing to search for.
  static constexpr size_t kTargetSlots = 13;  // TargetType values 0..12
  static constexpr size_t kNormalizedSlot = kTargetSlots;
  std::array<HsDatabasePtr, kTargetSlots + 1> hs_dbs;
  // Vectorscan 5.4.9 searches a literal set of fewer than 5,000 literals two bytes per step
  // (FDR stride 2), which on code-like bytes costs far more false candidates than it saves:
  // engine_bench's ScanBody/5000 scanned 395 MiB/s with every pattern in one database and
  // 277 once slot 0 held 4,500 of them (408 padded). A slot database of kPadFrom..kPadTo
  // expressions is therefore padded to kPadTo with literals that cannot occur (StrideOnePad:
  // 8 bytes of 0x80-0xff each, from a fixed generator), which moves Vectorscan to stride 1.
  // kPadTo is just past the line (padding to 6,000 loaded the tables more and slowed the
  // mixed bench set); under kPadFrom Vectorscan's stride follows the literals' length and
  // padding measured faster for some sizes and slower for others (30, 300 slower; 100, 600
  // faster), so small sets are left alone. The k-th pad has id kPadId + k, past every
  // hs_ids index: the scanner ignores them. (5,000 expressions sharing one id took
  // Vectorscan 6 s to compile; with ids of their own, 0.06 s.)
  static constexpr size_t kPadFrom = 800, kPadTo = 5200;
  static constexpr unsigned kPadId = 0xF0000000u;
  // The k-th padding literal as a Vectorscan expression ("\xNN" x 8), and as bytes.
  static const std::string& StrideOnePad(size_t k);
  static std::string StrideOnePadBytes(size_t k);
  // The database a pass matching targets 0 and `t` uses (slot 0 when `t` has none), or null.
  size_t SlotFor(TargetType t) const {
    const auto slot = static_cast<size_t>(t);
    return slot < kTargetSlots && hs_dbs[slot] ? slot : 0;
  }
  // Per slot: how many of a layer's last bytes BlockScan copies (its longest match + kZone,
  // at most kTail), rather than 4 KiB searched again for every layer over 4 KiB and pass.
  std::array<uint32_t, kTargetSlots + 1> hs_tail{};
  // The bodies with direct == true, by target (a pass tries target 0's and its own
  // target's only, as the Vectorscan databases above do). Every layer tries them all, and
  // loading each one's Body and compiled pattern only to fail on its first byte was a
  // tenth of a body5k scan: what the first test needs is here, 24 bytes each, in order.
  struct DirectBody {
    int64_t n = 0;          // pinned: the n of "n" or "EOF-n"
    uint32_t body = 0;
    uint8_t shift = 0;      // the max shift (direct bodies have at most 64)
    bool from_eof = false;
    PatternHead head;
  };
  struct DirectBodies {
    std::vector<DirectBody> pinned;        // "n", "EOF-n" (+ shift), by n: a layer of m bytes stops at n > m
    std::vector<DirectBody> exe_relative;  // EP, Sx, SL: tried when the layer is an executable
  };
  std::array<DirectBodies, kTargetSlots> direct_bodies;
  Frozen<Logical> logicals;
  LazySlots<LdbSignature> parsed_logicals;  // per logical, parsed on first use
  const LdbSignature* Ldb(uint32_t i) const;
  uint32_t subsig_slots = 0;             // total subsignatures over all logicals
  std::shared_ptr<const YaraRules> yara;
  bool needs_exe = false;                // some signature uses EP/S offsets or section hashes
  bool normalize_text = true;            // also match text layers in normalised form (when
                                         // some body pattern could match it)
  bool normalize_html = true;            // match HTML files in ClamAV's normalised forms
  bool html_needs_buffers = true;        // some signature could match a normalised buffer
  std::string yara_suffix;               // ".UNOFFICIAL" when YARA rules came from plain files
};

}  // namespace avkey::engine
