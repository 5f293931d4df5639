// ClamAV signature containers (.cvd gzip'd tar, .cld plain tar, .cud unsigned).
// Internal to the engine. Layout: a 512-byte ASCII header
//   ClamAV-VDB:<time>:<version>:<#sigs>:<min FLEVEL>:<MD5 of bytes 512..>:<dsig>:<builder>:<time_t>
// then a tar archive (gzip-compressed for .cvd).
//
// The dsig is ClamAV's legacy container signature (cli_versig): textbook RSA over the 16
// MD5 bytes, no padding, with Talos' 1024-bit key, written as a little-endian base-64
// number (digit i is worth 64^i; digits a-z A-Z 0-9 + / are 0..63). Checking it is one
// public-key operation on the header; the MD5 binds it to the body.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "avkey/engine/status.h"

namespace avkey::engine {

struct CvdHeader {
  std::string time_text;
  uint32_t version = 0;
  uint32_t signatures = 0;
  uint32_t min_flevel = 0;
  std::string md5;
  std::string dsig;
  std::string builder;
  uint64_t build_time = 0;
};

// An RSA public key for the header dsig, in decimal as ClamAV publishes it.
struct CvdKey {
  std::string_view modulus;
  std::string_view exponent;
  std::string_view name;  // for messages: "Talos' CVD key"
};

// Talos' (formerly Sourcefire's) container signing key, the one clamscan checks .cvd
// files against: CLI_NSTR / CLI_ESTR in ClamAV's libclamav/dsig.c.
const CvdKey& TalosCvdKey();

// Talos' second key, a 2047-bit one, for the DSIG line of a container's .info:
// INFO_NSTR / INFO_ESTR in ClamAV's libclamav/readdb.c.
const CvdKey& TalosInfoKey();

// The key DatabaseBuilder checks signed containers against: TalosCvdKey(), unless a
// test has installed its own with ScopedCvdKeyForTesting.
const CvdKey& TrustedCvdKey();

// While alive, TrustedCvdKey() is `key` (which must outlive it): lets tests load
// containers they signed themselves, since nobody outside Talos can sign with its key.
// Not for concurrent use with builders in other threads.
class ScopedCvdKeyForTesting {
 public:
  explicit ScopedCvdKeyForTesting(const CvdKey& key);
  ~ScopedCvdKeyForTesting();
  ScopedCvdKeyForTesting(const ScopedCvdKeyForTesting&) = delete;
  ScopedCvdKeyForTesting& operator=(const ScopedCvdKeyForTesting&) = delete;

 private:
  const CvdKey* previous_;
};

// The key DatabaseBuilder checks a container's .info DSIG against: TalosInfoKey(), unless
// a test has installed its own with ScopedInfoKeyForTesting (same rules as above).
const CvdKey& TrustedInfoKey();

class ScopedInfoKeyForTesting {
 public:
  explicit ScopedInfoKeyForTesting(const CvdKey& key);
  ~ScopedInfoKeyForTesting();
  ScopedInfoKeyForTesting(const ScopedInfoKeyForTesting&) = delete;
  ScopedInfoKeyForTesting& operator=(const ScopedInfoKeyForTesting&) = delete;

 private:
  const CvdKey* previous_;
};

// How a container's header is checked; chosen by extension (database.cpp).
enum class CvdKind {
  kSigned,    // .cvd, .cld: the body's MD5, and the dsig must be `key`'s signature of it;
              // or, when the header's MD5 is "X", the .info (see ReadCvd)
  kUnsigned,  // .cud (dsig "X"): the body's MD5 only; its names stay ".UNOFFICIAL"
};

struct CvdContents {
  CvdHeader header;
  struct File {
    std::string name;
    std::string content;
  };
  std::vector<File> files;
  // The body matched the header's MD5 and the dsig is the key's signature of that MD5:
  // an official container, whose names are reported without ".UNOFFICIAL". False for
  // a kUnsigned container (its MD5 matched, but nobody vouches for it).
  bool verified = false;
  // Verified through the .info's DSIG and its member list rather than the header (a .cld
  // freshclam rebuilt from .cdiff updates, whose header has "X" for MD5 and dsig).
  bool verified_by_info = false;
};

// A container's <name>.info member: its first line is the container's header (with "X"
// for MD5 and dsig), then one "name:size:sha256" line per member, then "DSIG:<sig>".
struct CvdInfo {
  CvdHeader header;
  struct Entry {
    std::string name;
    uint64_t size = 0;
    std::string sha256;  // 64 lower-case hex digits
  };
  std::vector<Entry> entries;
};

Result<CvdHeader> ParseCvdHeader(std::string_view bytes);

// ClamAV's cli_versig: OK when `dsig` decodes to a number below the key's modulus whose
// RSA public operation gives exactly the 16 bytes that `md5_hex` (32 lower-case hex
// digits) spells. Otherwise an error saying why. Stricter than ClamAV in one way: a
// dsig not below the modulus is refused (ClamAV reduces it; no signer produces one).
Status VerifyCvdDsig(std::string_view md5_hex, std::string_view dsig, const CvdKey& key = TalosCvdKey());

// ClamAV's cli_versig2: OK when `dsig` (same base-64 number as above) is `key`'s
// RSASSA-PSS signature of the 32-byte `sha256`, as Talos makes them: a 256-byte encoded
// message, MGF1 with SHA-256, a 32-byte salt, only the top bit of the masked block
// cleared. Stricter than ClamAV in two ways no genuine signature meets: the padding
// before the 0x01 must be zeros (ClamAV looks for the first 0x01), and a dsig not below
// the modulus is refused.
Status VerifyInfoDsig(std::span<const uint8_t> sha256, std::string_view dsig, const CvdKey& key = TalosInfoKey());

// ClamAV's cli_loadinfo: parses a .info and checks its DSIG line against `key` (the
// signed bytes are every line before it, each with its newline). Lines after the DSIG
// line are ignored, as by ClamAV.
Result<CvdInfo> ReadCvdInfo(std::string_view text, const CvdKey& key = TalosInfoKey());

// Reads and checks the container: the MD5 of the body always, the dsig for kSigned.
// A kSigned container whose header MD5 is "X" (freshclam's rebuilt .cld) is checked as
// clamscan checks it, through its .info instead: the first member named *.info must
// verify with `info_key`, its header line must agree with the container's (version,
// signatures, FLEVEL, build time), and every other member but COPYING must be listed in
// it with its size and SHA-256. Members larger than 512 MiB in total are refused.
Result<CvdContents> ReadCvd(std::string_view bytes, CvdKind kind = CvdKind::kSigned,
                            const CvdKey& key = TalosCvdKey(), const CvdKey& info_key = TalosInfoKey());

}  // namespace avkey::engine
