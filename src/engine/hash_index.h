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
#include "engine/frozen.h"
#include "engine/huge_pages.h"

namespace avkey::engine {

// Makes room for `more` elements beyond size(), at least doubling the capacity when it
// has to grow (so that many small reservations stay amortised linear).
template <typename Vector>
void ReserveMore(Vector* v, size_t more) {
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

// Entries live in flat vectors in load order, one per digest type, each entry holding only
// its own digest's bytes, chained by size from a hash table built by Finalize(): 100k
// signatures cost a few allocations, and a lookup is one hash probe. Measured on the 100k
// bench .hdb: a node-based map spent most of the load allocating one vector per distinct
// size; one table of 48-byte entries sorted by size spent 13% of the load sorting, and
// 32-byte entries sorted still 25% of it (memory-bound); the chains cost one pass.
class HashIndex {
 public:
  void Add(HashType type, const Digest& digest, uint64_t size, uint32_t sig);
  // Room for `more` further entries (a hint, applied to the first digest type added next;
  // a signature file holds one type in practice). Add() works without it.
  void Reserve(size_t more) { reserve_hint_ = more; }
  // Builds the lookup tables; call once after the last Add() and before any lookup.
  void Finalize();
  bool empty() const { return count_ == 0; }
  // True when every index in the tables is in range (a table read from a cache file).
  bool TablesValid(size_t sigs) const { return md5_.Valid(sigs) && sha1_.Valid(sigs) && sha256_.Valid(sigs); }
  // Writes or reads (a cache file: parsed_cache.cpp) every table after Finalize().
  template <typename Archive>
  bool Visit(Archive& ar) {
    uint64_t count = count_;
    if (!md5_.Visit(ar) || !sha1_.Visit(ar) || !sha256_.Visit(ar) || !ar.Scalar(&count)) return false;
    count_ = static_cast<size_t>(count);
    return true;
  }
  size_t size() const { return count_; }
  // True when some entry could match a layer of `size` bytes (no hashing needed otherwise).
  bool MayMatch(uint64_t size) const {
    return md5_.Has(size) || sha1_.Has(size) || sha256_.Has(size);
  }
  // Calls on_match(sig) for every entry matching the layer, in load order per digest type.
  template <typename F>
  void Lookup(uint64_t size, LazyDigests* digests, F&& on_match) const {
    md5_.Lookup(size, HashType::kMd5, digests, on_match);
    sha1_.Lookup(size, HashType::kSha1, digests, on_match);
    sha256_.Lookup(size, HashType::kSha256, digests, on_match);
  }

 private:
  template <size_t N>
  struct Table {
    static constexpr uint32_t kEnd = UINT32_MAX;
    struct Entry {
      uint64_t size;  // kAnySize for "*"
      uint32_t sig;
      uint32_t next;  // the next entry whose size hashes alike, or kEnd (fills padding)
      // N bytes, then zeros to a multiple of 8: no implicit padding (parsed cache).
      std::array<uint8_t, (N + 7) / 8 * 8> digest;
    };
    Frozen<Entry> by_size;    // load order; chained by Finalize()
    Frozen<Entry> any_size;
    Frozen<uint32_t> heads;   // hash(size) -> first entry of its chain, or kEnd
    uint32_t shift = 64;
    const Entry* First(uint64_t size) const {
      if (heads.empty()) return nullptr;
      for (uint32_t i = heads[Bucket(size)]; i != kEnd; i = by_size[i].next) {
        if (by_size[i].size == size) return &by_size[i];
      }
      return nullptr;
    }
    size_t Bucket(uint64_t size) const { return static_cast<size_t>((size * 0x9E3779B97F4A7C15ull) >> shift); }
    bool Has(uint64_t size) const { return !any_size.empty() || First(size) != nullptr; }
    template <typename F>
    void Lookup(uint64_t size, HashType type, LazyDigests* d, F& on_match) const {
      const Entry* e = First(size);
      if (e == nullptr && any_size.empty()) return;
      const Digest& got = d->Get(type);
      for (; e != nullptr; e = e->next == kEnd ? nullptr : &by_size[e->next]) {
        if (e->size == size && std::equal(e->digest.begin(), e->digest.begin() + N, got.begin())) on_match(e->sig);
      }
      for (const Entry& a : any_size) {
        if (std::equal(a.digest.begin(), a.digest.begin() + N, got.begin())) on_match(a.sig);
      }
    }
    void Add(const Digest& digest, uint64_t size, uint32_t sig, size_t* reserve_hint);
    void Finalize();
    template <typename Archive>
    bool Visit(Archive& ar) {
      return ar.Array(&by_size) && ar.Array(&any_size) && ar.Array(&heads) && ar.Scalar(&shift);
    }
    // Every chain and signature index stays inside its array.
    bool Valid(size_t sigs) const {
      const size_t n = by_size.size();
      for (const Entry& e : by_size) {
        if (e.sig >= sigs || (e.next != kEnd && e.next >= n)) return false;
      }
      for (const Entry& e : any_size) {
        if (e.sig >= sigs) return false;
      }
      for (uint32_t h : heads) {
        if (h != kEnd && h >= n) return false;
      }
      if (n == 0) return heads.empty();
      return shift >= 1 && shift <= 63 && heads.size() == (size_t{1} << (64 - shift));
    }
  };
  Table<16> md5_;
  Table<20> sha1_;
  Table<32> sha256_;
  size_t count_ = 0;
  size_t reserve_hint_ = 0;
};

}  // namespace avkey::engine
