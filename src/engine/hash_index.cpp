#include "engine/hash_index.h"

#include <openssl/evp.h>

#include <algorithm>
#include <stdexcept>
#include <string>

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

namespace {
// Hex digit -> value; 0xff for anything else. Table-driven and branch-free per digit: the
// branchy per-character parse was a fifth of a 100k-line .hdb load (perf).
constexpr auto kNibble = [] {
  std::array<uint8_t, 256> t{};
  t.fill(0xff);
  for (int c = 0; c < 10; ++c) t['0' + c] = static_cast<uint8_t>(c);
  for (int c = 0; c < 6; ++c) t['a' + c] = t['A' + c] = static_cast<uint8_t>(10 + c);
  return t;
}();
}  // namespace

Result<std::pair<HashType, Digest>> ParseHexDigest(std::string_view hex) {
  HashType type;
  switch (hex.size()) {
    case 32: type = HashType::kMd5; break;
    case 40: type = HashType::kSha1; break;
    case 64: type = HashType::kSha256; break;
    default: return Fail("hash of length " + std::to_string(hex.size()) + " is not MD5, SHA1 or SHA256");
  }
  std::pair<HashType, Digest> out{type, Digest{}};
  uint8_t invalid = 0;  // a digit's value has no bit above 15; 0xff does
  for (size_t i = 0; i < hex.size(); i += 2) {
    const uint8_t hi = kNibble[static_cast<uint8_t>(hex[i])];
    const uint8_t lo = kNibble[static_cast<uint8_t>(hex[i + 1])];
    invalid |= hi | lo;
    out.second[i / 2] = static_cast<uint8_t>(hi << 4 | (lo & 15));
  }
  if (invalid & 0xf0) return Fail("bad hex digit in hash '" + std::string(hex) + "'");
  return out;
}

const Digest& LazyDigests::Get(HashType type) {
  const int idx = static_cast<int>(type);
  if (!(have_ & (1u << idx))) {
    const EVP_MD* md = type == HashType::kMd5 ? EVP_md5() : type == HashType::kSha1 ? EVP_sha1() : EVP_sha256();
    unsigned int len = 0;
    digests_[idx].fill(0);
    if (md == nullptr || EVP_Digest(data_.data(), data_.size(), digests_[idx].data(), &len, md, nullptr) != 1) {
      failed_ = true;
    }
    have_ |= static_cast<uint8_t>(1u << idx);
  }
  return digests_[idx];
}

template <size_t N>
void HashIndex::Table<N>::Add(const Digest& digest, uint64_t size, uint32_t sig, size_t* reserve_hint) {
  Entry e{size, sig, kEnd, {}};
  std::copy_n(digest.begin(), N, e.digest.begin());
  if (size == kAnySize) {
    any_size.own.push_back(e);
    return;
  }
  if (*reserve_hint != 0) {
    ReserveMore(&by_size.own, *reserve_hint);
    *reserve_hint = 0;
  }
  if (by_size.own.size() >= kEnd) throw std::length_error("more than 4G hash signatures of one type");
  by_size.own.push_back(e);
}

template <size_t N>
void HashIndex::Table<N>::Finalize() {
  any_size.Freeze();
  HugeVector<Entry>& entries = by_size.own;
  if (!entries.empty()) {
    ReleaseSlack(entries);  // reserved from an estimate of the line count
    // A power of two at least as large as the entry count: chains of about one entry.
    uint32_t bits = 1;
    while ((size_t{1} << bits) < entries.size()) ++bits;
    shift = 64 - bits;
    heads.own.assign(size_t{1} << bits, kEnd);
    // Linked from the last entry back, so that each chain runs in load order.
    for (size_t i = entries.size(); i-- > 0;) {
      uint32_t& head = heads.own[Bucket(entries[i].size)];
      entries[i].next = head;
      head = static_cast<uint32_t>(i);
    }
  }
  by_size.Freeze();
  heads.Freeze();
}

void HashIndex::Add(HashType type, const Digest& digest, uint64_t size, uint32_t sig) {
  switch (type) {
    case HashType::kMd5: md5_.Add(digest, size, sig, &reserve_hint_); break;
    case HashType::kSha1: sha1_.Add(digest, size, sig, &reserve_hint_); break;
    case HashType::kSha256: sha256_.Add(digest, size, sig, &reserve_hint_); break;
  }
  ++count_;
}

void HashIndex::Finalize() {
  md5_.Finalize();
  sha1_.Finalize();
  sha256_.Finalize();
  reserve_hint_ = 0;
}

}  // namespace avkey::engine
