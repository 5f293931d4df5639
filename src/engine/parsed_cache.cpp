#include "engine/parsed_cache.h"

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <type_traits>

#include <fmt/format.h>

#include "engine/cvd.h"
#include "engine/file_io.h"
#include "engine/pattern_cache.h"

namespace avkey::engine {
namespace {

constexpr char kMagic[8] = {'A', 'V', 'K', 'E', 'Y', 'P', 'C', '1'};
// 2: Body's head (direct bodies), as written by 9bec2cc only; 3: the head moved within Body,
// same size (a format-2 file read by a later build gave its bodies wrong heads, and an
// offset-pinned signature went unmatched: hence the member offsets in WriterVersion);
// 4: Body::kNeverNormalized (a format-3 file lacks it: its text layers would be normalised
// for nothing); 5: Body::max_length where Body's padding was.
constexpr uint32_t kFormat = 5;
constexpr size_t kHeader = 64;
constexpr size_t kAlign = 64;

// What the arrays' layout depends on: a file from a build where any of it differs is refused.
std::string WriterVersion() {
  return fmt::format("avkey {} format {} layout {}.{}.{}.{}.{}.{} body {}.{}.{}.{}.{}", AVKEY_VERSION, kFormat,
                     sizeof(Body), sizeof(Logical), sizeof(SigInfo), sizeof(SigOffset), alignof(Body), kFlevel,
                     offsetof(Body, text_offset), offsetof(Body, target), offsetof(Body, head), sizeof(PatternHead),
                     offsetof(Body, max_length));
}

// The container keys signed sources were checked against (tests install their own).
std::string TrustText() {
  return fmt::format("{}:{}/{}:{}", TrustedCvdKey().modulus, TrustedCvdKey().exponent,
                     TrustedInfoKey().modulus, TrustedInfoKey().exponent);
}

template <typename T>
void Put(std::string* out, const T& v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof v);
}

// Writes: arrays into `blobs` (64-byte aligned, offsets counted from the file start),
// everything else into `meta`.
struct Writer {
  std::string blobs;
  std::string meta;
  template <typename T>
  bool Scalar(T* v) {
    Put(&meta, *v);
    return true;
  }
  bool Text(std::string* s) {
    Put<uint32_t>(&meta, static_cast<uint32_t>(s->size()));
    meta += *s;
    return true;
  }
  bool Fits(uint64_t, size_t) const { return true; }
  template <typename T>
  bool Array(Frozen<T>* a) {
    // Written byte for byte: a type with implicit padding would put whatever the stack or
    // heap held there into a file that is copied onto keys (the console holds its signing
    // key in memory). Padding is declared and zeroed in each table type instead.
    static_assert(std::has_unique_object_representations_v<T>, "a cached table type has implicit padding");
    blobs.resize((blobs.size() + kAlign - 1) / kAlign * kAlign, '\0');
    const uint64_t offset = kHeader + blobs.size(), bytes = a->size() * sizeof(T);
    blobs.append(reinterpret_cast<const char*>(a->begin()), bytes);
    Put(&meta, offset);
    Put(&meta, bytes);
    return true;
  }
};

// Reads what Writer wrote, arrays as views into `file`.
struct Reader {
  std::string_view file;
  ByteReader meta;
  std::string error;
  bool Fail(std::string why) {
    if (error.empty()) error = std::move(why);
    return false;
  }
  template <typename T>
  bool Scalar(T* v) {
    *v = meta.Get<T>();
    return meta.ok || Fail("truncated");
  }
  bool Text(std::string* s) {
    *s = meta.Text();
    return meta.ok || Fail("truncated");
  }
  // Whether `n` items of at least `each` bytes can follow: a count is checked against
  // the bytes left before anything is allocated for it.
  bool Fits(uint64_t n, size_t each) {
    return n <= (meta.bytes.size() - meta.pos) / each || Fail("a count runs past the end");
  }
  template <typename T>
  bool Array(Frozen<T>* a) {
    const auto offset = meta.Get<uint64_t>();
    const auto bytes = meta.Get<uint64_t>();
    if (!meta.ok) return Fail("truncated");
    if (offset % kAlign != 0 || offset > file.size() || bytes > file.size() - offset || bytes % sizeof(T) != 0)
      return Fail("an array lies outside the file");
    a->Adopt(std::span<const T>(reinterpret_cast<const T*>(file.data() + offset), bytes / sizeof(T)));
    return true;
  }
};

// Bools as one byte, so that a file never holds a bool's invalid values.
template <typename Archive>
bool Flag(Archive& ar, bool* b) {
  uint8_t v = *b ? 1 : 0;
  if (!ar.Scalar(&v)) return false;
  *b = v != 0;
  return true;
}

template <typename Archive>
bool VisitTables(Archive& ar, Database::Impl* db) {
  LoadReport& r = db->report;
  return ar.Array(&db->sigs) && ar.Array(&db->sig_names) && ar.Array(&db->texts) && ar.Array(&db->bodies) &&
         ar.Array(&db->logicals) && db->hashes.Visit(ar) && db->section_hashes.Visit(ar) && db->allow.Visit(ar) &&
         ar.Scalar(&db->subsig_slots) && Flag(ar, &db->needs_exe) && ar.Scalar(&r.hash) &&
         ar.Scalar(&r.section_hash) && ar.Scalar(&r.body) && ar.Scalar(&r.logical) && ar.Scalar(&r.allow) &&
         ar.Scalar(&r.ignore) && ar.Scalar(&r.flevel_skipped);
}

template <typename Archive>
bool VisitSources(Archive& ar, std::vector<ParsedSourceRecord>* sources) {
  auto count = static_cast<uint32_t>(sources->size());
  if (!ar.Scalar(&count) || !ar.Fits(count, 9)) return false;  // u8 + u32 + u32 each
  sources->resize(count);
  for (ParsedSourceRecord& s : *sources) {
    auto files = static_cast<uint32_t>(s.files.size());
    auto problems = static_cast<uint32_t>(s.problems.size());
    if (!Flag(ar, &s.yara) || !ar.Scalar(&files) || !ar.Scalar(&problems)) return false;
    if (!ar.Fits(files, 4) || !ar.Fits(problems, 16)) return false;  // texts: u32 length at least
    s.files.resize(files);
    s.problems.resize(problems);
    for (std::string& f : s.files) {
      if (!ar.Text(&f)) return false;
    }
    for (LoadProblem& p : s.problems) {
      if (!ar.Text(&p.file) || !ar.Scalar(&p.line) || !ar.Text(&p.reason)) return false;
    }
  }
  return true;
}

// A bool read from a file must hold 0 or 1 (any other byte is undefined behaviour to load).
bool ValidBool(const bool& b) {
  uint8_t v = 0;
  std::memcpy(&v, &b, 1);
  return v <= 1;
}

std::string Validate(const Database::Impl& db) {
  const size_t names = db.sig_names.size(), texts = db.texts.size(), sigs = db.sigs.size();
  for (const SigInfo& s : db.sigs) {
    if (s.name_offset > names || s.name_size > names - s.name_offset || static_cast<uint8_t>(s.engine) > 3)
      return "a name lies outside the names";
  }
  uint64_t slots = 0;
  for (const Logical& lg : db.logicals) {
    if (lg.text_offset > texts || lg.text_size > texts - lg.text_offset || lg.sig >= sigs ||
        lg.subsig_count > LogicExpr::kMaxSubsigs || lg.count_base != slots || !ValidBool(lg.has_pcre) ||
        !ValidBool(lg.has_byte_compare))
      return "a logical signature points outside the tables";
    slots += lg.subsig_count;
  }
  if (slots != db.subsig_slots) return "the subsignature count does not add up";
  for (const Body& b : db.bodies) {
    const bool in_logical = b.subsig >= 0;
    if (b.text_offset > texts || b.text_size > texts - b.text_offset ||
        (in_logical ? b.sig >= db.logicals.size() || static_cast<uint32_t>(b.subsig) >= db.logicals[b.sig].subsig_count
                    : b.sig >= sigs || b.subsig != -1) ||
        static_cast<uint8_t>(b.target) > 13 || static_cast<uint8_t>(b.offset.kind) > 6 || !ValidBool(b.direct) ||
        b.head.len > (b.direct ? PatternHead::kMax : 0) || (b.direct && b.offset.shift > 64) ||
        ((b.offset.kind == SigOffset::Kind::kAbsolute || b.offset.kind == SigOffset::Kind::kEof) &&
         (b.offset.value < 0 || b.offset.value > (int64_t{1} << 48))) ||
        b.flags > (Body::kNocase | Body::kWide | Body::kFullword | Body::kNeverNormalized))
      return "a body pattern points outside the tables";
  }
  if (!db.hashes.TablesValid(sigs) || !db.section_hashes.TablesValid(sigs) || !db.allow.TablesValid(SIZE_MAX))
    return "a hash table points outside the tables";
  return "";
}

std::filesystem::path CachePath(const std::filesystem::path& dir, const std::string& identity) {
  return dir / (identity.substr(0, 32) + "-parsed.avkc");
}

}  // namespace

Status StoreParsedCache(const std::filesystem::path& dir, const Database::Impl& db,
                        const std::vector<ParsedSourceRecord>& sources) {
  Writer w;
  std::string identity = db.identity, version = WriterVersion(), trust = TrustText();
  w.Text(&identity);
  w.Text(&version);
  w.Text(&trust);
  // Visit() is shared with the reader; writing does not change what it visits.
  auto* mutable_db = const_cast<Database::Impl*>(&db);
  auto* mutable_sources = const_cast<std::vector<ParsedSourceRecord>*>(&sources);
  VisitTables(w, mutable_db);
  VisitSources(w, mutable_sources);

  std::string file(kHeader, '\0');
  file += w.blobs;
  file.resize((file.size() + kAlign - 1) / kAlign * kAlign, '\0');
  const uint64_t meta_offset = file.size(), meta_size = w.meta.size();
  file += w.meta;
  const uint64_t size = file.size();
  std::string header(kMagic, sizeof kMagic);
  Put(&header, kFormat);
  Put<uint32_t>(&header, kHeader);
  Put(&header, size);
  Put(&header, meta_offset);
  Put(&header, meta_size);
  const auto sum = CacheChecksum(std::string_view(file).substr(kHeader));
  header.append(reinterpret_cast<const char*>(sum.data()), sum.size());
  file.replace(0, header.size(), header);

  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  return WriteFileAtomically(CachePath(dir, db.identity), file);
}

Status LoadParsedCache(const std::filesystem::path& dir, const std::string& identity, Database::Impl* db,
                       std::vector<ParsedSourceRecord>* sources, const std::vector<bool>* yara_sources,
                       const TrustedFiles* pins) {
  MappedFile mapped;
  if (int err = mapped.Map(CachePath(dir, identity), pins)) {
    if (err == ENOENT) return Status::Error("miss");
    if (err == kNotTrusted || err == kNotAsSigned) return Status::Error("rejected: " + DescribeFileError(err));
    return Status::Error(std::string("rejected: cannot read: ") + std::strerror(err));
  }
  const std::string_view file = mapped.view();
  ByteReader header{file.substr(0, std::min(file.size(), kHeader))};
  const char* magic = header.Take(sizeof kMagic);
  if (!magic || std::memcmp(magic, kMagic, sizeof kMagic) != 0) return Status::Error("rejected: not an avkey parsed cache");
  const auto format = header.Get<uint32_t>();
  const auto header_size = header.Get<uint32_t>();
  const auto size = header.Get<uint64_t>();
  const auto meta_offset = header.Get<uint64_t>();
  const auto meta_size = header.Get<uint64_t>();
  const char* sum = header.Take(16);
  if (!header.ok || format != kFormat || header_size != kHeader) return Status::Error("rejected: written by another version");
  // (The header's fields fill 56 of its 64 bytes: a 56-byte file reads them all.)
  if (size != file.size() || size < kHeader || meta_offset > size || meta_size > size - meta_offset)
    return Status::Error("rejected: truncated");
  if (std::memcmp(CacheChecksum(file.substr(kHeader)).data(), sum, 16) != 0)
    return Status::Error("rejected: checksum mismatch (corrupt)");

  Reader r{file, ByteReader{file.substr(meta_offset, meta_size)}, {}};
  std::string id, version, trust;
  if (!r.Text(&id) || !r.Text(&version) || !r.Text(&trust)) return Status::Error("rejected: truncated");
  if (id != identity) return Status::Error("rejected: parsed from other signatures");
  if (version != WriterVersion()) return Status::Error("rejected: written by another version");
  if (trust != TrustText()) return Status::Error("rejected: loaded under other container keys");
  Database::Impl tmp;
  std::vector<ParsedSourceRecord> records;
  if (!VisitTables(r, &tmp) || !VisitSources(r, &records))
    return Status::Error("rejected: " + (r.error.empty() ? std::string("malformed") : r.error));
  if (!r.meta.AtEnd()) return Status::Error("rejected: trailing bytes");
  if (std::string why = Validate(tmp); !why.empty()) return Status::Error("rejected: " + why);
  if (yara_sources != nullptr) {
    bool same = records.size() == yara_sources->size();
    for (size_t i = 0; same && i < records.size(); ++i) same = records[i].yara == (*yara_sources)[i];
    if (!same) return Status::Error("rejected: written for other sources");
  }

  db->sigs = std::move(tmp.sigs);
  db->sig_names = std::move(tmp.sig_names);
  db->texts = std::move(tmp.texts);
  db->bodies = std::move(tmp.bodies);
  db->logicals = std::move(tmp.logicals);
  db->hashes = std::move(tmp.hashes);
  db->section_hashes = std::move(tmp.section_hashes);
  db->allow = std::move(tmp.allow);
  db->subsig_slots = tmp.subsig_slots;
  db->needs_exe = tmp.needs_exe;
  LoadReport& to = db->report;
  const LoadReport& from = tmp.report;
  to.hash = from.hash, to.section_hash = from.section_hash, to.body = from.body, to.logical = from.logical;
  to.allow = from.allow, to.ignore = from.ignore, to.flevel_skipped = from.flevel_skipped;
  db->mapped = std::move(mapped);
  *sources = std::move(records);
  return Status::Ok();
}

}  // namespace avkey::engine
