// Containers: every layer of a file goes through the engine, and containers that
// libarchive reads are unpacked member by member, within ArchiveLimits.
//
// Recursion is bounded by limits.max_depth (16 by default), never by the input alone.
// libarchive formats enabled: every format of archive_read_support_format_all() except
// mtree, whose reader opens the *local* files an mtree spec names (a hostile spec could
// make the scanner read /dev/... and block). Filters: every one implemented inside
// libarchive; lrzip, lzop and grzip are left out because libarchive runs an external
// program for them, and the scanner never runs anything from the device.
#include "layers.h"

#include <archive.h>
#include <archive_entry.h>
#include <libdeflate.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <unordered_set>

#include "fmt/format.h"
#include "scan/archive_sniff.h"
#include "scan/binhex.h"
#include "scan/mime.h"
#include "scan/ole2.h"
#include "scan/pdf.h"
#include "scan/rtf.h"
#include "scan/szdd.h"
#include "scan/tnef.h"

namespace avkey::scan {
namespace {

struct ArchiveDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveDeleter>;

void AddFilters(archive* a) {
  archive_read_support_filter_bzip2(a);
  archive_read_support_filter_compress(a);
  archive_read_support_filter_gzip(a);
  archive_read_support_filter_lz4(a);
  archive_read_support_filter_lzip(a);
  archive_read_support_filter_lzma(a);
  archive_read_support_filter_xz(a);
  archive_read_support_filter_zstd(a);
  archive_read_support_filter_uu(a);
  archive_read_support_filter_rpm(a);
}

// A reader for archives (raw == false) or for a single compressed stream (raw == true).
Result<ArchivePtr> NewReader(bool raw) {
  ArchivePtr a(archive_read_new());
  if (!a) return Fail("out of memory creating an archive reader");
  AddFilters(a.get());
  if (raw) {
    archive_read_support_format_raw(a.get());
  } else {
    archive_read_support_format_7zip(a.get());
    archive_read_support_format_ar(a.get());
    archive_read_support_format_cab(a.get());
    archive_read_support_format_cpio(a.get());
    archive_read_support_format_iso9660(a.get());
    archive_read_support_format_lha(a.get());
    archive_read_support_format_rar(a.get());
    archive_read_support_format_rar5(a.get());
    archive_read_support_format_tar(a.get());
    archive_read_support_format_warc(a.get());
    archive_read_support_format_xar(a.get());
    archive_read_support_format_zip(a.get());
    // Past a tar's end-of-archive blocks, keep reading: `tar --ignore-zeros` extracts a
    // second archive appended there, so a scanner that stops at the first end misses it.
    archive_read_set_options(a.get(), "tar:read_concatenated_archives");
  }
  return a;
}

std::string ArchiveError(archive* a) {
  const char* msg = archive_error_string(a);
  return msg ? msg : "unknown error";
}

// Name for the content of a single compressed stream: the container's name without
// its compression suffix ("clam.exe.bz2" -> "clam.exe", "x.tgz" -> "x.tar").
std::string RawMemberName(const std::string& container) {
  std::string base = container;
  size_t slash = base.rfind('/');
  if (slash != std::string::npos) base = base.substr(slash + 1);
  static constexpr std::pair<const char*, const char*> kSuffixes[] = {
      {".tgz", ".tar"}, {".tbz2", ".tar"}, {".tbz", ".tar"}, {".txz", ".tar"}, {".tzst", ".tar"},
      {".gz", ""},      {".bz2", ""},      {".xz", ""},      {".zst", ""},     {".lz4", ""},
      {".lzma", ""},    {".lz", ""},       {".Z", ""},       {".uu", ""},      {".z", ""}};
  for (const auto& [suffix, replacement] : kSuffixes) {
    std::string_view s(suffix);
    if (base.size() > s.size() && std::string_view(base).ends_with(s)) {
      return base.substr(0, base.size() - s.size()) + replacement;
    }
  }
  return base + "(decompressed)";
}

std::string EntryName(archive_entry* entry, uint64_t index) {
  if (const char* p = archive_entry_pathname_utf8(entry)) return p;
  if (const char* p = archive_entry_pathname(entry)) return p;
  return fmt::format("(entry {})", index);
}

// Why libarchive could not give a member's bytes: "encrypted", "unsupported-format"
// (a method libarchive does not implement, e.g. zip deflate64 or implode: the archive
// may be fine) or "corrupt-archive".
std::string DataErrorCode(archive* a, archive_entry* entry) {
  if ((entry && archive_entry_is_encrypted(entry)) || archive_read_has_encrypted_entries(a) > 0) {
    return "encrypted";
  }
  std::string msg = ArchiveError(a);
  if (msg.find("Unsupported") != std::string::npos || msg.find("unsupported") != std::string::npos) {
    return "unsupported-format";
  }
  return "corrupt-archive";
}

// Filter 0 is the outermost; with only "none" the data is not compressed.
bool Compressed(archive* a) {
  return archive_filter_count(a) >= 2 && archive_filter_code(a, 0) != ARCHIVE_FILTER_NONE;
}

bool WeakMagicFilter(int code) {
  return code == ARCHIVE_FILTER_LZMA || code == ARCHIVE_FILTER_UU || code == ARCHIVE_FILTER_COMPRESS;
}

// The name of the compression whose magic `data` starts with, for those whose magic is long
// enough that a file starting with it is that stream (not lzma-alone, uuencode or compress:
// see WeakMagicFilter); nullptr otherwise.
const char* StrongCompressionMagic(std::span<const uint8_t> data) {
  static constexpr std::pair<std::string_view, const char*> kMagics[] = {
      {{"\x1f\x8b\x08", 3}, "gzip"},     {{"\xfd" "7zXZ\x00", 6}, "xz"}, {{"\x28\xb5\x2f\xfd", 4}, "zstd"},
      {{"\x04\x22\x4d\x18", 4}, "lz4"}, {{"LZIP", 4}, "lzip"},         {{"\xed\xab\xee\xdb", 4}, "rpm"}};
  std::string_view head(reinterpret_cast<const char*>(data.data()), std::min<size_t>(data.size(), 10));
  for (const auto& [magic, name] : kMagics) {
    if (head.starts_with(magic)) return name;
  }
  // bzip2: "BZh", the block size 1-9, then the block magic (pi).
  if (head.size() == 10 && head.starts_with("BZh") && head[3] >= '1' && head[3] <= '9' &&
      head.substr(4) == std::string_view("\x31\x41\x59\x26\x53\x59", 6)) {
    return "bzip2";
  }
  return nullptr;
}

std::string BaseName(std::string_view p) {
  size_t slash = p.rfind('/');
  return std::string(slash == std::string_view::npos ? p : p.substr(slash + 1));
}

}  // namespace

bool LibarchiveOpens(std::span<const uint8_t> data) {
  auto reader = NewReader(false);
  if (reader && archive_read_open_memory(reader->get(), data.data(), data.size()) == ARCHIVE_OK) return true;
  auto raw = NewReader(true);
  return raw && archive_read_open_memory(raw->get(), data.data(), data.size()) == ARCHIVE_OK &&
         Compressed(raw->get());
}

std::string Sha256Hex(std::span<const uint8_t> data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1) return "";
  return engine::HexString({md, len});
}

// Per top-level file: the member chain being unpacked and the budget spent so far.
struct LayerScanner::State {
  const std::string* path = nullptr;
  std::string_view owner;
  FileResults* out = nullptr;
  std::vector<std::string> chain;  // members, outermost first
  // The containers above the layer being scanned, typed as ClamAV types them (outermost
  // first): what .ldb Container/Intermediates conditions look at. One container can be
  // several ClamAV layers: a .tar.gz is GZ then POSIX_TAR.
  std::vector<engine::LayerType> types;
  uint64_t unpacked = 0;
  uint64_t entries = 0;
  // SHA-256 of the bytes last re-scanned for a HandlerType signature (libclamav keeps the
  // MD5 in ctx->handlertype_hash, one per scanned file); empty before the first.
  std::string handler_sha;
  bool rescanned = false;  // a HandlerType re-scan happened: its results may repeat others
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  bool TimeUp() const { return std::chrono::steady_clock::now() > deadline; }

  void Incomplete(std::string code, std::string detail) {
    IncompleteItem item;
    item.path = *path;
    item.members = chain;
    item.reason = detail.empty() ? code : fmt::format("{} ({})", code, detail);
    item.code = std::move(code);
    out->incomplete.push_back(std::move(item));
  }
};

namespace {
// Adds a container's ClamAV layer types for the members scanned in this scope.
class PushTypes {
 public:
  PushTypes(std::vector<engine::LayerType>& types, std::span<const engine::LayerType> add)
      : types_(types), n_(add.size()) {
    types_.insert(types_.end(), add.begin(), add.end());
  }
  ~PushTypes() { types_.resize(types_.size() - n_); }
  PushTypes(const PushTypes&) = delete;
  PushTypes& operator=(const PushTypes&) = delete;

 private:
  std::vector<engine::LayerType>& types_;
  size_t n_;
};

bool StartsWith(std::span<const uint8_t> data, std::string_view magic) {
  return data.size() >= magic.size() && std::memcmp(data.data(), magic.data(), magic.size()) == 0;
}

// The ClamAV layers of what libarchive opened (clamscan 1.4.6, seen in its --debug layer
// types): an archive found inside other data (a self-extractor) sits under that data's
// type; then each compression filter, outermost first; then the archive format, none for
// a lone compressed stream. A format or filter clamscan does not unpack is typed "",
// which no condition names. At most 6 layers; returns how many.
size_t ArchiveLayerTypes(archive* a, std::span<const uint8_t> data, bool raw,
                         std::array<engine::LayerType, 6>* out) {
  size_t n = 0;
  const int filters = std::min(archive_filter_count(a), 5);  // the last is the data itself
  std::string_view format;
  std::string_view magic;  // the format's magic when it may follow other data
  switch (archive_format(a)) {
    case ARCHIVE_FORMAT_ZIP: format = "CL_TYPE_ZIP", magic = "PK"; break;
    case ARCHIVE_FORMAT_7ZIP: format = "CL_TYPE_7Z", magic = "7z\xBC\xAF"; break;
    case ARCHIVE_FORMAT_CAB: format = "CL_TYPE_MSCAB", magic = "MSCF"; break;
    case ARCHIVE_FORMAT_RAR: case ARCHIVE_FORMAT_RAR_V5: format = "CL_TYPE_RAR", magic = "Rar!"; break;
    case ARCHIVE_FORMAT_LHA: format = "CL_TYPE_LHA_LZH"; break;
    case ARCHIVE_FORMAT_ISO9660: format = "CL_TYPE_ISO9660"; break;
    case ARCHIVE_FORMAT_XAR: format = "CL_TYPE_XAR"; break;
    case ARCHIVE_FORMAT_TAR: format = "CL_TYPE_OLD_TAR"; break;  // v7, no "ustar" magic
    case ARCHIVE_FORMAT_TAR_USTAR: case ARCHIVE_FORMAT_TAR_PAX_INTERCHANGE:
    case ARCHIVE_FORMAT_TAR_PAX_RESTRICTED: case ARCHIVE_FORMAT_TAR_GNUTAR: format = "CL_TYPE_POSIX_TAR"; break;
    case ARCHIVE_FORMAT_CPIO_POSIX: format = "CL_TYPE_CPIO_ODC"; break;
    case ARCHIVE_FORMAT_CPIO_BIN_LE: case ARCHIVE_FORMAT_CPIO_BIN_BE: format = "CL_TYPE_CPIO_OLD"; break;
    case ARCHIVE_FORMAT_CPIO_SVR4_NOCRC: format = "CL_TYPE_CPIO_NEWC"; break;
    case ARCHIVE_FORMAT_CPIO_SVR4_CRC: format = "CL_TYPE_CPIO_CRC"; break;
    default: break;
  }
  if (!raw && filters <= 1 && !magic.empty() && !StartsWith(data, magic)) {
    (*out)[n++] = {StartsWith(data, "MZ") ? "CL_TYPE_MSEXE"
                   : StartsWith(data, "\x7f" "ELF") ? "CL_TYPE_ELF"
                                                     : "CL_TYPE_BINARY_DATA"};
  }
  for (int i = filters - 2; i >= 0; --i) {
    switch (archive_filter_code(a, i)) {
      case ARCHIVE_FILTER_GZIP: (*out)[n++] = {"CL_TYPE_GZ"}; break;
      case ARCHIVE_FILTER_BZIP2: (*out)[n++] = {"CL_TYPE_BZ"}; break;
      case ARCHIVE_FILTER_XZ: (*out)[n++] = {"CL_TYPE_XZ"}; break;
      default: (*out)[n++] = {""}; break;
    }
  }
  if (!raw) (*out)[n++] = {format};
  return n;
}
// How clamscan types a layer, for the ancestors of a HandlerType re-scan (its Container):
// the engine's target type, or for untyped data the container formats avkey recognises by
// their magic; anything else CL_TYPE_BINARY_DATA.
std::string ClamTypeName(std::span<const uint8_t> data, engine::TargetType type) {
  using engine::TargetType;
  switch (type) {
    case TargetType::kPE: return "CL_TYPE_MSEXE";
    case TargetType::kELF: return "CL_TYPE_ELF";
    case TargetType::kMachO: return "CL_TYPE_MACHO";
    case TargetType::kOLE2: return "CL_TYPE_MSOLE2";
    case TargetType::kPDF: return "CL_TYPE_PDF";
    case TargetType::kHTML: return "CL_TYPE_HTML";
    case TargetType::kText: return "CL_TYPE_TEXT_ASCII";
    case TargetType::kMail: return "CL_TYPE_MAIL";
    case TargetType::kGraphics: return "CL_TYPE_GRAPHICS";
    case TargetType::kFlash: return "CL_TYPE_SWF";
    case TargetType::kJava: return "CL_TYPE_JAVA";
    case TargetType::kAny: break;
  }
  static constexpr std::pair<std::string_view, const char*> kMagics[] = {
      {{"PK\x03\x04", 4}, "CL_TYPE_ZIP"},  {{"7z\xBC\xAF", 4}, "CL_TYPE_7Z"},   {{"Rar!", 4}, "CL_TYPE_RAR"},
      {{"MSCF", 4}, "CL_TYPE_MSCAB"},        {{"\x1f\x8b", 2}, "CL_TYPE_GZ"},    {{"BZh", 3}, "CL_TYPE_BZ"},
      {{"\xfd" "7zXZ\x00", 6}, "CL_TYPE_XZ"}, {{"{\\rtf", 5}, "CL_TYPE_RTF"}, {{"SZDD", 4}, "CL_TYPE_MSSZDD"}};
  for (const auto& [magic, name] : kMagics) {
    if (StartsWith(data, magic)) return name;
  }
  if (data.size() > 262 && std::memcmp(data.data() + 257, "ustar", 5) == 0) return "CL_TYPE_POSIX_TAR";
  return "CL_TYPE_BINARY_DATA";
}
}  // namespace

LayerScanner::LayerScanner(std::shared_ptr<const engine::Database> db, const ArchiveLimits& limits,
                           std::stop_token stop)
    : scanner_(std::move(db)), limits_(limits), stop_(std::move(stop)) {
  buffers_.resize(static_cast<size_t>(limits_.max_depth) + 2);
  archive_buffers_.resize(buffers_.size());
}

LayerScanner::~LayerScanner() = default;

void LayerScanner::DeflateDeleter::operator()(libdeflate_decompressor* d) const { libdeflate_free_decompressor(d); }

void LayerScanner::ScanFile(const std::string& path, std::string_view owner,
                            std::span<const uint8_t> data, FileResults* out) {
  State st;
  st.path = &path;
  st.owner = owner;
  st.out = out;
  if (limits_.max_time.count() > 0) st.deadline = std::chrono::steady_clock::now() + limits_.max_time;
  const size_t first = out->detections.size();
  (void)ScanLayer(st, data, 0);
  if (st.rescanned) {
    // A re-scan reports the same signatures for the same path again (clamscan prints
    // each twice): one record each, so a threat is counted once.
    auto& v = out->detections;
    std::unordered_set<std::string> seen;
    size_t kept = first;
    for (size_t i = first; i < v.size(); ++i) {
      // Length-prefixed fields: member names are raw bytes.
      std::string key(1, static_cast<char>(v[i].engine));
      for (const auto& m : v[i].members) key += std::to_string(m.size()) + ':' + m;
      key += '/' + v[i].signature;
      if (seen.insert(std::move(key)).second) {
        if (kept != i) v[kept] = std::move(v[i]);
        ++kept;
      }
    }
    v.resize(kept);
  }
  // Keep at most 2 MiB per depth between files, so that a worker's memory is what it is
  // scanning now: what one large member left behind added to the peak when a large file
  // came later (16 MiB kept: peak RSS 101 MB with --jobs 1 on the bench corpus, 80 MB now).
  for (auto& b : buffers_) {
    if (b.capacity() > (2u << 20)) std::vector<uint8_t>().swap(b);
  }
  for (auto& b : archive_buffers_) {
    if (b.capacity() > (2u << 20)) engine::HugeVector<uint8_t>().swap(b);
  }
}

LayerScanner::Flow LayerScanner::ScanLayer(State& st, std::span<const uint8_t> data,
                                           uint32_t depth, std::string_view scan_as) {
  std::string joined = *st.path;
  for (const auto& m : st.chain) joined += "//" + m;
  std::string base = BaseName(st.chain.empty() ? *st.path : st.chain.back());
  engine::ScanContext ctx{base, joined, st.owner, st.types, scan_as};
  Status s = scanner_.Scan(data, ctx, &hits_);
  // An engine that failed (YARA, a digest) does not void what the others found.
  if (!s.ok()) st.Incomplete("scan-error", s.message());
  if (!scanner_.last_limit().empty()) st.Incomplete("limit-script", std::string(scanner_.last_limit()));
  if (!hits_.empty()) {
    std::string sha = Sha256Hex(data);
    for (const auto& h : hits_) {
      DetectionRecord d;
      d.path = *st.path;
      d.members = st.chain;
      d.signature = h.name;
      d.engine = h.engine;
      d.sha256 = sha;
      st.out->detections.push_back(std::move(d));
    }
  }
  if (data.empty()) return Flow::kContinue;
  const engine::TargetType type = scanner_.last_type();
  if (!scanner_.handler_matches().empty()) {
    // Copied: the re-scan reuses the scanner.
    std::vector<engine::HandlerMatch> matches(scanner_.handler_matches().begin(), scanner_.handler_matches().end());
    const std::string layer_type = scan_as.empty() || scan_as == "CL_TYPE_ANY" ? ClamTypeName(data, type)
                                                                                : std::string(scan_as);
    if (HandleTypes(st, data, depth, layer_type, matches) == Flow::kAbortFile) return Flow::kAbortFile;
  }
  // A re-scan unpacks what avkey recognises in the bytes, as any layer does (libclamav
  // runs the parser of the type named; docs/signatures.md says where that differs).
  return ScanContainer(st, data, type, depth);
}

LayerScanner::Flow LayerScanner::HandleTypes(State& st, std::span<const uint8_t> data, uint32_t depth,
                                             std::string_view layer_type,
                                             std::span<const engine::HandlerMatch> matches) {
  const std::string sha = Sha256Hex(data);
  for (const engine::HandlerMatch& m : matches) {
    if (sha == st.handler_sha) {
      // These bytes were re-scanned last: libclamav reports the signature instead (in the
      // re-scan, or for a second HandlerType signature of the layer re-scanned).
      DetectionRecord d;
      d.path = *st.path;
      d.members = st.chain;
      d.signature = m.name;
      d.engine = engine::EngineKind::kLogical;
      d.sha256 = sha;
      st.out->detections.push_back(std::move(d));
      continue;
    }
    // The re-scan is a layer of its own: libclamav pushes it on the recursion stack, which
    // refuses it past the limit (and then evaluates no further signature of this layer).
    if (depth >= limits_.max_depth) {
      st.Incomplete("limit-depth", fmt::format("containers nested deeper than {} levels (HandlerType {} of {})",
                                               limits_.max_depth, m.type, m.name));
      return Flow::kContinue;
    }
    st.handler_sha = sha;
    st.rescanned = true;
    const engine::LayerType parent{layer_type};
    PushTypes types(st.types, std::span(&parent, 1));
    if (ScanLayer(st, data, depth + 1, m.type) == Flow::kAbortFile) return Flow::kAbortFile;
  }
  return Flow::kContinue;
}

// The budgets as they apply to one container being unpacked by an extractor (extract.h):
// the same accounting as libarchive members get in ScanArchive().
class LayerScanner::Sink final : public ChildSink {
 public:
  Sink(LayerScanner& ls, State& st, uint32_t depth, size_t container_size)
      : ls_(ls), st_(st), depth_(depth), container_size_(container_size) {
    const uint64_t kNoLimit = UINT64_MAX;
    const ArchiveLimits& l = ls_.limits_;
    ratio_cap_ = l.max_ratio == 0
                     ? kNoLimit
                     : std::max<uint64_t>(l.ratio_floor_bytes,
                                          uint64_t{l.max_ratio} * std::max<size_t>(container_size, 1));
    max_unpacked_ = l.max_unpacked_bytes == 0 ? kNoLimit : l.max_unpacked_bytes;
    max_entries_ = l.max_entries == 0 ? kNoLimit : l.max_entries;
  }
  Flow flow() const { return flow_; }
  bool stopped() const { return stopped_; }

  // At the depth limit there is no room: the extractor's first member, of any size, ends
  // it with limit-depth (through Overflow() or Child()).
  uint64_t Room() const override {
    if (AtDepthLimit()) return 0;
    return std::min(UnpackedRoom(), ratio_cap_ - std::min(ratio_cap_, container_unpacked_));
  }
  void Overflow() override {
    if (stopped_) return;
    if (AtDepthLimit()) return DepthLimitReached();
    stopped_ = true;
    if (UnpackedRoom() <= ratio_cap_ - std::min(ratio_cap_, container_unpacked_)) {
      st_.Incomplete("limit-unpacked", fmt::format("members expand past {} MiB",
                                                   ls_.limits_.max_unpacked_bytes >> 20));
      flow_ = Flow::kAbortFile;
    } else {
      st_.Incomplete("limit-ratio", fmt::format("members expand more than {}x the container's {} bytes",
                                                ls_.limits_.max_ratio, container_size_));
    }
  }
  bool Child(std::string name, std::span<const uint8_t> data) override {
    if (stopped_) return false;
    if (AtDepthLimit()) {
      DepthLimitReached();
      return false;
    }
    if (ls_.stop_.stop_requested()) return Abort("interrupted", "scan stopped by the user");
    if (st_.TimeUp()) {
      return Abort("limit-time", fmt::format("more than {} s spent on this file",
                                             ls_.limits_.max_time.count() / 1000.0));
    }
    if (++st_.entries > max_entries_) {
      return Abort("limit-entries", fmt::format("more than {} members in this file", ls_.limits_.max_entries));
    }
    if (data.size() > Room()) {
      Overflow();
      return false;
    }
    st_.unpacked += data.size();
    container_unpacked_ += data.size();
    ++st_.out->members;
    st_.chain.push_back(std::move(name));
    struct PopChain {
      std::vector<std::string>& chain;
      ~PopChain() { chain.pop_back(); }
    } pop{st_.chain};
    if (ls_.ScanLayer(st_, data, depth_ + 1) == Flow::kAbortFile) {
      flow_ = Flow::kAbortFile;
      stopped_ = true;
      return false;
    }
    return true;
  }
  void Problem(std::string code, std::string detail) override {
    st_.Incomplete(std::move(code), std::move(detail));
  }
  std::vector<uint8_t>& Buffer() override { return ls_.buffers_[depth_ + 1]; }
  std::string ContainerName() const override {
    return BaseName(st_.chain.empty() ? *st_.path : st_.chain.back());
  }

 private:
  bool AtDepthLimit() const { return depth_ >= ls_.limits_.max_depth; }
  // Said only once a member exists: many files merely look like a container (text that
  // might hold uuencoded blocks, mail-like headers) and hold none.
  void DepthLimitReached() {
    st_.Incomplete("limit-depth", fmt::format("containers nested deeper than {} levels", ls_.limits_.max_depth));
    stopped_ = true;
  }
  uint64_t UnpackedRoom() const { return max_unpacked_ - std::min(max_unpacked_, st_.unpacked); }
  bool Abort(std::string code, std::string detail) {
    st_.Incomplete(std::move(code), std::move(detail));
    flow_ = Flow::kAbortFile;
    stopped_ = true;
    return false;
  }

  LayerScanner& ls_;
  State& st_;
  uint32_t depth_;
  size_t container_size_;
  uint64_t ratio_cap_, max_unpacked_, max_entries_;
  uint64_t container_unpacked_ = 0;
  Flow flow_ = Flow::kContinue;
  bool stopped_ = false;
};

LayerScanner::Flow LayerScanner::RunExtractor(State& st, std::span<const uint8_t> data, uint32_t depth,
                                              void (*extract)(std::span<const uint8_t>, ChildSink&)) {
  // At the depth limit the extractor still runs, to find out whether there is a member
  // at all; its first member ends it with limit-depth (Sink::Child).
  Sink sink(*this, st, depth, data.size());
  try {
    extract(data, sink);
  } catch (const std::exception& e) {
    // std::bad_alloc from a vector (every size is budgeted first, so this is rare).
    st.Incomplete("scan-error", fmt::format("unpacking failed: {}", e.what()));
  }
  return sink.flow();
}

namespace {
using Extractor = void (*)(std::span<const uint8_t>, ChildSink&);
// avkey's own formats with a magic or a shape strong enough to try before libarchive.
struct OwnFormat {
  bool (*sniff)(std::span<const uint8_t>);
  Extractor extract;
  engine::LayerType type;  // as clamscan types the container
};
constexpr OwnFormat kOwnFormats[] = {
    {LooksLikeOle2, ExtractOle2, {"CL_TYPE_MSOLE2"}},
    {LooksLikeSzdd, ExtractSzdd, {"CL_TYPE_MSSZDD"}},
    {LooksLikeTnef, ExtractTnef, {"CL_TYPE_TNEF"}},
    {LooksLikeRtf, ExtractRtf, {"CL_TYPE_RTF"}},
    {LooksLikeBinHex, ExtractBinHex, {"CL_TYPE_BINHEX"}},
    {LooksLikePdf, ExtractPdf, {"CL_TYPE_PDF"}},
    {LooksLikeMail, ExtractMail, {"CL_TYPE_MAIL"}},
};
// Text: clamscan decodes the data: URIs of an HTML file in a normalised MAIL layer under
// the HTML one, and a uuencoded file is a container of its own type.
constexpr engine::LayerType kHtmlDataUri[] = {{"CL_TYPE_HTML"}, {"CL_TYPE_MAIL", true}};
constexpr engine::LayerType kUuencoded[] = {{"CL_TYPE_UUENCODED"}};
constexpr engine::LayerType kText[] = {{"CL_TYPE_TEXT_ASCII"}};
}  // namespace

LayerScanner::Flow LayerScanner::ScanContainer(State& st, std::span<const uint8_t> data, engine::TargetType type,
                                               uint32_t depth) {
  for (const OwnFormat& f : kOwnFormats) {
    if (f.sniff(data)) {
      PushTypes types(st.types, std::span(&f.type, 1));
      return RunExtractor(st, data, depth, f.extract);
    }
  }
  bool handled = false;
  Flow flow = ScanArchive(st, data, depth, &handled);
  if (handled) return flow;
  // Text that no reader took: uuencoded blocks and data: URIs anywhere in it.
  if (LooksLikeText(data)) {
    using Types = std::span<const engine::LayerType>;
    PushTypes types(st.types, type == engine::TargetType::kHTML ? Types(kHtmlDataUri)
                              : StartsWith(data, "begin ")                             ? Types(kUuencoded)
                                                                                       : Types(kText));
    return RunExtractor(st, data, depth, ExtractText);
  }
  return Flow::kContinue;
}

// Every .gz under /usr/share/doc is one gzip member of text. libarchive reads one through
// zlib twice over (its format bidders decode the start, then the raw reader all of it);
// libdeflate decodes it whole in one call: the 800 .gz of the bench corpus, 70 MB decoded,
// 0.222 s -> 0.077 s. Only the plain case is taken, so that what is scanned, and how it is
// named, typed and budgeted, is what ScanArchive would do: one member filling the input
// exactly, its size (the trailer's, checked by libdeflate with the CRC) within the
// budgets, and content no libarchive reader would bid on (not a .tar.gz, not a .gz of a
// .bz2). Anything else, damage included, is left to libarchive.
bool LayerScanner::ScanLoneGzip(State& st, std::span<const uint8_t> data, uint32_t depth, Flow* flow) {
  constexpr size_t kSmallest = 18;  // 10-byte header, an empty deflate block, 8-byte trailer
  constexpr uint64_t kLargest = 256u << 20;  // decoded whole: bigger ones stream through libarchive
  if (data.size() < kSmallest || !StartsWith(data, "\x1f\x8b\x08")) return false;
  // A tar inside is libarchive's to read, after a decode here that would be wasted: spared
  // when the name says so (a wrong name only picks the other, equivalent, path).
  const std::string_view name = st.chain.empty() ? std::string_view(*st.path) : std::string_view(st.chain.back());
  if (name.ends_with(".tar.gz") || name.ends_with(".tgz")) return false;
  const uint8_t* t = data.data() + data.size() - 4;
  const uint64_t size = uint64_t{t[0]} | uint64_t{t[1]} << 8 | uint64_t{t[2]} << 16 | uint64_t{t[3]} << 24;
  Sink sink(*this, st, depth, data.size());
  // (Room() is 0 at the depth limit: libarchive's path reports it.)
  // (Deflate expands at most 1032:1: a larger claim is a lie, not worth the memory.)
  if (size == 0 || size > kLargest || size > sink.Room() || size > 1032 * uint64_t{data.size()}) return false;
  if (!gunzip_) gunzip_.reset(libdeflate_alloc_decompressor());
  if (!gunzip_) return false;
  engine::HugeVector<uint8_t>& buf = archive_buffers_[depth + 1];  // as ScanArchive: kept, only grown
  if (buf.size() < size) buf.resize(static_cast<size_t>(size));
  size_t in = 0, out = 0;
  if (libdeflate_gzip_decompress_ex(gunzip_.get(), data.data(), data.size(), buf.data(), static_cast<size_t>(size),
                                    &in, &out) != LIBDEFLATE_SUCCESS ||
      in != data.size() || out != size)
    return false;
  const std::span<const uint8_t> member(buf.data(), out);
  if (MayBeLibarchiveInput(member)) return false;
  static constexpr engine::LayerType kGzip[] = {{"CL_TYPE_GZ"}};  // ArchiveLayerTypes of a raw gzip
  PushTypes types(st.types, kGzip);
  ++lone_gzips_;
  sink.Child(RawMemberName(st.chain.empty() ? *st.path : st.chain.back()), member);
  *flow = sink.flow();
  return true;
}

LayerScanner::Flow LayerScanner::ScanArchive(State& st, std::span<const uint8_t> data,
                                             uint32_t depth, bool* handled) {
  *handled = false;
  if (!MayBeLibarchiveInput(data)) return Flow::kContinue;
  if (Flow flow = Flow::kContinue; ScanLoneGzip(st, data, depth, &flow)) {
    *handled = true;
    return flow;
  }
  auto reader = NewReader(false);
  if (!reader) {
    st.Incomplete("io-error", reader.error());
    return Flow::kContinue;
  }
  ArchivePtr a = std::move(*reader);
  bool raw = false;
  if (archive_read_open_memory(a.get(), data.data(), data.size()) != ARCHIVE_OK) {
    // Not an archive; maybe a single compressed stream (gzip, bzip2, xz, zstd...).
    auto raw_reader = NewReader(true);
    if (!raw_reader) return Flow::kContinue;
    a = std::move(*raw_reader);
    if (archive_read_open_memory(a.get(), data.data(), data.size()) != ARCHIVE_OK) {
      // libarchive reads ahead when it opens: a truncated or damaged stream fails here, and
      // none of its content can be had. Said, not passed as clean.
      // "Unrecognized archive format" (errno ARCHIVE_ERRNO_FILE_FORMAT, which libarchive
      // defines privately as EILSEQ on Linux) is a stream that decoded to nothing: a valid
      // empty .gz. Damage is ARCHIVE_ERRNO_MISC ("truncated gzip input").
      const char* kind = StrongCompressionMagic(data);
      if (kind && archive_errno(a.get()) != EILSEQ) {
        *handled = true;
        st.Incomplete("corrupt-archive", fmt::format("damaged {} stream: {}", kind, ArchiveError(a.get())));
      }
      return Flow::kContinue;
    }
    if (!Compressed(a.get())) return Flow::kContinue;
    raw = true;
  }
  *handled = true;

  // 0 disables a budget (except max_depth, where 0 means "do not unpack").
  const uint64_t kNoLimit = UINT64_MAX;
  const uint64_t ratio_cap =
      limits_.max_ratio == 0
          ? kNoLimit
          : std::max<uint64_t>(limits_.ratio_floor_bytes,
                               static_cast<uint64_t>(limits_.max_ratio) * std::max<size_t>(data.size(), 1));
  const uint64_t max_unpacked = limits_.max_unpacked_bytes == 0 ? kNoLimit : limits_.max_unpacked_bytes;
  const uint64_t max_entries = limits_.max_entries == 0 ? kNoLimit : limits_.max_entries;
  uint64_t container_unpacked = 0;
  engine::HugeVector<uint8_t>& buf = archive_buffers_[depth + 1];
  uint64_t index = 0;
  bool seen_entry = false;
  for (;; ++index) {
    if (stop_.stop_requested()) {
      st.Incomplete("interrupted", "scan stopped by the user");
      return Flow::kAbortFile;
    }
    if (st.TimeUp()) {
      st.Incomplete("limit-time", fmt::format("more than {} s spent on this file",
                                              limits_.max_time.count() / 1000.0));
      return Flow::kAbortFile;
    }
    archive_entry* entry = nullptr;
    int r = archive_read_next_header(a.get(), &entry);
    if (r == ARCHIVE_EOF) {
      // A compressed stream whose content reads as an archive without a single entry (a
      // gzip of zeros is an empty tar: two zero blocks) had its bytes looked at by nobody:
      // scan the stream itself instead, under the same budgets.
      if (!seen_entry && !raw && Compressed(a.get())) {
        auto raw_reader = NewReader(true);
        if (raw_reader && archive_read_open_memory(raw_reader->get(), data.data(), data.size()) == ARCHIVE_OK) {
          a = std::move(*raw_reader);
          raw = true;
          continue;
        }
      }
      break;
    }
    if (r < ARCHIVE_WARN) {
      // PE and ELF files are probed for self-extracting rar/cab/zip/lha data; a probe that
      // finds a signature-like string but no archive is not corruption (measured: 2 false
      // "corrupt-archive" on Go's ELF tools without this).
      auto starts = [&](std::string_view magic) {
        return data.size() >= magic.size() && std::memcmp(data.data(), magic.data(), magic.size()) == 0;
      };
      bool probe = !seen_entry && (starts("MZ") || starts("\x7f" "ELF"));
      if (probe) {
        *handled = false;
      } else {
        st.Incomplete(DataErrorCode(a.get(), nullptr), ArchiveError(a.get()));
      }
      return Flow::kContinue;
    }
    seen_entry = true;
    if (++st.entries > max_entries) {
      st.Incomplete("limit-entries",
                    fmt::format("more than {} members in this file", limits_.max_entries));
      return Flow::kAbortFile;
    }
    // Directories, links and devices carry no content; anything else is read, including an
    // entry whose mode names no file type at all: a hostile archive can write any mode, and
    // unrar or 7z would still extract it as a file.
    switch (archive_entry_filetype(entry)) {
      case AE_IFDIR: case AE_IFLNK: case AE_IFCHR: case AE_IFBLK: case AE_IFIFO: case AE_IFSOCK: continue;
      default: break;
    }
    if (archive_entry_hardlink(entry) != nullptr && archive_entry_size(entry) == 0) continue;
    // As for avkey's own extractors (Sink): limit-depth once there is a member to read, not
    // for a reader that merely opened (an empty archive, a self-extractor probe that fails).
    if (depth >= limits_.max_depth) {
      st.Incomplete("limit-depth", fmt::format("containers nested deeper than {} levels", limits_.max_depth));
      return Flow::kContinue;
    }
    std::string name = raw ? RawMemberName(st.chain.empty() ? *st.path : st.chain.back())
                           : EntryName(entry, index);

    st.chain.push_back(std::move(name));
    struct PopChain {
      std::vector<std::string>& chain;
      ~PopChain() { chain.pop_back(); }
    } pop{st.chain};

    if (archive_entry_is_encrypted(entry)) {
      st.Incomplete("encrypted", "member is encrypted; its content was not scanned");
      continue;
    }
    // The member's bytes are buf[0, used). buf keeps its size between members: growing a
    // vector zero-fills, and zero-filling each 256 KiB chunk before libarchive overwrote
    // it was 5% of a scan.
    size_t used = 0;
    if (archive_entry_size_is_set(entry) && archive_entry_size(entry) > 0) {
      uint64_t hint = static_cast<uint64_t>(archive_entry_size(entry));
      uint64_t room = max_unpacked - std::min(max_unpacked, st.unpacked);
      // The declared size is untrusted: reserve at most 8 MiB up front and grow with
      // the data actually produced (a tiny nested archive must not reserve gigabytes).
      buf.reserve(static_cast<size_t>(std::min({hint, room, uint64_t{8} << 20})) + 1);
    }
    constexpr size_t kChunk = 256 * 1024;
    bool failed = false;
    uint64_t produced = 0;
    constexpr int kMaxWarningsInARow = 64;
    int warnings_in_a_row = 0;
    for (;;) {
      if (buf.size() < used + kChunk) buf.resize(used + kChunk);
      la_ssize_t n = archive_read_data(a.get(), buf.data() + used, kChunk);
      if (n < 0) {
        // A warning is not fatal, but a reader that only ever warns must not spin
        // past the time and stop checks: give up after a bounded number in a row.
        if (n == ARCHIVE_WARN && ++warnings_in_a_row < kMaxWarningsInARow) continue;
        // lzma-alone, uuencode and compress(1) have weak or no magic: their bidders accept
        // some ordinary files. A stream of theirs that yields nothing was not one.
        if (raw && produced == 0 && WeakMagicFilter(archive_filter_code(a.get(), 0))) {
          *handled = false;
          return Flow::kContinue;
        }
        st.Incomplete(DataErrorCode(a.get(), entry), ArchiveError(a.get()));
        failed = true;
        break;
      }
      used += static_cast<size_t>(n);
      warnings_in_a_row = 0;
      if (n == 0) break;
      produced += static_cast<uint64_t>(n);
      st.unpacked += static_cast<uint64_t>(n);
      container_unpacked += static_cast<uint64_t>(n);
      if (st.unpacked > max_unpacked) {
        st.Incomplete("limit-unpacked",
                      fmt::format("members expand past {} MiB", limits_.max_unpacked_bytes >> 20));
        return Flow::kAbortFile;
      }
      if (container_unpacked > ratio_cap) {
        st.Incomplete("limit-ratio",
                      fmt::format("members expand more than {}x the container's {} bytes",
                                  limits_.max_ratio, data.size()));
        return Flow::kContinue;  // this container is a bomb; its siblings may not be
      }
      if (st.TimeUp()) {
        st.Incomplete("limit-time", fmt::format("more than {} s spent on this file",
                                                limits_.max_time.count() / 1000.0));
        return Flow::kAbortFile;
      }
      if (stop_.stop_requested()) {
        st.Incomplete("interrupted", "scan stopped by the user");
        return Flow::kAbortFile;
      }
    }
    if (failed) {
      // The stream cannot be trusted past a data error: stop reading this container.
      return Flow::kContinue;
    }
    ++st.out->members;
    std::array<engine::LayerType, 6> layer_types;
    PushTypes types(st.types, std::span(layer_types.data(), ArchiveLayerTypes(a.get(), data, raw, &layer_types)));
    // ScanLayer may reuse archive_buffers_[depth + 2...] but never [depth + 1].
    if (ScanLayer(st, std::span<const uint8_t>(buf.data(), used), depth + 1) ==
        Flow::kAbortFile) {
      return Flow::kAbortFile;
    }
    if (raw) break;
  }
  return Flow::kContinue;
}

}  // namespace avkey::scan
