// On-disk cache of compiled Vectorscan databases and YARA rules. Internal to the engine.
//
// File <dir>/<key>.avkc:
//   "AVKEYHS4"                magic (8 bytes; bump on any layout or compiler change)
//   identity                  64 hex chars: the signature set it was compiled from
//   u32 version_len, version  avkey + Vectorscan version it was written by
//   u8[32]                    SHA-256 of the payload
//   u64 payload_len, payload  the primary payload, then the rest of the file:
//     Vectorscan patterns:    hs_serialize_database() output, then u32 count and
//                             count x (u32 body, u8 anchor_only): the id -> body map
//     YARA rules (yara_rules.cpp): yr_rules_save_stream() output, then each source's
//                             rule count and load problems
// Every field is checked before the payload is handed to Vectorscan, which itself
// refuses a database built for another version or a CPU with other features.
#pragma once

#include <filesystem>
#include <string>

#include "engine/database_impl.h"

namespace avkey::engine {

// A cache file whose header, identity, writer version and checksum were checked: its
// primary payload (the Vectorscan database, or libyara's compiled rules), then the rest.
struct CacheFile {
  std::string bytes;
  size_t primary_offset = 0, primary_size = 0, rest_offset = 0;
  std::string_view primary() const { return std::string_view(bytes).substr(primary_offset, primary_size); }
  std::string_view rest() const { return std::string_view(bytes).substr(rest_offset); }
};
// The file <dir>/<key>.avkc, or an error string starting "miss" or "rejected: ...".
Result<CacheFile> LoadCacheFile(const std::filesystem::path& dir, const std::string& key,
                                const std::string& identity);
// Writes atomically (temp file, fsync, rename, fsync directory).
Status StoreCacheFile(const std::filesystem::path& dir, const std::string& key, const std::string& identity,
                      std::string_view primary, std::string_view rest);

struct CachedPatterns {
  HsDatabasePtr db;
  std::vector<Database::Impl::HsEntry> ids;
};

// The database, or an error string starting "miss" (no file) or "rejected: ...".
// `bodies` bounds the body indexes a valid file may name.
Result<CachedPatterns> LoadCachedVectorscan(const std::filesystem::path& dir, const std::string& key,
                                            const std::string& identity, size_t bodies);
// Writes atomically (temp file, fsync, rename, fsync directory).
Status StoreCachedVectorscan(const std::filesystem::path& dir, const std::string& key,
                             const std::string& identity, const hs_database_t* db,
                             const std::vector<Database::Impl::HsEntry>& ids);

}  // namespace avkey::engine
