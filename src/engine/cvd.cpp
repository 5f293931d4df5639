#include "engine/cvd.h"

#include "engine/hash_index.h"

#include <archive.h>
#include <archive_entry.h>
#include <fmt/format.h>
#include <openssl/bn.h>
#include <openssl/evp.h>

#include <algorithm>
#include <atomic>
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

struct BnDeleter {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
struct BnCtxDeleter {
  void operator()(BN_CTX* c) const { BN_CTX_free(c); }
};
using Bn = std::unique_ptr<BIGNUM, BnDeleter>;

constexpr size_t kMd5Bytes = 16;

// Data, not code: the public key published in ClamAV's libclamav/dsig.c (CLI_NSTR,
// CLI_ESTR), a 1024-bit modulus with an unusual public exponent.
constexpr std::string_view kTalosModulus =
    "118640995551645342603070001658453189751527774412027743746599405743243142607464144767361060640655"
    "844749760788890022283424922762488917565551002467771109669598189410434699034532232228621591089508"
    "178591428456220796841621637175567590476666928698770143328137383952820383197532047771780196576957"
    "695822641224262693037";
constexpr std::string_view kTalosExponent = "100001027";

// Value of one dsig digit (a-z, A-Z, 0-9, '+', '/' are 0..63), or -1.
int DsigDigit(char c) {
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= 'A' && c <= 'Z') return c - 'A' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// A non-negative decimal number, or null.
Bn DecimalBn(std::string_view s) {
  if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) return nullptr;
  const std::string text(s);  // BN_dec2bn wants a terminated string
  BIGNUM* raw = nullptr;
  if (BN_dec2bn(&raw, text.c_str()) != static_cast<int>(text.size())) {
    BN_free(raw);
    return nullptr;
  }
  return Bn(raw);
}

bool IsLowerHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::atomic<const CvdKey*> g_test_key{nullptr};  // ScopedCvdKeyForTesting

}  // namespace

const CvdKey& TalosCvdKey() {
  static const CvdKey key{kTalosModulus, kTalosExponent, "Talos' CVD key"};
  return key;
}

const CvdKey& TrustedCvdKey() {
  const CvdKey* key = g_test_key.load(std::memory_order_acquire);
  return key ? *key : TalosCvdKey();
}

ScopedCvdKeyForTesting::ScopedCvdKeyForTesting(const CvdKey& key)
    : previous_(g_test_key.exchange(&key, std::memory_order_acq_rel)) {}

ScopedCvdKeyForTesting::~ScopedCvdKeyForTesting() { g_test_key.store(previous_, std::memory_order_release); }

Status VerifyCvdDsig(std::string_view md5_hex, std::string_view dsig, const CvdKey& key) {
  if (md5_hex.size() != 2 * kMd5Bytes || !IsLowerHex(md5_hex))
    return Status::Error(fmt::format("dsig: the MD5 '{}' is not 32 lower-case hex digits", md5_hex));
  if (dsig.empty()) return Status::Error("no digital signature (empty dsig field in the header)");
  if (dsig == "X") return Status::Error("unsigned (dsig 'X'); only a .cud container may be unsigned");
  Bn n = DecimalBn(key.modulus);
  Bn e = DecimalBn(key.exponent);
  if (!n || !e || BN_is_zero(n.get())) return Status::Error(fmt::format("{} is not a decimal RSA key", key.name));
  const std::string bad = fmt::format("dsig does not verify with {} (not signed with it, or the header was altered)",
                                      key.name);

  // Most significant digit last: fold from the end. Stopping as soon as the number
  // outgrows the modulus bounds the work on a hostile header.
  Bn c(BN_new());
  std::unique_ptr<BN_CTX, BnCtxDeleter> ctx(BN_CTX_new());
  const Status openssl_failed = Status::Error("dsig: OpenSSL failed (out of memory?)");
  if (!c || !ctx) return openssl_failed;
  const int modulus_bits = BN_num_bits(n.get());
  for (size_t i = dsig.size(); i-- > 0;) {
    const int digit = DsigDigit(dsig[i]);
    if (digit < 0) return Status::Error(fmt::format("dsig has a character outside its alphabet at position {}", i));
    if (!BN_lshift(c.get(), c.get(), 6) || !BN_add_word(c.get(), static_cast<BN_ULONG>(digit))) return openssl_failed;
    if (BN_num_bits(c.get()) > modulus_bits) return Status::Error(bad);
  }
  if (BN_cmp(c.get(), n.get()) >= 0) return Status::Error(bad);

  Bn m(BN_new());
  if (!m || !BN_mod_exp(m.get(), c.get(), e.get(), n.get(), ctx.get())) return openssl_failed;
  // The signed message is the MD5 itself, unpadded: anything wider is not a match.
  if (BN_num_bytes(m.get()) > static_cast<int>(kMd5Bytes)) return Status::Error(bad);
  uint8_t md[kMd5Bytes];
  if (BN_bn2binpad(m.get(), md, sizeof md) != static_cast<int>(sizeof md)) return Status::Error(bad);
  if (HexString(md) != md5_hex) return Status::Error(bad);
  return Status::Ok();
}

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

Result<CvdContents> ReadCvd(std::string_view bytes, CvdKind kind, const CvdKey& key) {
  auto header = ParseCvdHeader(bytes);
  if (!header) return Fail(header.error());
  CvdContents out;
  out.header = *header;
  // freshclam writes the header of a .cld it rebuilt from .cdiff updates from the first
  // line of its .info, where sigtool put "X" for the MD5 and the dsig; ClamAV vouches for
  // such a file through the .info's own DSIG, which avkey does not check.
  if (out.header.md5 == "X")
    return Fail("header has no MD5 ('X', as in a .cld that freshclam rebuilt from .cdiff updates): cannot verify");
  std::string_view body = bytes.substr(kHeaderSize);
  unsigned char md[16];
  unsigned int len = 0;
  EVP_Digest(body.data(), body.size(), md, &len, EVP_md5(), nullptr);
  std::string md5 = HexString(md);
  if (md5 != out.header.md5) return Fail("MD5 of the container does not match its header (corrupt or tampered)");
  // As clamscan: the MD5 first, then the signature over it (one 1024-bit modular
  // exponentiation: 25 us measured here, once per container).
  if (kind == CvdKind::kSigned) {
    Status signature = VerifyCvdDsig(md5, out.header.dsig, key);
    if (!signature.ok()) return Fail(signature.message());
  }
  out.verified = kind == CvdKind::kSigned;

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
