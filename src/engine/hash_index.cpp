#include "engine/hash_index.h"

#include <openssl/evp.h>

#include <algorithm>
#include <string>
#include <tuple>

namespace avkey::engine {

std::string HexString(std::span<const uint8_t> bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(bytes.size() * 2, '0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = kHex[bytes[i] >> 4];
    out[2 * i + 1] = kHex[bytes[i] & 15];
  }
  return out;
}

Result<std::pair<HashType, Digest>> ParseHexDigest(std::string_view hex) {
  HashType type;
  switch (hex.size()) {
    case 32: type = HashType::kMd5; break;
    case 40: type = HashType::kSha1; break;
    case 64: type = HashType::kSha256; break;
    default: return Fail("hash of length " + std::to_string(hex.size()) + " is not MD5, SHA1 or SHA256");
  }
  Digest d{};
  for (size_t i = 0; i < hex.size(); i += 2) {
    auto nib = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      c = static_cast<char>(c | 0x20);
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    int hi = nib(hex[i]), lo = nib(hex[i + 1]);
    if (hi < 0 || lo < 0) return Fail("bad hex digit in hash '" + std::string(hex) + "'");
    d[i / 2] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return std::make_pair(type, d);
}

const Digest& LazyDigests::Get(HashType type) {
  const int idx = static_cast<int>(type);
  if (!(have_ & (1u << idx))) {
    const EVP_MD* md = type == HashType::kMd5 ? EVP_md5() : type == HashType::kSha1 ? EVP_sha1() : EVP_sha256();
    unsigned int len = 0;
    digests_[idx].fill(0);
    EVP_Digest(data_.data(), data_.size(), digests_[idx].data(), &len, md, nullptr);
    have_ |= static_cast<uint8_t>(1u << idx);
  }
  return digests_[idx];
}

void HashIndex::Add(HashType type, const Digest& digest, uint64_t size, uint32_t sig) {
  Entry e{size, digest, type, sig};
  (size == kAnySize ? any_size_ : by_size_).push_back(e);
  ++count_;
}

void HashIndex::Finalize() {
  // Entries of one size keep their load order (deterministic reporting): signature
  // indexes grow in load order, so sorting by (size, sig) in place is the stable order
  // without stable_sort's buffer. No shrink_to_fit either: each copy of 100k entries is
  // ~5 MB of fresh memory, which costs more here than the slack it would return.
  std::sort(by_size_.begin(), by_size_.end(),
            [](const Entry& a, const Entry& b) { return std::tie(a.size, a.sig) < std::tie(b.size, b.sig); });
}

}  // namespace avkey::engine
