#include "engine/cvd.h"

#include "engine/hash_index.h"

#include <archive.h>
#include <archive_entry.h>
#include <fmt/format.h>
#include <openssl/bn.h>
#include <openssl/evp.h>

#include <algorithm>
#include <atomic>
#include <cctype>
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

// Data, not code: the .info key published in ClamAV's libclamav/readdb.c (INFO_NSTR,
// INFO_ESTR), a 2047-bit modulus.
constexpr std::string_view kTalosInfoModulus =
    "11088894983048545473659556106627194923928941791795047620591658697413581043322715912172496806525381055880"
    "96452061840022433332053466029923398375534174067950286682990967995573439139266837836122152420539663109010"
    "51516412708572770803107343209516537005089417174191687239425078907029047027075874516216910507543078503833"
    "99865346487203798464178537392211402786481359824461197231102895415093770394216666324484593935762408468516"
    "82663319214082666792349482204580534780993284845484588697170642436055866786277587607205943770336538020910"
    "1697738577515476935085469455279994113145977994084618328482151013142393373316337519977244732747977";
constexpr std::string_view kTalosInfoExponent = "100002049";

// cli_versig2's layout: a 256-byte encoded message = masked block (223) | H (32) | 0xbc.
constexpr size_t kSha256Bytes = 32;
constexpr size_t kPssBytes = 256;
constexpr size_t kPssBlock = kPssBytes - kSha256Bytes - 1;
constexpr size_t kPssSalt = 32;

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

std::atomic<const CvdKey*> g_test_key{nullptr};       // ScopedCvdKeyForTesting
std::atomic<const CvdKey*> g_test_info_key{nullptr};  // ScopedInfoKeyForTesting

// The dsig as a number, read most significant digit last, refused unless below `n`;
// `bad` is the message for a number out of range. Stopping as soon as the number
// outgrows the modulus bounds the work on a hostile header.
Result<Bn> DecodeDsig(std::string_view dsig, const BIGNUM* n, const std::string& bad) {
  Bn c(BN_new());
  if (!c) return Fail("dsig: OpenSSL failed (out of memory?)");
  const int modulus_bits = BN_num_bits(n);
  for (size_t i = dsig.size(); i-- > 0;) {
    const int digit = DsigDigit(dsig[i]);
    if (digit < 0) return Fail(fmt::format("dsig has a character outside its alphabet at position {}", i));
    if (!BN_lshift(c.get(), c.get(), 6) || !BN_add_word(c.get(), static_cast<BN_ULONG>(digit)))
      return Fail("dsig: OpenSSL failed (out of memory?)");
    if (BN_num_bits(c.get()) > modulus_bits) return Fail(bad);
  }
  if (BN_cmp(c.get(), n) >= 0) return Fail(bad);
  return c;
}

bool Sha256(std::string_view data, uint8_t (&out)[kSha256Bytes]) {
  unsigned int len = 0;
  return EVP_Digest(data.data(), data.size(), out, &len, EVP_sha256(), nullptr) == 1 && len == kSha256Bytes;
}

bool EndsWithInfo(std::string_view name) {
  if (name.size() < 5) return false;
  std::string tail(name.substr(name.size() - 5));
  std::transform(tail.begin(), tail.end(), tail.begin(), [](unsigned char c) { return std::tolower(c); });
  return tail == ".info";
}

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

const CvdKey& TalosInfoKey() {
  static const CvdKey key{kTalosInfoModulus, kTalosInfoExponent, "Talos' .info key"};
  return key;
}

const CvdKey& TrustedInfoKey() {
  const CvdKey* key = g_test_info_key.load(std::memory_order_acquire);
  return key ? *key : TalosInfoKey();
}

ScopedInfoKeyForTesting::ScopedInfoKeyForTesting(const CvdKey& key)
    : previous_(g_test_info_key.exchange(&key, std::memory_order_acq_rel)) {}

ScopedInfoKeyForTesting::~ScopedInfoKeyForTesting() {
  g_test_info_key.store(previous_, std::memory_order_release);
}

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

  auto c = DecodeDsig(dsig, n.get(), bad);
  if (!c) return Status::Error(c.error());
  std::unique_ptr<BN_CTX, BnCtxDeleter> ctx(BN_CTX_new());
  const Status openssl_failed = Status::Error("dsig: OpenSSL failed (out of memory?)");
  if (!ctx) return openssl_failed;
  Bn m(BN_new());
  if (!m || !BN_mod_exp(m.get(), c->get(), e.get(), n.get(), ctx.get())) return openssl_failed;
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

Status VerifyInfoDsig(std::span<const uint8_t> sha256, std::string_view dsig, const CvdKey& key) {
  if (sha256.size() != kSha256Bytes) return Status::Error("DSIG: the digest is not 32 bytes");
  if (dsig.empty()) return Status::Error("no digital signature (empty DSIG line in the .info)");
  Bn n = DecimalBn(key.modulus);
  Bn e = DecimalBn(key.exponent);
  if (!n || !e || BN_is_zero(n.get()) || BN_num_bytes(n.get()) > static_cast<int>(kPssBytes))
    return Status::Error(fmt::format("{} is not a decimal RSA key of at most 2048 bits", key.name));
  const std::string bad =
      fmt::format("the .info DSIG does not verify with {} (not signed with it, or the .info was altered)", key.name);
  auto c = DecodeDsig(dsig, n.get(), bad);
  if (!c) return Status::Error(c.error());
  std::unique_ptr<BN_CTX, BnCtxDeleter> ctx(BN_CTX_new());
  Bn m(BN_new());
  uint8_t em[kPssBytes];
  if (!ctx || !m || !BN_mod_exp(m.get(), c->get(), e.get(), n.get(), ctx.get()) ||
      BN_bn2binpad(m.get(), em, sizeof em) != static_cast<int>(sizeof em))
    return Status::Error("DSIG: OpenSSL failed (out of memory?)");
  if (em[kPssBytes - 1] != 0xbc) return Status::Error(bad);
  const uint8_t* h = em + kPssBlock;  // the hash the signer put after the masked block

  // Unmask the block: MGF1-SHA-256 of H (SHA-256 of H || 4-byte big-endian counter).
  uint8_t db[kPssBlock];
  for (size_t i = 0, counter = 0; i < kPssBlock; ++counter) {
    uint8_t seed[kSha256Bytes + 4];
    std::copy(h, h + kSha256Bytes, seed);
    for (int k = 0; k < 4; ++k) seed[kSha256Bytes + k] = static_cast<uint8_t>(counter >> (8 * (3 - k)));
    uint8_t block[kSha256Bytes];
    if (!Sha256(std::string_view(reinterpret_cast<const char*>(seed), sizeof seed), block))
      return Status::Error("DSIG: OpenSSL failed");
    for (size_t k = 0; k < kSha256Bytes && i < kPssBlock; ++k, ++i) db[i] = em[i] ^ block[k];
  }
  db[0] &= 0x7f;  // as Talos' signer and ClamAV: only the top bit is outside the number
  // The block is zeros, 0x01, then the salt.
  constexpr size_t kOne = kPssBlock - kPssSalt - 1;
  if (!std::all_of(db, db + kOne, [](uint8_t b) { return b == 0; }) || db[kOne] != 0x01) return Status::Error(bad);

  // H must be SHA-256 of eight zero bytes, the message digest and the salt.
  uint8_t m_prime[8 + kSha256Bytes + kPssSalt] = {};
  std::copy(sha256.begin(), sha256.end(), m_prime + 8);
  std::copy(db + kOne + 1, db + kPssBlock, m_prime + 8 + kSha256Bytes);
  uint8_t expected[kSha256Bytes];
  if (!Sha256(std::string_view(reinterpret_cast<const char*>(m_prime), sizeof m_prime), expected))
    return Status::Error("DSIG: OpenSSL failed");
  if (!std::equal(expected, expected + kSha256Bytes, h)) return Status::Error(bad);
  return Status::Ok();
}

Result<CvdInfo> ReadCvdInfo(std::string_view text, const CvdKey& key) {
  CvdInfo info;
  bool have_header = false;
  size_t pos = 0;
  for (size_t line_no = 1; pos < text.size(); ++line_no) {
    const size_t end = std::min(text.find('\n', pos), text.size());
    std::string_view line = text.substr(pos, end - pos);
    if (line.starts_with("DSIG:")) {
      // Signed: every byte before this line (each earlier line with its newline).
      if (!have_header) return Fail(".info has a DSIG line but no ClamAV-VDB header line");
      uint8_t digest[kSha256Bytes];
      if (!Sha256(text.substr(0, pos), digest)) return Fail(".info: OpenSSL failed");
      Status s = VerifyInfoDsig(digest, line.substr(5), key);
      if (!s.ok()) return Fail(s.message());
      return info;
    }
    if (end == text.size()) break;  // an unterminated last line is never signed
    pos = end + 1;
    const std::string where = fmt::format(".info line {}", line_no);
    if (line.starts_with("ClamAV-VDB:")) {
      if (have_header) return Fail(where + ": a second ClamAV-VDB header");
      std::string padded(line);
      padded.resize(std::max<size_t>(padded.size(), kHeaderSize), ' ');
      auto header = ParseCvdHeader(padded);
      if (!header) return Fail(where + ": " + header.error());
      info.header = *header;
      have_header = true;
      continue;
    }
    if (!have_header) return Fail(where + ": expected the ClamAV-VDB header line first");
    // name:size:sha256, exactly three fields.
    const size_t c1 = line.find(':');
    const size_t c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
    if (c2 == std::string_view::npos || line.find(':', c2 + 1) != std::string_view::npos)
      return Fail(where + ": expected name:size:sha256");
    CvdInfo::Entry entry;
    entry.name = line.substr(0, c1);
    const std::string_view size = line.substr(c1 + 1, c2 - c1 - 1);
    auto [p, ec] = std::from_chars(size.data(), size.data() + size.size(), entry.size);
    if (size.empty() || ec != std::errc() || p != size.data() + size.size())
      return Fail(where + ": bad size '" + std::string(size) + "'");
    std::string sha(line.substr(c2 + 1));
    std::transform(sha.begin(), sha.end(), sha.begin(), [](unsigned char ch) { return std::tolower(ch); });
    if (sha.size() != 2 * kSha256Bytes || !IsLowerHex(sha)) return Fail(where + ": malformed SHA-256");
    entry.sha256 = std::move(sha);
    info.entries.push_back(std::move(entry));
  }
  return Fail(".info has no DSIG line (digital signature not found)");
}

// Checks `members` against the container's .info, as clamscan does for a .cld whose
// header has no MD5: the .info verifies, agrees with `header`, and lists every member.
Status CheckAgainstInfo(const CvdHeader& header, const std::vector<CvdContents::File>& members,
                        const CvdKey& info_key) {
  auto info_file = std::find_if(members.begin(), members.end(), [](const auto& f) { return EndsWithInfo(f.name); });
  if (info_file == members.end())
    return Status::Error("header has no MD5 ('X') and the container has no .info to vouch for it");
  auto info = ReadCvdInfo(info_file->content, info_key);
  if (!info) return Status::Error(info_file->name + ": " + info.error());
  const CvdHeader& h = info->header;
  if (h.version != header.version || h.signatures != header.signatures || h.min_flevel != header.min_flevel ||
      h.build_time != header.build_time)
    return Status::Error(fmt::format(
        "{}: its header (version {}, {} signatures, FLEVEL {}, built {}) does not match the container's "
        "(version {}, {} signatures, FLEVEL {}, built {})",
        info_file->name, h.version, h.signatures, h.min_flevel, h.build_time, header.version, header.signatures,
        header.min_flevel, header.build_time));
  for (const auto& m : members) {
    if (&m == &*info_file || m.name == "COPYING") continue;  // sigtool lists every other member
    auto entry =
        std::find_if(info->entries.begin(), info->entries.end(), [&](const auto& e) { return e.name == m.name; });
    if (entry == info->entries.end())
      return Status::Error(fmt::format("member '{}' is not listed in {}", m.name, info_file->name));
    if (entry->size != m.content.size())
      return Status::Error(fmt::format("member '{}' has {} bytes, {} lists {}", m.name, m.content.size(),
                                       info_file->name, entry->size));
    uint8_t digest[kSha256Bytes];
    if (!Sha256(m.content, digest)) return Status::Error("OpenSSL failed");
    if (HexString(digest) != entry->sha256)
      return Status::Error(fmt::format("member '{}' does not match its SHA-256 in {}", m.name, info_file->name));
  }
  return Status::Ok();
}

Result<CvdContents> ReadCvd(std::string_view bytes, CvdKind kind, const CvdKey& key, const CvdKey& info_key) {
  auto header = ParseCvdHeader(bytes);
  if (!header) return Fail(header.error());
  CvdContents out;
  out.header = *header;
  // freshclam writes the header of a .cld it rebuilt from .cdiff updates from the first
  // line of its .info, where sigtool put "X" for the MD5 and the dsig; clamscan vouches
  // for such a file through the .info's own DSIG and member list (checked below).
  const bool by_info = out.header.md5 == "X" && kind == CvdKind::kSigned;
  std::string_view body = bytes.substr(kHeaderSize);
  if (out.header.md5 == "X" && !by_info)
    return Fail("header has no MD5 ('X'): an unsigned container needs one to be checked");
  if (!by_info) {
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
  }

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
  if (by_info) {
    Status s = CheckAgainstInfo(out.header, out.files, info_key);
    if (!s.ok()) return Fail(s.message());
    out.verified = out.verified_by_info = true;
  }
  return out;
}

}  // namespace avkey::engine
