#include "engine/cvd.h"

#include "engine/hash_index.h"

#include <archive.h>
#include <archive_entry.h>
#include <fmt/format.h>
#include <openssl/evp.h>

#include <charconv>
#include <memory>

namespace avkey::engine {
namespace {

constexpr size_t kHeaderSize = 512;
constexpr uint64_t kMaxUnpacked = uint64_t{512} << 20;

bool ToU32(std::string_view s, uint32_t* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return !s.empty() && ec == std::errc() && p == s.data() + s.size();
}

// libarchive may have no message (e.g. a truncated gzip stream): never build a
// std::string from its null pointer (found by fuzz/cvd_fuzz).
std::string ArchiveError(archive* a) {
  const char* e = archive_error_string(a);
  return e ? e : "unknown libarchive error";
}

struct ArchiveDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};

}  // namespace

Result<CvdHeader> ParseCvdHeader(std::string_view bytes) {
  if (bytes.size() < kHeaderSize) return Fail("shorter than the 512-byte CVD header");
  std::string_view h = bytes.substr(0, kHeaderSize);
  while (!h.empty() && (h.back() == ' ' || h.back() == '\0' || h.back() == '\n')) h.remove_suffix(1);
  if (!h.starts_with("ClamAV-VDB:")) return Fail("not a ClamAV container (no 'ClamAV-VDB:' header)");
  std::vector<std::string_view> f;
  size_t start = 0;
  for (size_t i = 0; i <= h.size(); ++i) {
    if (i == h.size() || h[i] == ':') {
      f.push_back(h.substr(start, i - start));
      start = i + 1;
    }
  }
  if (f.size() < 8) return Fail(fmt::format("CVD header has {} fields, expected at least 8", f.size()));
  CvdHeader out;
  out.time_text = f[1];
  if (!ToU32(f[2], &out.version)) return Fail("bad version field in CVD header");
  if (!ToU32(f[3], &out.signatures)) return Fail("bad signature count in CVD header");
  if (!ToU32(f[4], &out.min_flevel)) return Fail("bad FLEVEL field in CVD header");
  out.md5 = f[5];
  out.dsig = f[6];
  out.builder = f[7];
  if (f.size() > 8) {
    auto s = f[8];
    std::from_chars(s.data(), s.data() + s.size(), out.build_time);
  }
  return out;
}

Result<CvdContents> ReadCvd(std::string_view bytes) {
  auto header = ParseCvdHeader(bytes);
  if (!header) return Fail(header.error());
  CvdContents out;
  out.header = *header;
  std::string_view body = bytes.substr(kHeaderSize);
  unsigned char md[16];
  unsigned int len = 0;
  EVP_Digest(body.data(), body.size(), md, &len, EVP_md5(), nullptr);
  std::string md5 = HexString(md);
  if (md5 != out.header.md5) return Fail("MD5 of the container does not match its header (corrupt or tampered)");
  out.verified = true;

  std::unique_ptr<archive, ArchiveDeleter> a(archive_read_new());
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_none(a.get());
  archive_read_support_format_tar(a.get());
  if (archive_read_open_memory(a.get(), body.data(), body.size()) != ARCHIVE_OK)
    return Fail(std::string("cannot open container archive: ") + ArchiveError(a.get()));
  uint64_t total = 0;
  archive_entry* entry = nullptr;
  while (true) {
    int r = archive_read_next_header(a.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) return Fail(std::string("corrupt container archive: ") + ArchiveError(a.get()));
    if (archive_entry_filetype(entry) != AE_IFREG) continue;
    CvdContents::File f;
    const char* name = archive_entry_pathname(entry);
    f.name = name ? name : "";
    char buf[65536];
    la_ssize_t n;
    while ((n = archive_read_data(a.get(), buf, sizeof buf)) > 0) {
      total += static_cast<uint64_t>(n);
      if (total > kMaxUnpacked) return Fail("container unpacks to more than 512 MiB");
      f.content.append(buf, static_cast<size_t>(n));
    }
    if (n < 0) return Fail(std::string("corrupt member '") + f.name + "': " + ArchiveError(a.get()));
    out.files.push_back(std::move(f));
  }
  return out;
}

}  // namespace avkey::engine
