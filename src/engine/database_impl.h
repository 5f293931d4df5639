// The compiled form of a Database, shared by the builder and the scanner. Internal.
#pragma once

#include <hs/hs.h>

#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "avkey/engine/engine.h"
#include "engine/body_pattern.h"
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
};

// One body pattern: an .ndb signature or one variant of an .ldb body subsignature.
struct Body {
  BodyPattern pattern;
  SigOffset offset;
  TargetType target = TargetType::kAny;
  uint32_t sig = 0;        // .ndb: index into sigs; .ldb: index into logicals
  int32_t subsig = -1;     // -1 for .ndb; subsignature index for .ldb
  bool direct = false;     // verified at its offset window without Vectorscan
};

struct Logical {
  LdbSignature ldb;
  uint32_t sig;            // index into sigs
  uint32_t count_base;     // first slot in the scanner's per-subsig arrays
  bool has_pcre;
  bool has_byte_compare;
};

struct Database::Impl {
  LoadReport report;
  std::string identity;
  HugeVector<SigInfo> sigs;
  HugeString sig_names;    // every SigInfo's name, back to back
  std::string_view SigName(uint32_t sig) const {
    return std::string_view(sig_names).substr(sigs[sig].name_offset, sigs[sig].name_size);
  }
  HashIndex hashes;        // whole-layer hashes (.hdb .hsb)
  HashIndex section_hashes;  // PE section hashes (.mdb .msb)
  HashIndex allow;         // .fp .sfp
  HugeVector<Body> bodies;
  std::vector<uint32_t> direct_bodies;   // indexes of bodies with direct == true
  // Vectorscan id -> body index and how its hits are verified: the whole pattern
  // as a regex (hit = match end, VerifyEnd), or its anchor literal (VerifyAt) for
  // the few patterns Vectorscan cannot compile as a regex.
  struct HsEntry {
    uint32_t body;
    bool anchor_only;
  };
  std::vector<HsEntry> hs_ids;
  HsDatabasePtr hs_db;
  HugeVector<Logical> logicals;
  uint32_t subsig_slots = 0;             // total subsignatures over all logicals
  std::shared_ptr<const YaraRules> yara;
  bool needs_exe = false;                // some signature uses EP/S offsets or section hashes
  bool normalize_text = true;            // also match text layers in normalised form
  bool normalize_html = true;            // match HTML files in ClamAV's normalised forms
  bool html_needs_buffers = true;        // some signature could match a normalised buffer
  std::string yara_suffix;               // ".UNOFFICIAL" when YARA rules came from plain files
};

}  // namespace avkey::engine
