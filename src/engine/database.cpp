// DatabaseBuilder: reads ClamAV databases and YARA rules, compiles one Database.
#include <fmt/format.h>
#include <archive.h>
#include <hs/hs.h>
#include <libdeflate.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <yara.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <unordered_map>

#include "avkey/engine/engine.h"
#include "engine/cvd.h"
#include "engine/database_impl.h"
#include "engine/hs_block.h"
#include "engine/file_io.h"
#include "engine/parsed_cache.h"
#include "engine/text_norm.h"
#include "engine/pattern_cache.h"

namespace avkey::engine {
namespace {

// Vectorscan's databases (megabytes for thousands of patterns, deserialised from the cache
// at every start) in huge pages too, for the reason huge_pages.h gives. Set before main(),
// so that no database is ever freed by another allocator than the one that made it.
// A header before each block records its size for the free.
constexpr size_t kHsHeader = 64;  // keeps the blocks 64-byte aligned
void* HsDatabaseAlloc(size_t n) {
  const size_t total = (n + kHsHeader + 63) / 64 * 64;
  void* base = nullptr;
  if (total < huge_pages::kMinBytes) {
    base = std::aligned_alloc(64, total);
  } else {
    try {
      base = huge_pages::Map(total);
    } catch (const std::bad_alloc&) {
      return nullptr;  // Vectorscan reports HS_NOMEM
    }
  }
  if (base == nullptr) return nullptr;
  *static_cast<size_t*>(base) = total;
  return static_cast<char*>(base) + kHsHeader;
}
void HsDatabaseFree(void* p) {
  if (p == nullptr) return;
  char* base = static_cast<char*>(p) - kHsHeader;
  const size_t total = *reinterpret_cast<const size_t*>(base);
  if (total < huge_pages::kMinBytes)
    std::free(base);
  else
    huge_pages::Unmap(base, total);
}
[[maybe_unused]] const bool kHsAllocatorSet = [] {
  return hs_set_database_allocator(HsDatabaseAlloc, HsDatabaseFree) == HS_SUCCESS;
}();

// Splits into *out (reused: one allocation per builder, not one per signature line).
void Split(std::string_view s, char sep, std::vector<std::string_view>* out) {
  out->clear();
  for (;;) {
    const size_t at = s.find(sep);  // memchr
    out->push_back(s.substr(0, at));
    if (at == std::string_view::npos) return;
    s.remove_prefix(at + 1);
  }
}

bool ParseU32(std::string_view s, uint32_t* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}
bool ParseU64(std::string_view s, uint64_t* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

std::string LowerExtension(std::string_view name) {
  auto slash = name.find_last_of('/');
  std::string_view base = slash == std::string_view::npos ? name : name.substr(slash + 1);
  auto dot = base.find_last_of('.');
  if (dot == std::string_view::npos) return "";
  std::string ext(base.substr(dot + 1));
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

std::string Md5Hex(std::string_view text) {
  unsigned char md[16];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), md, &len, EVP_md5(), nullptr);
  return HexString(md);
}

// The optional trailing "min_flevel[:max_flevel]" fields: true when this engine qualifies.
Result<bool> FlevelApplies(const std::vector<std::string_view>& f, size_t first) {
  uint32_t min = 0, max = UINT32_MAX;
  if (f.size() > first && !f[first].empty() && !ParseU32(f[first], &min)) return Fail("bad minimum FLEVEL");
  if (f.size() > first + 1 && !f[first + 1].empty() && !ParseU32(f[first + 1], &max))
    return Fail("bad maximum FLEVEL");
  return min <= kFlevel && kFlevel <= max;
}

// Ignore lists load first: they apply to the signatures loaded after them.
int LoadRank(std::string_view name) {
  const std::string e = LowerExtension(name);
  return (e == "ign" || e == "ign2") ? 0 : 1;
}

// EP and section offsets only make sense for executable targets (ClamAV refuses them elsewhere).
bool IsExeTarget(TargetType t) {
  return t == TargetType::kPE || t == TargetType::kELF || t == TargetType::kMachO;
}

bool IsLineFormat(std::string_view ext) {
  for (std::string_view e : {"hdb", "hsb", "mdb", "msb", "fp", "sfp", "ndb", "ldb", "ign", "ign2"})
    if (ext == e) return true;
  return false;
}

bool IsSupportedExtension(const std::string& ext) {
  static const char* kExts[] = {"hdb", "hsb", "mdb", "msb", "ndb", "ldb", "fp",  "sfp", "ign",
                                "ign2", "cvd", "cld", "cud", "yar", "yara", "yarc"};
  return std::find_if(std::begin(kExts), std::end(kExts), [&](const char* e) { return ext == e; }) !=
         std::end(kExts);
}

// The identity covers file names without their directory: the same signatures are the
// same set wherever they are (a console's store, a key), so a cache built at the console
// is found on the key. Then come the content (possibly in pieces) and a NUL.
void DigestName(EVP_MD_CTX* ctx, std::string_view file) {
  size_t slash = file.find_last_of('/');
  std::string_view name = slash == std::string_view::npos ? file : file.substr(slash + 1);
  EVP_DigestUpdate(ctx, name.data(), name.size());
  EVP_DigestUpdate(ctx, "\0", 1);
}
void DigestSource(EVP_MD_CTX* ctx, std::string_view file, std::string_view content) {
  DigestName(ctx, file);
  EVP_DigestUpdate(ctx, content.data(), content.size());
  EVP_DigestUpdate(ctx, "\0", 1);
}
// The same over a file read in pieces through one reused buffer, checked against its pin
// (TrustCheck); 0 or an errno.
int DigestFile(EVP_MD_CTX* ctx, const std::string& path, const TrustedFiles* pins) {
  int fd = -1;
  struct stat st;
  if (int err = OpenRegularFile(path, &fd, &st)) return err;
  TrustCheck check(pins, path);
  if (int err = check.Begin()) {
    ::close(fd);
    return err;
  }
  DigestName(ctx, path);
  static thread_local std::vector<char> buf(1 << 20);
  int err = 0;
  for (;;) {
    ssize_t got = ::read(fd, buf.data(), buf.size());
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) err = errno;
    if (got <= 0) break;
    EVP_DigestUpdate(ctx, buf.data(), static_cast<size_t>(got));
    check.Update(std::string_view(buf.data(), static_cast<size_t>(got)));
  }
  ::close(fd);
  EVP_DigestUpdate(ctx, "\0", 1);
  return err != 0 ? err : check.Finish();
}

std::string FinalHex(EVP_MD_CTX* ctx) {
  unsigned char md[32];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, md, &len);
  return HexString(std::span<const uint8_t>(md, len));
}

bool IsYaraExtension(std::string_view ext) { return ext == "yar" || ext == "yara" || ext == "yarc"; }

}  // namespace

const char* EngineName(EngineKind kind) {
  switch (kind) {
    case EngineKind::kHash: return "hash";
    case EngineKind::kBody: return "body";
    case EngineKind::kLogical: return "logical";
    case EngineKind::kYara: return "yara";
  }
  return "?";
}

struct DatabaseBuilder::Impl {
  std::unique_ptr<Database::Impl> db = std::make_unique<Database::Impl>();
  // A source as added; read and parsed by Build() unless a parsed cache has its result.
  struct Source {
    std::string name;     // the path, or the in-memory name ("builtin.ndb")
    bool from_file = false;
    std::string content;  // in-memory sources only
    bool official = false;
  };
  std::vector<Source> sources;
  // SHA-256 over what AddPath()/AddSource() saw (the parsed cache is looked up by it), and
  // over what the parse read (the Database's identity after a parse: a file changed in
  // between is then identified by what was actually loaded).
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> lookup_identity{EVP_MD_CTX_new(), &EVP_MD_CTX_free};
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> identity{EVP_MD_CTX_new(), &EVP_MD_CTX_free};
  bool yara_in_container = false;  // then no parsed cache: its rules load from the parse only
  // Ignored names (.ign/.ign2): name -> md5 of the DB line, or empty for "any line".
  std::unordered_multimap<std::string, std::string> ignores;
  YaraCompiler yara;
  std::filesystem::path cache_dir;
  bool cache_read_only = false;
  TrustedFiles trusted;  // SetTrustedFiles(); empty: nothing pinned
  std::string fatal;     // set by LoadFromParsedCache when the load must fail
  bool portable_cache = false;  // also store a build for any CPU (SetPortableCache)
  bool yara_unofficial = false;
  bool built = false;
  std::vector<std::string_view> fields;  // Split() output, reused line after line

  LoadReport& report() { return db->report; }

  void Problem(std::string_view file, uint64_t line, std::string reason) {
    db->report.problems.push_back({std::string(file), line, std::move(reason)});
  }

  // True when `name` (as written in the DB) is on the ignore list for this line.
  bool Ignored(std::string_view name, std::string_view line) {
    if (ignores.empty()) return false;
    auto [lo, hi] = ignores.equal_range(std::string(name));
    std::string line_md5;  // computed at most once, only when an entry names an md5
    for (auto it = lo; it != hi; ++it) {
      if (it->second.empty()) return true;
      if (line_md5.empty()) line_md5 = Md5Hex(line);
      if (it->second == line_md5) return true;
    }
    return false;
  }

  uint32_t AddSig(std::string_view name, EngineKind engine, bool official) {
    const std::string_view suffix = official ? "" : ".UNOFFICIAL";
    const size_t offset = db->sig_names.own.size();
    if (offset + name.size() + suffix.size() > UINT32_MAX) throw std::length_error("signature names over 4 GiB");
    HugeVector<char>& names = db->sig_names.own;
    names.insert(names.end(), name.begin(), name.end());
    names.insert(names.end(), suffix.begin(), suffix.end());
    db->sigs.own.push_back({static_cast<uint32_t>(offset), static_cast<uint32_t>(name.size() + suffix.size()), engine});
    return static_cast<uint32_t>(db->sigs.own.size() - 1);
  }

  Status LoadText(std::string_view file, std::string_view content, bool official);
  Status ParseSource(const Source& source);
  // Parses every source, recording what each added to the report (for the parsed cache).
  Status ParseSources(std::vector<ParsedSourceRecord>* records);
  // Takes the tables from the parsed cache; false (and `why`) when there is none to use.
  bool LoadFromParsedCache(const std::string& lookup, std::string* why);
  // A line format (IsLineFormat) read from disk in pieces; the same result as LoadText.
  Status LoadLineFile(const std::filesystem::path& path, bool official);
  void BeginFile(std::string_view file);
  void ReserveForLines(std::string_view ext, size_t bytes, size_t lines);
  // Loads the lines of `content` (the last may lack its newline), numbering from
  // *line_number + 1.
  Status LoadLines(std::string_view file, std::string_view ext, std::string_view content, bool official,
                   uint64_t* line_number);
  void LoadHashLine(std::string_view file, uint64_t n, std::string_view line, bool official, bool section,
                    bool allow);
  void LoadNdbLine(std::string_view file, uint64_t n, std::string_view line, bool official);
  void LoadLdbLine(std::string_view file, uint64_t n, std::string_view line, bool official);
  // Appends to db->texts; returns where it starts.
  uint32_t AddText(std::string_view text);
  // Adds the body (two for ::wa) of `pattern_text`, which is stored at `text_offset`.
  Status AddBody(std::string_view pattern_text, uint32_t text_offset, const PatternOptions& options,
                 bool wide_and_ascii, const SigOffset& offset, TargetType target, uint32_t sig, int32_t subsig);
};

uint32_t DatabaseBuilder::Impl::AddText(std::string_view text) {
  const size_t offset = db->texts.own.size();
  if (offset + text.size() > UINT32_MAX) throw std::length_error("signature texts over 4 GiB");
  db->texts.own.insert(db->texts.own.end(), text.begin(), text.end());
  return static_cast<uint32_t>(offset);
}

Status DatabaseBuilder::Impl::AddBody(std::string_view text, uint32_t text_offset, const PatternOptions& options,
                                      bool wide_and_ascii, const SigOffset& offset, TargetType target,
                                      uint32_t sig, int32_t subsig) {
  // One variant, or two for ::wa (wide, then plain ASCII).
  const bool two = options.wide && wide_and_ascii;
  const size_t before = db->bodies.own.size();
  for (int k = 0; k < (two ? 2 : 1); ++k) {
    Body b;
    b.offset = offset;
    b.text_offset = text_offset;
    b.text_size = static_cast<uint32_t>(text.size());
    b.sig = sig;
    b.subsig = subsig;
    b.target = target;
    b.flags = static_cast<uint8_t>((options.nocase ? Body::kNocase : 0) |
                                   (options.wide && k == 0 ? Body::kWide : 0) |  // the ::a variant is plain
                                   (options.fullword ? Body::kFullword : 0));
    // Compiled here only to find what is wrong with it; a scan compiles it again on first use.
    auto pattern = CompileBody(b, text, /*lean=*/true);
    if (!pattern) {
      db->bodies.own.resize(before);  // all variants or none
      return Status::Error(pattern.error());
    }
    // Offsets pinned to a small window are checked directly: cheaper than a
    // Vectorscan literal that would fire all over the file.
    b.direct = !offset.anywhere() && offset.kind != SigOffset::Kind::kSectionEntire && offset.shift <= 64;
    if (b.direct && !options.nocase) b.head = pattern->Head();
    if (!pattern->CanMatchOnly(InNormalizedText)) b.flags |= Body::kNeverNormalized;
    b.max_length = static_cast<uint32_t>(std::min<uint64_t>(pattern->max_length(), kUnbounded));
    db->bodies.own.push_back(b);
  }
  if (offset.needs_exe()) db->needs_exe = true;
  return Status::Ok();
}

void DatabaseBuilder::Impl::LoadHashLine(std::string_view file, uint64_t n, std::string_view line,
                                         bool official, bool section, bool allow) {
  std::vector<std::string_view>& f = fields;
  Split(line, ':', &f);
  if (f.size() < 3 || f.size() > 5) return Problem(file, n, "expected HASH:SIZE:NAME[:MINFL[:MAXFL]]");
  std::string_view hash = section ? f[1] : f[0], size_text = section ? f[0] : f[1], name = f[2];
  if (name.empty()) return Problem(file, n, "empty signature name");
  auto digest = ParseHexDigest(hash);
  if (!digest) return Problem(file, n, digest.error());
  uint64_t size = kAnySize;
  if (size_text == "*") {
    uint32_t min = 0;
    if (f.size() < 4 || !ParseU32(f[3], &min) || min < 73)
      return Problem(file, n, "Minimum FLEVEL field must be at least 73 for wildcard size hash signatures");
  } else if (!ParseU64(size_text, &size) || size == 0) {
    return Problem(file, n, "bad size '" + std::string(size_text) + "'");
  }
  auto applies = FlevelApplies(f, 3);
  if (!applies) return Problem(file, n, applies.error());
  if (!*applies) {
    ++report().flevel_skipped;
    return;
  }
  if (Ignored(name, line)) return;
  if (allow) {
    db->allow.Add(digest->first, digest->second, size, 0);
    ++report().allow;
    return;
  }
  uint32_t sig = AddSig(name, EngineKind::kHash, official);
  if (section) {
    db->section_hashes.Add(digest->first, digest->second, size, sig);
    db->needs_exe = true;
    ++report().section_hash;
  } else {
    db->hashes.Add(digest->first, digest->second, size, sig);
    ++report().hash;
  }
}

void DatabaseBuilder::Impl::LoadNdbLine(std::string_view file, uint64_t n, std::string_view line,
                                        bool official) {
  std::vector<std::string_view>& f = fields;
  Split(line, ':', &f);
  if (f.size() < 4 || f.size() > 6)
    return Problem(file, n, "expected Name:TargetType:Offset:HexSignature[:MinFL[:MaxFL]]");
  if (f[0].empty()) return Problem(file, n, "empty signature name");
  uint32_t target = 0;
  if (!ParseU32(f[1], &target) || target > 13)
    return Problem(file, n, "bad target type '" + std::string(f[1]) + "'");
  auto offset = ParseOffset(f[2]);
  if (!offset) return Problem(file, n, offset.error());
  if (offset->needs_exe() && !IsExeTarget(static_cast<TargetType>(target)))
    return Problem(file, n, "Invalid offset type for target " + std::to_string(target));
  auto applies = FlevelApplies(f, 4);
  if (!applies) return Problem(file, n, applies.error());
  if (!*applies) {
    ++report().flevel_skipped;
    return;
  }
  if (Ignored(f[0], line)) return;
  // Reserve the name only once the pattern compiles.
  uint32_t sig = static_cast<uint32_t>(db->sigs.own.size());
  if (auto seq = ParseHexPattern(f[3]); seq && MinPatternLength(*seq) < 3)
    return Problem(file, n, "pattern too short (an .ndb body needs at least 3 bytes)");
  const size_t texts_before = db->texts.own.size();
  Status s = AddBody(f[3], AddText(f[3]), PatternOptions{}, false, *offset, static_cast<TargetType>(target), sig, -1);
  if (!s.ok()) {
    db->texts.own.resize(texts_before);
    return Problem(file, n, s.message());
  }
  AddSig(f[0], EngineKind::kBody, official);
  ++report().body;
}

void DatabaseBuilder::Impl::LoadLdbLine(std::string_view file, uint64_t n, std::string_view line,
                                        bool official) {
  auto parsed = ParseLdbLine(line);
  if (!parsed) return Problem(file, n, parsed.error());
  LdbSignature& ldb = *parsed;
  if (ldb.tdb.engine && !ldb.tdb.engine->Contains(kFlevel)) {
    ++report().flevel_skipped;
    return;
  }
  if (ldb.tdb.unknown_attribute) {
    ++report().logical;  // clamscan counts it loaded; it can never match
    return;
  }
  if (ldb.tdb.icon_group) return Problem(file, n, "IconGroup needs .idb icon databases (not supported)");
  if (Ignored(ldb.name, line)) return;
  bool has_pcre = false, has_byte_compare = false;
  const uint32_t logical_index = static_cast<uint32_t>(db->logicals.own.size());
  const size_t bodies_before = db->bodies.own.size();
  const size_t texts_before = db->texts.own.size();
  const bool needs_exe_before = db->needs_exe;
  // The line is kept whole (parsed again on first use); its body patterns are pieces of it.
  const uint32_t line_offset = AddText(line);
  size_t search_from = 0;
  for (size_t i = 0; i < ldb.subsigs.size(); ++i) {
    const LdbSubsig& ss = ldb.subsigs[i];
    Status s;
    switch (ss.kind) {
      case LdbSubsig::Kind::kBody:
        if (ss.offset.needs_exe() && !IsExeTarget(ldb.tdb.target.value_or(TargetType::kAny))) {
          s = Status::Error("Invalid offset type for target " +
                            std::to_string(static_cast<int>(ldb.tdb.target.value_or(TargetType::kAny))));
          break;
        }
        {
          // The pattern as it appears in the line (any copy of the same bytes will do).
          size_t at = line.find(ss.pattern, search_from);
          uint32_t text_offset = 0;
          if (at == std::string_view::npos) {
            text_offset = AddText(ss.pattern);
          } else {
            text_offset = line_offset + static_cast<uint32_t>(at);
            search_from = at + ss.pattern.size();
          }
          s = AddBody(ss.pattern, text_offset, PatternOptions{ss.nocase, ss.wide, ss.fullword},
                      ss.wide && ss.ascii, ss.offset, ldb.tdb.target.value_or(TargetType::kAny), logical_index,
                      static_cast<int32_t>(i));
        }
        break;
      case LdbSubsig::Kind::kPcre:
        has_pcre = true;
        if (ss.offset.needs_exe()) db->needs_exe = true;
        break;
      case LdbSubsig::Kind::kByteCompare:
        has_byte_compare = true;
        break;
      case LdbSubsig::Kind::kMacro:
        s = Status::Error("macro subsignatures are not supported");
        break;
      case LdbSubsig::Kind::kFuzzyImage:
        s = Status::Error("fuzzy image hashes are not supported");
        break;
    }
    if (!s.ok()) {
      db->bodies.own.resize(bodies_before);
      db->texts.own.resize(texts_before);
      db->needs_exe = needs_exe_before;
      return Problem(file, n, fmt::format("subsignature {}: {}", i, s.message()));
    }
  }
  if (ldb.tdb.entry_point || ldb.tdb.number_of_sections) db->needs_exe = true;
  const uint32_t count_base = db->subsig_slots;
  db->subsig_slots += static_cast<uint32_t>(ldb.subsigs.size());
  const uint32_t sig = AddSig(ldb.name, EngineKind::kLogical, official);
  db->logicals.own.push_back(Logical{line_offset, static_cast<uint32_t>(line.size()), sig, count_base,
                                 static_cast<uint32_t>(ldb.subsigs.size()), has_pcre, has_byte_compare});
  ++report().logical;
}

void DatabaseBuilder::Impl::BeginFile(std::string_view file) { db->report.files.emplace_back(file); }

Status DatabaseBuilder::Impl::LoadText(std::string_view file, std::string_view content, bool official) {
  const std::string ext = LowerExtension(file);
  BeginFile(file);

  if (ext == "cvd" || ext == "cld" || ext == "cud") {
    // A .cud is unsigned by design and loads with ".UNOFFICIAL" names, as in clamscan.
    // A .cvd/.cld whose MD5 or dsig fails (or, with an "X" header, whose .info does) is
    // refused whole; clamscan then stops loading altogether (exit 2), avkey reports it
    // like any bad container and loads the rest.
    auto members = ReadCvd(content, ext == "cud" ? CvdKind::kUnsigned : CvdKind::kSigned, TrustedCvdKey(),
                           TrustedInfoKey());
    if (!members) {
      Problem(file, 0, members.error());
      return Status::Ok();
    }
    // Ignore lists first so they apply to the whole container.
    std::stable_sort(members->files.begin(), members->files.end(),
                     [](const auto& a, const auto& b) { return LoadRank(a.name) < LoadRank(b.name); });
    for (const auto& m : members->files) {
      if (!IsSupportedExtension(LowerExtension(m.name))) continue;
      Status s = LoadText(std::string(file) + "//" + m.name, m.content, members->verified);
      if (!s.ok()) return s;
    }
    return Status::Ok();
  }
  if ((ext == "yar" || ext == "yara" || ext == "yarc") && file.find("//") != std::string_view::npos)
    yara_in_container = true;
  if (ext == "yar" || ext == "yara") {
    auto slash = file.find_last_of('/');
    std::string_view base = slash == std::string_view::npos ? file : file.substr(slash + 1);
    yara.AddSource(file, base, content, &db->report.problems);  // counted after Build()
    if (!official) yara_unofficial = true;
    return Status::Ok();
  }
  if (ext == "yarc") {
    auto bytes = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(content.data()), content.size());
    yara.AddCompiled(file, bytes, &db->report.problems);
    if (!official) yara_unofficial = true;
    return Status::Ok();
  }
  if (!IsLineFormat(ext)) return Status::Error(std::string(file) + ": unsupported database type '." + ext + "'");
  ReserveForLines(ext, content.size(), static_cast<size_t>(std::count(content.begin(), content.end(), '\n')) + 1);
  uint64_t n = 0;
  return LoadLines(file, ext, content, official, &n);
}

void DatabaseBuilder::Impl::ReserveForLines(std::string_view ext, size_t bytes, size_t lines) {
  // One signature per line: grow the tables once, not by doubling (each regrowth
  // copied and page-faulted them again; measured on a 100k-line .hdb).
  if (ext == "ign" || ext == "ign2") return;
  ReserveMore(&db->sigs.own, lines);
  if (ext == "ndb") ReserveMore(&db->bodies.own, lines);  // one body each (two for none: no ::w in .ndb)
  // .ldb: a few body subsignatures each; capacity never written is never faulted in, so
  // over-reserving costs address space, not memory.
  if (ext == "ldb") {
    ReserveMore(&db->bodies.own, lines * 6);
    ReserveMore(&db->logicals.own, lines);  // 352 bytes each: regrowth copied them ~17 times
  }
  if (ext == "ndb" || ext == "ldb") return;
  HashIndex& index = (ext == "mdb" || ext == "msb") ? db->section_hashes
                     : (ext == "fp" || ext == "sfp") ? db->allow
                                                     : db->hashes;
  index.Reserve(lines);
  // Names are at most the line minus the digest and size fields (and ".UNOFFICIAL").
  const size_t names = bytes - std::min(bytes, lines * 24) + lines * 11;
  if (db->sig_names.own.size() + names > db->sig_names.own.capacity())
    db->sig_names.own.reserve(std::max(db->sig_names.own.size() + names, 2 * db->sig_names.own.capacity()));
}

Status DatabaseBuilder::Impl::LoadLines(std::string_view file, std::string_view ext, std::string_view content,
                                        bool official, uint64_t* line_number) {
  uint64_t& n = *line_number;
  size_t pos = 0;
  while (pos < content.size()) {
    size_t eol = content.find('\n', pos);
    if (eol == std::string_view::npos) eol = content.size();
    std::string_view line = content.substr(pos, eol - pos);
    pos = eol + 1;
    ++n;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) {
      Problem(file, n, "blank line");
      continue;
    }
    if (line[0] == '#') continue;  // clamscan skips comment lines in its text formats
    if (ext == "hdb" || ext == "hsb") {
      LoadHashLine(file, n, line, official, false, false);
    } else if (ext == "mdb" || ext == "msb") {
      LoadHashLine(file, n, line, official, true, false);
    } else if (ext == "fp" || ext == "sfp") {
      LoadHashLine(file, n, line, official, false, true);
    } else if (ext == "ndb") {
      LoadNdbLine(file, n, line, official);
    } else if (ext == "ldb") {
      LoadLdbLine(file, n, line, official);
    } else if (ext == "ign" || ext == "ign2") {
      // .ign2: "Name" or "Name:md5-of-db-line"; .ign (old): "db:line:Name".
      std::vector<std::string_view>& f = fields;
      Split(line, ':', &f);
      if (ext == "ign" && f.size() >= 3) {
        ignores.emplace(std::string(f[2]), "");
      } else if (f.size() == 1 || (f.size() >= 2 && f[1].size() == 32)) {
        // clamscan accepts "Name:md5:extra" but the entry then never applies
        // (differential family reject_ign): keep it with an md5 that cannot match.
        ignores.emplace(std::string(f[0]), f.size() == 1 ? "" : f.size() == 2 ? std::string(f[1]) : "-");
      } else {
        Problem(file, n, "expected Name or Name:MD5");
        continue;
      }
      ++report().ignore;
    }
  }
  return Status::Ok();
}

Status DatabaseBuilder::Impl::LoadLineFile(const std::filesystem::path& path, bool official) {
  // Read in pieces into one reused buffer and parse the complete lines of each: a
  // 7.8 MB .hdb read whole cost 25 ms of fresh memory on this class of VM, the
  // 1 MiB buffer costs 3 ms (bench/README.md). Same identity as LoadText().
  const std::string file = path.string();
  const std::string ext = LowerExtension(file);
  int fd = -1;
  struct stat st;
  if (OpenRegularFile(path, &fd, &st) != 0) return Status::Error(file + ": cannot read");
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  // Lines are loaded as they are read; a file that turns out not to be the pinned one
  // fails the whole Build(), so nothing parsed from it is ever used.
  TrustCheck check(&trusted, path);
  if (int err = check.Begin()) return Status::Error(file + ": " + DescribeFileError(err));
  BeginFile(file);
  DigestName(identity.get(), file);
  // A small file gets a buffer its size: zero-filling 1 MiB of fresh memory costs ~3.5 ms
  // in 4 KiB pages (a huge page where the kernel has one: huge_pages.h).
  constexpr size_t kPiece = 1 << 20;
  HugeString buf(std::min<size_t>(kPiece, static_cast<size_t>(st.st_size) + 1), '\0');
  size_t have = 0;  // bytes in buf: a partial line carried over, then what read() added
  uint64_t n = 0;
  bool first = true;
  for (;;) {
    if (have == buf.size()) buf.resize(buf.size() * 2);  // one line longer than the buffer
    ssize_t got = ::read(fd, buf.data() + have, buf.size() - have);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return Status::Error(file + ": cannot read: " + std::strerror(errno));
    EVP_DigestUpdate(identity.get(), buf.data() + have, static_cast<size_t>(got));
    check.Update(std::string_view(buf.data() + have, static_cast<size_t>(got)));
    have += static_cast<size_t>(got);
    std::string_view data(buf.data(), have);
    size_t end = got == 0 ? have : data.rfind('\n') + 1;  // npos + 1 == 0: no full line yet
    if (first && end > 0) {
      // Size the tables from the first piece's average line length.
      const size_t lines = static_cast<size_t>(std::count(data.begin(), data.begin() + end, '\n')) + 1;
      const size_t total = static_cast<size_t>(st.st_size);
      ReserveForLines(ext, total, end >= total ? lines : lines * (total / end + 1));
      first = false;
    }
    Status s = LoadLines(file, ext, data.substr(0, end), official, &n);
    if (!s.ok()) return s;
    if (got == 0) break;
    std::memmove(buf.data(), buf.data() + end, have - end);
    have -= end;
  }
  EVP_DigestUpdate(identity.get(), "\0", 1);
  if (int err = check.Finish()) return Status::Error(file + ": " + DescribeFileError(err));
  return Status::Ok();
}

DatabaseBuilder::DatabaseBuilder() : impl_(std::make_unique<Impl>()) {
  EVP_DigestInit_ex(impl_->identity.get(), EVP_sha256(), nullptr);
  EVP_DigestInit_ex(impl_->lookup_identity.get(), EVP_sha256(), nullptr);
}
DatabaseBuilder::~DatabaseBuilder() = default;

const LoadReport& DatabaseBuilder::report() const { return impl_->db->report; }

void DatabaseBuilder::SetCacheDirectory(std::filesystem::path dir, bool read_only) {
  impl_->cache_dir = std::move(dir);
  impl_->cache_read_only = read_only;
  impl_->yara.set_cache(impl_->cache_dir, read_only);
}

void DatabaseBuilder::SetTrustedFiles(std::map<std::string, FileDigest> files) {
  impl_->trusted.clear();
  for (auto& [path, digest] : files) impl_->trusted.emplace(TrustedKey(path), std::move(digest));
  impl_->yara.set_trusted_files(&impl_->trusted);
}

void DatabaseBuilder::SetPortableCache(bool on) {
  impl_->portable_cache = on;
  impl_->yara.set_portable_cache(on);
}

void DatabaseBuilder::SetTextNormalization(bool on) {
  impl_->db->normalize_text = on;
  impl_->db->normalize_html = on;  // clamscan --normalize=no turns both off [observed]
}

Status DatabaseBuilder::AddSource(std::string_view name, std::string_view content, bool official) {
  if (impl_->built) return Status::Error("DatabaseBuilder used after Build()");
  if (!IsSupportedExtension(LowerExtension(name)))
    return Status::Error(std::string(name) + ": not a supported signature database type");
  DigestSource(impl_->lookup_identity.get(), name, content);
  impl_->sources.push_back({std::string(name), false, std::string(content), official});
  return Status::Ok();
}

Status DatabaseBuilder::AddPath(const std::filesystem::path& path) {
  auto add_file = [this](const std::filesystem::path& f) -> Status {
    if (impl_->built) return Status::Error("DatabaseBuilder used after Build()");
    const std::string name = f.string();
    const std::string ext = LowerExtension(name);
    if (!IsSupportedExtension(ext)) return Status::Error(name + ": not a supported signature database type");
    // Read now only for the identity; Build() parses it unless the parsed cache has it.
    if (int err = DigestFile(impl_->lookup_identity.get(), name, &impl_->trusted))
      return Status::Error(name + ": cannot read" + (err == EINVAL ? std::string() : ": " + DescribeFileError(err)));
    impl_->sources.push_back({name, true, "", false});
    return Status::Ok();
  };
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(path, ec)) {
      if (!entry.is_regular_file(ec)) continue;
      if (IsSupportedExtension(LowerExtension(entry.path().string()))) files.push_back(entry.path());
    }
    if (ec) return Status::Error(path.string() + ": " + ec.message());
    if (files.empty()) return Status::Error(path.string() + ": no supported database files found");
    // Ignore lists first (they apply to what loads after them), then by name.
    std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) {
      return std::make_pair(LoadRank(a.string()), a.filename().string()) <
             std::make_pair(LoadRank(b.string()), b.filename().string());
    });
    for (const auto& f : files) {
      Status s = add_file(f);
      if (!s.ok()) return s;
    }
    return Status::Ok();
  }
  if (!std::filesystem::exists(path, ec)) return Status::Error(path.string() + ": no such file or directory");
  return add_file(path);
}

Status DatabaseBuilder::Impl::ParseSource(const Source& source) {
  if (source.from_file) {
    if (IsLineFormat(LowerExtension(source.name))) return LoadLineFile(source.name, source.official);
    std::string content;
    if (int err = ReadWholeFile(source.name, &content, &trusted))
      return Status::Error(source.name + ": cannot read: " + DescribeFileError(err));
    DigestSource(identity.get(), source.name, content);
    return LoadText(source.name, content, source.official);
  }
  DigestSource(identity.get(), source.name, source.content);
  return LoadText(source.name, source.content, source.official);
}

Status DatabaseBuilder::Impl::ParseSources(std::vector<ParsedSourceRecord>* records) {
  LoadReport& r = db->report;
  for (const Source& source : sources) {
    const size_t files = r.files.size(), problems = r.problems.size();
    Status s = ParseSource(source);
    if (!s.ok()) return s;
    // Named relative to the source, so that a cache read where the files have moved
    // (a key mounted elsewhere) reports them where they are now.
    ParsedSourceRecord rec;
    rec.yara = IsYaraExtension(LowerExtension(source.name));
    for (size_t i = files; i < r.files.size(); ++i) rec.files.push_back(r.files[i].substr(source.name.size()));
    for (size_t i = problems; i < r.problems.size(); ++i) {
      LoadProblem p = r.problems[i];
      p.file = p.file.starts_with(source.name) ? p.file.substr(source.name.size()) : "";
      rec.problems.push_back(std::move(p));
    }
    records->push_back(std::move(rec));
  }
  db->hashes.Finalize();
  db->section_hashes.Finalize();
  db->allow.Finalize();
  ReleaseSlack(db->sigs.own);  // all reserved from estimates (ReserveForLines)
  ReleaseSlack(db->sig_names.own);
  ReleaseSlack(db->bodies.own);
  ReleaseSlack(db->logicals.own);
  ReleaseSlack(db->texts.own);
  db->sigs.Freeze();
  db->sig_names.Freeze();
  db->bodies.Freeze();
  db->logicals.Freeze();
  db->texts.Freeze();
  db->identity = FinalHex(identity.get());
  return Status::Ok();
}

bool DatabaseBuilder::Impl::LoadFromParsedCache(const std::string& lookup, std::string* why) {
  // The sources are the same (the identity covers their names and contents); what each
  // added to the report is replayed in order, and YARA files are loaded again (libyara's
  // compiled rules have a cache of their own).
  std::vector<bool> yara_sources;
  for (const Source& source : sources) yara_sources.push_back(IsYaraExtension(LowerExtension(source.name)));
  std::vector<ParsedSourceRecord> records;
  Status s = LoadParsedCache(cache_dir, lookup, db.get(), &records, &yara_sources, &trusted);
  if (!s.ok()) {
    *why = s.message();
    return false;  // nothing taken: a parse starts from a clean database
  }
  LoadReport& r = db->report;
  for (size_t i = 0; i < records.size(); ++i) {
    const Source& source = sources[i];
    if (records[i].yara) {
      // Problems reading it now are the load's to report, as a parse would; a file that
      // is not the pinned one fails the load, as it does in a parse.
      Status st = ParseSource(source);
      if (!st.ok() && !trusted.empty()) {
        fatal = st.message();
        return true;
      }
      if (!st.ok()) Problem(source.name, 0, st.message());
      continue;
    }
    for (const std::string& f : records[i].files) r.files.push_back(source.name + f);
    for (LoadProblem& p : records[i].problems) {
      p.file = source.name + p.file;
      r.problems.push_back(std::move(p));
    }
  }
  db->identity = lookup;
  return true;
}

Result<std::shared_ptr<const Database>> DatabaseBuilder::Build() {
  if (impl_->built) return Fail("DatabaseBuilder::Build() called twice");
  impl_->built = true;
  Database::Impl& db = *impl_->db;

  // Tables from the parsed cache, else from parsing the sources.
  const std::string lookup = FinalHex(impl_->lookup_identity.get());
  std::vector<ParsedSourceRecord> records;
  bool warm = false;
  if (!impl_->cache_dir.empty()) {
    std::string why;
    warm = impl_->LoadFromParsedCache(lookup, &why);
    db.report.parsed_cache = warm ? "hit" : why;
    if (!impl_->fatal.empty()) return Fail(impl_->fatal);
  }
  if (!warm) {
    Status s = impl_->ParseSources(&records);
    if (!s.ok()) return Fail(s.message());
  }

  // Vectorscan: one literal per body that is not checked directly.
  // Each body goes to Vectorscan as a regex over its whole pattern (a superset: the
  // exact semantics are verified from each match end), so verification runs only on
  // near-certain hits. Measured with bench/engine_bench's 5k set (same unoptimised
  // build for both): anchor literals alone 0.8 MB/s, whole-pattern regexes 23 MB/s,
  // because short code-like anchors hit everywhere and each hit had to be verified.
  std::vector<std::string> escaped;
  std::vector<const char*> exprs;
  std::vector<unsigned> flags, ids;
  std::vector<uint8_t> anchor_only(db.bodies.size(), 0);
  auto collect = [&] {
    escaped.clear();
    flags.clear();
    ids.clear();
    db.hs_ids.clear();
    for (uint32_t i = 0; i < db.bodies.size(); ++i) {
      const Body& b = db.bodies[i];
      if (b.direct) continue;
      bool exact = false;
      std::string e;
      // Compiled again only for its regex, then dropped (a scan compiles what it needs).
      auto pattern = CompileBody(b, db.Text(b.text_offset, b.text_size), /*lean=*/true);
      if (!pattern) return false;  // loaded once, so it cannot fail now
      unsigned f = HS_FLAG_DOTALL | (pattern->nocase() ? HS_FLAG_CASELESS : 0);
      if (anchor_only[i]) {
        e = HsLiteral(pattern->anchor());
      } else {
        e = pattern->Regex(&exact);
        if (e.empty()) continue;  // can never match
        // One report is enough for an .ndb signature whose regex is exact.
        if (exact && b.subsig < 0 && b.offset.anywhere()) f |= HS_FLAG_SINGLEMATCH;
      }
      escaped.push_back(std::move(e));
      flags.push_back(f);
      ids.push_back(static_cast<unsigned>(db.hs_ids.size()));
      db.hs_ids.push_back({i, anchor_only[i] != 0});
    }
    return true;
  };
  // Text layers are normalised only when some body can match the normalised form (the
  // copy costs a hash-only set 7% of a scan).
  // A body that can match a normalised text buffer: of target 0 or 7, and needing no byte
  // the normaliser never writes.
  auto normalized_text_body = [](const Body& b) {
    return (b.target == TargetType::kAny || b.target == TargetType::kText) && !(b.flags & Body::kNeverNormalized);
  };
  if (std::none_of(db.bodies.begin(), db.bodies.end(), normalized_text_body)) db.normalize_text = false;
  // HTML files are matched only in normalised form; when no signature could match a
  // buffer (targets 0 and 3, 7 for the javascript buffer's text scan, hashes; YARA below),
  // the normaliser is not run at all.
  db.html_needs_buffers = !db.hashes.empty() ||
                          std::any_of(db.bodies.begin(), db.bodies.end(), [](const Body& b) {
                            return b.target == TargetType::kAny || b.target == TargetType::kHTML ||
                                   b.target == TargetType::kText;
                          });
  size_t searched = 0;
  for (uint32_t i = 0; i < db.bodies.size(); ++i) {
    const Body& b = db.bodies[i];
    const auto slot = static_cast<size_t>(b.target);
    if (!b.direct) {
      ++searched;
    } else if (slot < db.direct_bodies.size()) {
      // (ParseOffset and the parsed cache's check keep n of "n"/"EOF-n" in [0, 2^48].)
      const bool pinned = b.offset.kind == SigOffset::Kind::kAbsolute || b.offset.kind == SigOffset::Kind::kEof;
      auto& list = pinned ? db.direct_bodies[slot].pinned : db.direct_bodies[slot].exe_relative;
      list.push_back({b.offset.value, i, static_cast<uint8_t>(b.offset.shift), b.offset.kind == SigOffset::Kind::kEof, b.head});
    }
  }
  for (auto& lists : db.direct_bodies) {
    std::stable_sort(lists.pinned.begin(), lists.pinned.end(),
                     [](const Database::Impl::DirectBody& a, const Database::Impl::DirectBody& b) { return a.n < b.n; });
  }
  if (searched > 0) {
    // The targets that get a database of their own (Database::Impl::hs_dbs): every target
    // some searched body has (slot 0: target 0).
    std::array<bool, Database::Impl::kTargetSlots + 1> slots{};
    for (const Body& b : db.bodies) {
      const auto t = static_cast<size_t>(b.target);
      if (!b.direct && t < Database::Impl::kTargetSlots) slots[t] = true;
      if (!b.direct && normalized_text_body(b)) slots[Database::Impl::kNormalizedSlot] = true;
    }
    // Slot T is "<key>-t<T>" (a name avkey before per-target databases never reads: its
    // single database was "<key>"). Each file carries the whole id map.
    const std::string key = fmt::format("{}-{}", db.identity.substr(0, 32), db.bodies.size());
    auto slot_key = [&](size_t t) { return fmt::format("{}-t{}", key, t); };
    // A cache hit (every slot, one id map) skips regex generation and compilation entirely.
    bool compile = true;
    if (!impl_->cache_dir.empty()) {
      std::string state;
      bool first = true;
      compile = false;
      for (size_t t = 0; t < slots.size() && !compile; ++t) {
        if (!slots[t]) continue;
        auto cached = LoadCachedVectorscan(impl_->cache_dir, slot_key(t), db.identity, db.bodies.size(), &impl_->trusted);
        if (!cached) {
          state = cached.error();
          compile = true;
        } else if (first) {
          db.hs_ids = std::move(cached->ids);
          state = cached->State();
          db.hs_dbs[t] = std::move(cached->db);
          first = false;
        } else if (!std::equal(cached->ids.begin(), cached->ids.end(), db.hs_ids.begin(), db.hs_ids.end(),
                               [](const auto& x, const auto& y) {
                                 return x.body == y.body && x.anchor_only == y.anchor_only;
                               })) {
          state = "rejected: its per-target files are from different builds";
          compile = true;
        } else {
          db.hs_dbs[t] = std::move(cached->db);
        }
      }
      if (compile) {
        for (auto& p : db.hs_dbs) p.reset();
        db.hs_ids.clear();
      }
      db.report.cache_state = state;
    }
    if (compile && !collect()) return Fail("a body pattern that loaded no longer compiles");
    // Slot t holds the patterns of target 0 and of target t; the normalised-text slot those
    // normalised text can match.
    auto in_slot = [&](const Body& b, size_t t) {
      return t == Database::Impl::kNormalizedSlot ? normalized_text_body(b)
                                                  : b.target == TargetType::kAny || static_cast<size_t>(b.target) == t;
    };
    // The expressions of slot `t` (ids stay global).
    std::vector<unsigned> sflags, sids;
    auto select = [&](size_t t) {
      exprs.clear();
      sflags.clear();
      sids.clear();
      for (size_t k = 0; k < escaped.size(); ++k) {
        if (!in_slot(db.bodies[db.hs_ids[ids[k]].body], t)) continue;
        exprs.push_back(escaped[k].c_str());
        sflags.push_back(flags[k]);
        sids.push_back(ids[k]);
      }
      if (exprs.size() >= Database::Impl::kPadFrom && exprs.size() < Database::Impl::kPadTo) {
        for (size_t k = 0; exprs.size() < Database::Impl::kPadTo; ++k) {
          exprs.push_back(Database::Impl::StrideOnePad(k).c_str());
          sflags.push_back(HS_FLAG_DOTALL | HS_FLAG_SINGLEMATCH);
          sids.push_back(Database::Impl::kPadId + static_cast<unsigned>(k));
        }
      }
    };
    const hs_platform_info_t native = NativePlatform();
    bool retry = compile;
    while (retry) {
      retry = false;
      for (size_t t = 0; t < slots.size() && !retry; ++t) {
        if (!slots[t]) continue;
        select(t);
        if (exprs.empty()) continue;
        hs_database_t* hdb = nullptr;
        hs_compile_error_t* err = nullptr;
        if (hs_compile_multi(exprs.data(), sflags.data(), sids.data(), static_cast<unsigned>(exprs.size()),
                             HS_MODE_BLOCK, &native, &hdb, &err) == HS_SUCCESS) {
          db.hs_dbs[t].reset(hdb);
          continue;
        }
        // A pattern Vectorscan refuses as a regex (too large, too complex) falls back to
        // its anchor literal, in every slot; any other failure is fatal.
        std::string msg = err && err->message ? err->message : "unknown error";
        const int bad = err ? err->expression : -1;
        hs_free_compile_error(err);
        if (bad < 0 || static_cast<size_t>(bad) >= sids.size() || db.hs_ids[sids[bad]].anchor_only)
          return Fail("Vectorscan compile failed: " + msg);
        anchor_only[db.hs_ids[sids[bad]].body] = 1;
        if (!collect()) return Fail("a body pattern that loaded no longer compiles");
        for (auto& p : db.hs_dbs) p.reset();
        retry = true;
      }
    }
    if (compile && !impl_->cache_dir.empty() && !impl_->cache_read_only) {
      const hs_platform_info_t portable = PortablePlatform();
      for (size_t t = 0; t < slots.size(); ++t) {
        if (!db.hs_dbs[t]) continue;
        auto store = [&](const hs_database_t* built, const hs_platform_info_t& platform) {
          Status st = StoreCachedVectorscan(impl_->cache_dir, slot_key(t), db.identity, built, db.hs_ids, platform);
          if (!st.ok())
            db.report.problems.push_back({impl_->cache_dir.string(), 0, "cache not written: " + st.message()});
        };
        store(db.hs_dbs[t].get(), native);
        if (impl_->portable_cache && native.cpu_features != portable.cpu_features) {
          // The same expressions (known to compile) for any CPU.
          select(t);
          hs_database_t* pdb = nullptr;
          hs_compile_error_t* err = nullptr;
          if (hs_compile_multi(exprs.data(), sflags.data(), sids.data(), static_cast<unsigned>(exprs.size()),
                               HS_MODE_BLOCK, &portable, &pdb, &err) == HS_SUCCESS) {
            HsDatabasePtr owned(pdb);
            store(owned.get(), portable);
          } else {
            db.report.problems.push_back({impl_->cache_dir.string(), 0,
                                          std::string("portable cache not written: ") +
                                              (err && err->message ? err->message : "unknown error")});
            hs_free_compile_error(err);
          }
        }
      }
    }
  }
  for (size_t t = 0; t < Database::Impl::kTargetSlots; ++t) {
    if (db.hs_dbs[t]) db.report.pattern_targets.push_back(static_cast<uint8_t>(t));
  }
  // Each slot's longest match (its own target's and target 0's patterns; the normalised
  // slot's), for BlockScan's copy of a layer's end.
  std::array<uint64_t, Database::Impl::kTargetSlots + 1> longest{};
  for (const Body& b : db.bodies) {
    if (b.direct) continue;
    const auto t = static_cast<size_t>(b.target);
    if (t < Database::Impl::kTargetSlots) longest[t] = std::max<uint64_t>(longest[t], b.max_length);
    if (normalized_text_body(b))
      longest[Database::Impl::kNormalizedSlot] = std::max<uint64_t>(longest[Database::Impl::kNormalizedSlot], b.max_length);
  }
  for (size_t t = 0; t < longest.size(); ++t) {
    const uint64_t span = t == Database::Impl::kNormalizedSlot ? longest[t] : std::max(longest[0], longest[t]);
    db.hs_tail[t] = static_cast<uint32_t>(std::min<uint64_t>(span + BlockScan::kZone, BlockScan::kTail));
  }
  db.report.normalized_text_patterns = static_cast<size_t>(std::count_if(
      db.bodies.begin(), db.bodies.end(), [&](const Body& b) { return db.normalize_text && normalized_text_body(b); }));
  // Each pattern is compiled, on first use, in the one form its verifier uses
  // (BodyPattern::Prepare): issue 2's 100k-hash + 5k-body + 40k-logical set built 151k
  // patterns four ways each before that.
  db.anchor_only.assign(db.bodies.size(), 0);
  for (const auto& e : db.hs_ids) db.anchor_only[e.body] = e.anchor_only ? 1 : 0;
  db.patterns.Reset(db.bodies.size());
  db.parsed_logicals.Reset(db.logicals.size());

  impl_->yara.set_cache_identity(db.identity);
  auto yara = impl_->yara.Build();
  if (!yara) return Fail("YARA: " + yara.error());
  db.yara = *yara;
  if (db.yara) db.html_needs_buffers = true;
  db.report.yara = impl_->yara.source_rule_count();
  if (db.yara) db.report.yara_cache = db.yara->cache_state();
  if (db.yara && db.yara->prefiltered_set_count() > 0) {
    const YaraPrefilterStats& ps = db.yara->prefilter_stats();
    db.report.yara_prefilter = fmt::format("on ({} rules gated{}{})", ps.gated_rules, ps.note.empty() ? "" : "; ",
                                           ps.note);
  } else if (db.yara && db.yara->prefilter_stats().off_reason != "no source rules") {
    db.report.yara_prefilter = "off (" + db.yara->prefilter_stats().off_reason + ")";
  }
  db.yara_suffix = impl_->yara_unofficial ? ".UNOFFICIAL" : "";
  if (!warm && !impl_->cache_dir.empty() && !impl_->cache_read_only) {
    if (impl_->yara_in_container) {
      db.report.parsed_cache = "not written: a container holds YARA rules";
    } else if (Status st = StoreParsedCache(impl_->cache_dir, db, records); !st.ok()) {
      db.report.problems.push_back({impl_->cache_dir.string(), 0, "cache not written: " + st.message()});
    }
  }
  return std::shared_ptr<const Database>(std::make_shared<Database>(std::move(impl_->db)));
}

// Bytes 0x80-0xff from a fixed xorshift generator: the same pads in every build, so that a
// cache compiled by one avkey is what another would compile.
std::string Database::Impl::StrideOnePadBytes(size_t k) {
  uint64_t x = 0x9E3779B97F4A7C15ull * (k + 1);
  std::string out;
  for (int i = 0; i < 8; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    out += static_cast<char>(0x80 | (x >> 56));
  }
  return out;
}

const std::string& Database::Impl::StrideOnePad(size_t k) {
  static const std::vector<std::string> pads = [] {
    std::vector<std::string> v;
    for (size_t i = 0; i < kPadTo; ++i) v.push_back(HsLiteral(StrideOnePadBytes(i)));
    return v;
  }();
  return pads.at(k);
}

Result<BodyPattern> CompileBody(const Body& b, std::string_view text, bool lean) {
  auto seq = ParseHexPattern(text);
  if (!seq) return Fail(seq.error());
  const PatternOptions options = b.options();
  if (options.wide) *seq = WidenPattern(*seq);
  return BodyPattern::Compile(std::move(*seq), options, lean);
}

const BodyPattern* Database::Impl::Pattern(uint32_t i) const {
  return patterns.Get(i, [&]() -> std::unique_ptr<const BodyPattern> {
    const Body& b = bodies[i];
    auto compiled = CompileBody(b, Text(b.text_offset, b.text_size), /*lean=*/true);
    if (!compiled) return nullptr;
    compiled->Prepare(b.direct ? BodyPattern::Use::kWindow
                      : anchor_only[i] ? BodyPattern::Use::kAnchor
                                       : BodyPattern::Use::kEnd);
    return std::make_unique<const BodyPattern>(std::move(*compiled));
  });
}

const LdbSignature* Database::Impl::Ldb(uint32_t i) const {
  return parsed_logicals.Get(i, [&]() -> std::unique_ptr<const LdbSignature> {
    const Logical& lg = logicals[i];
    auto parsed = ParseLdbLine(Text(lg.text_offset, lg.text_size));
    if (!parsed || parsed->subsigs.size() != lg.subsig_count) return nullptr;
    // Only what a scan reads is kept.
    std::string().swap(parsed->name);
    std::string().swap(parsed->expression_text);
    for (LdbSubsig& ss : parsed->subsigs) {
      if (ss.kind == LdbSubsig::Kind::kBody) std::string().swap(ss.pattern);
    }
    return std::make_unique<const LdbSignature>(std::move(*parsed));
  });
}

Database::Database(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Database::~Database() = default;
const LoadReport& Database::report() const { return impl_->report; }
const std::string& Database::identity() const { return impl_->identity; }

std::string LibraryVersions() {
  std::string hs = hs_version();  // "5.4.9 " (trailing space in Debian's build)
  while (!hs.empty() && hs.back() == ' ') hs.pop_back();
  return fmt::format("vectorscan {}, libyara {}, {}, libdeflate {}, {}", hs, YR_VERSION, archive_version_string(),
                     LIBDEFLATE_VERSION_STRING, OpenSSL_version(OPENSSL_VERSION));
}

}  // namespace avkey::engine
