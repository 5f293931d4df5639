// On-disk cache of compiled Vectorscan databases and YARA rules. Internal to the engine.
//
// File <dir>/<key>.avkc (Vectorscan databases: <dir>/<key>-p<features>.avkc, below):
//   "AVKEYHS6"                magic (8 bytes; bump on any layout or compiler change;
//                             6: slot databases padded, Database::Impl::kPadTo)
//   identity                  64 hex chars: the signature set it was compiled from
//   u32 version_len, version  avkey + Vectorscan version it was written by
//   u8[16]                    XXH3-128 of the payload (CacheChecksum, file_io.h)
//   u64 payload_len, payload  the primary payload, then the rest of the file:
//     Vectorscan patterns:    hs_serialize_database() output, then u32 count and
//                             count x (u32 body, u8 anchor_only): the id -> body map
//     YARA rules (yara_rules.cpp): yr_rules_save_stream() output, then each source's
//                             rule count and load problems
// Every field is checked before the payload is handed to Vectorscan, which itself
// refuses a database built for another version or a CPU with other features.
#pragma once

#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>

#include "engine/database_impl.h"
#include "engine/file_io.h"

namespace avkey::engine {

// Reads the fields of a cache file in order; `ok` turns false (and stays) past the end.
struct ByteReader {
  std::string_view bytes;
  size_t pos = 0;
  bool ok = true;
  // The next n bytes, or nullptr.
  const char* Take(size_t n) {
    if (!ok || bytes.size() - pos < n) {
      ok = false;
      return nullptr;
    }
    const char* p = bytes.data() + pos;
    pos += n;
    return p;
  }
  template <typename T>
  T Get() {
    T v{};
    if (const char* p = Take(sizeof v)) std::memcpy(&v, p, sizeof v);
    return v;
  }
  // A u32 length, then that many bytes.
  std::string Text() {
    const auto n = Get<uint32_t>();
    const char* p = Take(n);
    return p ? std::string(p, n) : std::string();
  }
  bool AtEnd() const { return ok && pos == bytes.size(); }
};

// A cache file whose header, identity, writer version and checksum were checked: its
// primary payload (the Vectorscan database, or libyara's compiled rules), then the rest.
struct CacheFile {
  MappedFile bytes;
  size_t primary_offset = 0, primary_size = 0, rest_offset = 0;
  std::string_view primary() const { return bytes.view().substr(primary_offset, primary_size); }
  std::string_view rest() const { return bytes.view().substr(rest_offset); }
};
// The file <dir>/<key>.avkc, or an error string starting "miss" or "rejected: ...".
// With `pins` (a key's signed generation), the file is read and checked, not mapped.
Result<CacheFile> LoadCacheFile(const std::filesystem::path& dir, const std::string& key,
                                const std::string& identity, const TrustedFiles* pins);
// Writes atomically (temp file, fsync, rename, fsync directory).
Status StoreCacheFile(const std::filesystem::path& dir, const std::string& key, const std::string& identity,
                      std::string_view primary, std::string_view rest);

// A Vectorscan database is compiled for a CPU's features (AVX2, AVX-512...); one built
// for features a CPU lacks cannot run there. The console compiles a key's patterns on the
// admin workstation, and the key then scans older devices, so a cache may hold one file
// per feature set, named by it (<key>-p<hex features>.avkc), and a portable build for any
// CPU (features 0) that every device can fall back to instead of compiling for minutes.
hs_platform_info_t NativePlatform();    // this CPU (hs_populate_platform)
hs_platform_info_t PortablePlatform();  // no optional features, generic tuning

struct CachedPatterns {
  HsDatabasePtr db;
  std::vector<Database::Impl::HsEntry> ids;
  bool portable = false;  // the native build was missing or refused; the portable one is used
  std::string native_error;  // then: "miss" or "rejected: <why>"
  // "hit", or "hit (portable build: ...)" saying why this CPU's build was not used.
  std::string State() const {
    if (!portable) return "hit";
    return native_error == "miss" ? "hit (portable build: none for this CPU)"
                                  : "hit (portable build: this CPU's was " + native_error + ")";
  }
};

// The build for this CPU, else the portable build; or an error string starting "miss"
// (neither file) or "rejected: ..." (the first file found, and why it was refused).
// `bodies` bounds the body indexes a valid file may name.
Result<CachedPatterns> LoadCachedVectorscan(const std::filesystem::path& dir, const std::string& key,
                                            const std::string& identity, size_t bodies, const TrustedFiles* pins);
// Stores `db`, compiled for `platform`, atomically (temp file, fsync, rename, fsync directory).
Status StoreCachedVectorscan(const std::filesystem::path& dir, const std::string& key,
                             const std::string& identity, const hs_database_t* db,
                             const std::vector<Database::Impl::HsEntry>& ids, const hs_platform_info_t& platform);

}  // namespace avkey::engine
