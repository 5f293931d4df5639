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
  }

 private:
  std::span<const uint8_t> data_;
  std::array<Digest, 3> digests_{};
  uint8_t have_ = 0;
};

// Entries live in one flat vector sorted by size (Finalize()): 100k signatures cost
// one allocation, and a lookup is a binary search. Measured: the node-based map it
// replaced spent most of a 100k-line load allocating one vector per distinct size.
class HashIndex {
 public:
  void Add(HashType type, const Digest& digest, uint64_t size, uint32_t sig);
  // Room for `more` further entries of known size (a hint; Add() works without it).
  void Reserve(size_t more) { ReserveMore(&by_size_, more); }
  // Sorts the entries; call once after the last Add() and before any lookup.
  void Finalize();
  bool empty() const { return count_ == 0; }
  size_t size() const { return count_; }
  // True when some entry could match a layer of `size` bytes (no hashing needed otherwise).
  bool MayMatch(uint64_t size) const {
    if (!any_size_.empty()) return true;
    auto it = std::lower_bound(by_size_.begin(), by_size_.end(), size,
                               [](const Entry& e, uint64_t s) { return e.size < s; });
    return it != by_size_.end() && it->size == size;
  }
  // Calls on_match(sig) for every entry matching the layer.
  template <typename F>
  void Lookup(uint64_t size, LazyDigests* digests, F&& on_match) const {
    auto it = std::lower_bound(by_size_.begin(), by_size_.end(), size,
                               [](const Entry& e, uint64_t s) { return e.size < s; });
    for (; it != by_size_.end() && it->size == size; ++it) Check(*it, digests, on_match);
    for (const Entry& e : any_size_) Check(e, digests, on_match);
  }

 private:
  struct Entry {
    uint64_t size;
    Digest digest;
    HashType type;
    uint32_t sig;
  };
  template <typename F>
  static void Check(const Entry& e, LazyDigests* d, F& on_match) {
    const Digest& got = d->Get(e.type);
    if (std::equal(got.begin(), got.begin() + DigestLength(e.type), e.digest.begin())) on_match(e.sig);
  }
  std::vector<Entry> by_size_;
  std::vector<Entry> any_size_;
  size_t count_ = 0;
};

}  // namespace avkey::engine
