// ClamAV signature containers (.cvd gzip'd tar, .cld plain tar, .cud unsigned).
// Internal to the engine. Layout: a 512-byte ASCII header
//   ClamAV-VDB:<time>:<version>:<#sigs>:<min FLEVEL>:<MD5 of bytes 512..>:<dsig>:<builder>:<time_t>
// then a tar archive (gzip-compressed for .cvd).
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
// Reads and checks the container; members larger than 512 MiB in total are refused.
Result<CvdContents> ReadCvd(std::string_view bytes);

}  // namespace avkey::engine
