// libFuzzer target for ClamAV signature containers (.cvd/.cld/.cud): ParseCvdHeader and
// ReadCvd (512-byte header, MD5 over the body, RSA dsig, gzip'd or plain tar via libarchive).
//
// Most mutations break the header's MD5, and ReadCvd stops there; so each input is read
// as given (header parsing and the MD5 refusal), then with the MD5 field rewritten to match
// the body: as a signed container (the dsig decoder, which must refuse: the fuzzer cannot
// sign with Talos' key) and as an unsigned .cud, so that the tar/gzip reading behind the
// checks is fuzzed too.
//   fuzz/run.sh 60 cvd_fuzz     (seeds: fuzz/make_seeds.py writes minimal valid CVDs)
#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/cvd.h"

namespace {

constexpr size_t kHeaderSize = 512;

std::string Md5Hex(std::string_view body) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(body.data(), body.size(), md, &len, EVP_md5(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

// The input with header field 5 (the MD5) replaced by the body's real MD5, the header
// padded with spaces back to 512 bytes. Empty if the header has fewer than 6 fields or
// would no longer fit.
std::string WithFixedMd5(std::string_view bytes) {
  if (bytes.size() < kHeaderSize) return {};
  std::string_view header = bytes.substr(0, kHeaderSize);
  size_t pos = 0;
  for (int field = 0; field < 5; ++field) {
    pos = header.find(':', pos);
    if (pos == std::string_view::npos) return {};
    ++pos;
  }
  size_t end = header.find(':', pos);
  if (end == std::string_view::npos) return {};
  std::string fixed(header.substr(0, pos));
  fixed += Md5Hex(bytes.substr(kHeaderSize));
  fixed += header.substr(end);
  // Trailing padding of the original may now overflow: drop spaces/NULs from the end.
  while (fixed.size() > kHeaderSize && (fixed.back() == ' ' || fixed.back() == '\0')) fixed.pop_back();
  if (fixed.size() > kHeaderSize) return {};
  fixed.resize(kHeaderSize, ' ');
  fixed += bytes.substr(kHeaderSize);
  return fixed;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace avkey::engine;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  (void)ParseCvdHeader(bytes);
  auto as_given = ReadCvd(bytes);
  // Contract: what ReadCvd accepts, it has verified.
  if (as_given && !as_given->verified) __builtin_trap();

  std::string fixed = WithFixedMd5(bytes);
  if (fixed.empty()) return 0;
  if (ReadCvd(fixed).has_value()) __builtin_trap();  // a dsig forged against Talos' key
  auto contents = ReadCvd(fixed, CvdKind::kUnsigned);
  if (!contents) return 0;
  if (contents->verified) __builtin_trap();  // nobody vouches for an unsigned container
  // Members are bounded by the 512 MiB budget.
  uint64_t total = 0;
  for (const auto& f : contents->files) total += f.content.size();
  if (total > (uint64_t{512} << 20)) __builtin_trap();
  return 0;
}
