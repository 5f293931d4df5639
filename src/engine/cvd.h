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

struct CvdContents {
  CvdHeader header;
  struct File {
    std::string name;
    std::string content;
  };
  std::vector<File> files;
  // The MD5 over the archive matched the header. The RSA "dsig" made with Talos'
  // private key is not checked (docs/signatures.md says why and what this implies).
  bool verified = false;
};

Result<CvdHeader> ParseCvdHeader(std::string_view bytes);

// ClamAV's cli_versig: OK when `dsig` decodes to a number below the key's modulus whose
// RSA public operation gives exactly the 16 bytes that `md5_hex` (32 lower-case hex
// digits) spells. Otherwise an error saying why. Stricter than ClamAV in one way: a
// dsig not below the modulus is refused (ClamAV reduces it; no signer produces one).
Status VerifyCvdDsig(std::string_view md5_hex, std::string_view dsig, const CvdKey& key = TalosCvdKey());

// Reads and checks the container; members larger than 512 MiB in total are refused.
Result<CvdContents> ReadCvd(std::string_view bytes);

}  // namespace avkey::engine
