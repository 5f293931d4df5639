// Size-first hash index for .hdb/.hsb/.fp/.sfp (whole layer) and .mdb/.msb (PE
// sections). A layer is hashed only when some entry has its size, and only with
// the digest types those entries use. Internal to the engine.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <algorithm>
#include <vector>

#include "avkey/engine/engine.h"  // HexString
#include "avkey/engine/status.h"

namespace avkey::engine {

// Makes room for `more` elements beyond size(), at least doubling the capacity when it
// has to grow (so that many small reservations stay amortised linear).
template <typename T>
void ReserveMore(std::vector<T>* v, size_t more) {
  const size_t need = v->size() + more;
  if (need > v->capacity()) v->reserve(std::max(need, 2 * v->capacity()));
}

enum class HashType : uint8_t { kMd5 = 0, kSha1 = 1, kSha256 = 2 };
inline constexpr uint64_t kAnySize = UINT64_MAX;
inline constexpr size_t DigestLength(HashType t) {
  return t == HashType::kMd5 ? 16 : t == HashType::kSha1 ? 20 : 32;
}

using Digest = std::array<uint8_t, 32>;

// Parses a hex digest; the type is chosen by length (32 MD5, 40 SHA1, 64 SHA256).
Result<std::pair<HashType, Digest>> ParseHexDigest(std::string_view hex);

// Digests of one buffer, computed on first use.
class LazyDigests {
 public:
  explicit LazyDigests(std::span<const uint8_t> data) : data_(data) {}
  const Digest& Get(HashType type);
  void Reset(std::span<const uint8_t> data) {
    data_ = data;
    have_ = 0;
    failed_ = false;
  }
  // True when a digest could not be computed (OpenSSL refused): nothing compared against
  // it may be taken as "no match".
  bool failed() const { return failed_; }

 private:
  std::span<const uint8_t> data_;
  std::array<Digest, 3> digests_{};
  uint8_t have_ = 0;
  bool failed_ = false;
};

// Entries live in flat vectors sorted by size (Finalize()), one per digest type, each entry
// holding only its own digest's bytes: 100k signatures cost one allocation, and a lookup
// is a binary search. Measured: the node-based map this replaced spent most of a 100k-line
// load allocating one vector per distinct size; one table of 48-byte entries (every digest
// in a 32-byte slot) spent 13% of the load sorting, and fresh memory costs ~3.5 ms per MiB
// here, where MD5 entries now take 32 bytes.
class HashIndex {
 public:
  void Add(HashType type, const Digest& digest, uint64_t size, uint32_t sig);
  // Room for `more` further entries (a hint, applied to the first digest type added next;
  // a signature file holds one type in practice). Add() works without it.
  void Reserve(size_t more) { reserve_hint_ = more; }
  // Sorts the entries; call once after the last Add() and before any lookup.
  void Finalize();
  bool empty() const { return count_ == 0; }
  size_t size() const { return count_; }
  // True when some entry could match a layer of `size` bytes (no hashing needed otherwise).
  bool MayMatch(uint64_t size) const {
    return any_size_ || md5_.Has(size) || sha1_.Has(size) || sha256_.Has(size);
  }
  // Calls on_match(sig) for every entry matching the layer.
  template <typename F>
  void Lookup(uint64_t size, LazyDigests* digests, F&& on_match) const {
    md5_.Lookup(size, HashType::kMd5, digests, on_match);
    sha1_.Lookup(size, HashType::kSha1, digests, on_match);
    sha256_.Lookup(size, HashType::kSha256, digests, on_match);
  }

 private:
  template <size_t N>
  struct Table {
    struct Entry {
      uint64_t size;  // kAnySize for "*"
      uint32_t sig;
      std::array<uint8_t, N> digest;
    };
    std::vector<Entry> by_size;
    std::vector<Entry> any_size;
    bool Has(uint64_t size) const {
      auto it = std::lower_bound(by_size.begin(), by_size.end(), size,
                                 [](const Entry& e, uint64_t s) { return e.size < s; });
      return it != by_size.end() && it->size == size;
    }
    template <typename F>
    void Lookup(uint64_t size, HashType type, LazyDigests* d, F& on_match) const {
      auto it = std::lower_bound(by_size.begin(), by_size.end(), size,
                                 [](const Entry& e, uint64_t s) { return e.size < s; });
      if ((it == by_size.end() || it->size != size) && any_size.empty()) return;
      const Digest& got = d->Get(type);
      for (; it != by_size.end() && it->size == size; ++it) {
        if (std::equal(it->digest.begin(), it->digest.end(), got.begin())) on_match(it->sig);
      }
      for (const Entry& e : any_size) {
        if (std::equal(e.digest.begin(), e.digest.end(), got.begin())) on_match(e.sig);
      }
    }
    void Add(const Digest& digest, uint64_t size, uint32_t sig, size_t* reserve_hint);
    void Finalize();
  };
  Table<16> md5_;
  Table<20> sha1_;
  Table<32> sha256_;
  size_t count_ = 0;
  size_t reserve_hint_ = 0;
  bool any_size_ = false;
};

}  // namespace avkey::engine
