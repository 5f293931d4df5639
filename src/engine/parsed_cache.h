// On-disk cache of a loaded signature set, read in place at the next start. Internal.
//
// Parsing a large set is most of a start: issue 2's 100k-hash + 5k-body + 40k-logical
// set spent ~0.2 s reading its text even with patterns compiled lazily. The builder's
// tables are plain arrays (Frozen<T>), so they are written as they are and, at the next
// start with the same sources, mapped and used where they lie: no parse, no copy.
//
// File <dir>/<identity[0:32]>-parsed.avkc (the suffix every avkey cache file has, so that a
// console ships it on a key with the compiled patterns; the magic tells them apart):
//   header (64 bytes): "AVKEYPC1", u32 format, u32 64, u64 file size, u64 meta offset,
//                      u64 meta size, u8[16] CacheChecksum (file_io.h) of bytes [64, file size)
//   arrays, each 64-byte aligned (signature names, texts, bodies, logicals, hash tables)
//   meta: identity (64 hex chars), writer version, container keys, then in the order of
//         Visit(): each array as u64 offset + u64 bytes, scalars, and per source the
//         report entries (files read, problems) it produced, named relative to it.
// Accidental corruption is caught by the checksum; every index a scan follows is also
// checked against the arrays it points into, so even a file that passes the checksum
// cannot make a scan read outside them.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "engine/database_impl.h"
#include "engine/file_io.h"

namespace avkey::engine {

// What one source added to the load report (its YARA rules are loaded at every start:
// libyara has its own compiled cache).
struct ParsedSourceRecord {
  bool yara = false;
  std::vector<std::string> files;      // report.files entries, as suffixes of the source name
  std::vector<LoadProblem> problems;   // file: a suffix of the source name
};

// Writes the tables of `db` (built, not yet searched: Vectorscan is cached apart) and the
// report entries of `sources` atomically. `db.identity` names the file.
Status StoreParsedCache(const std::filesystem::path& dir, const Database::Impl& db,
                        const std::vector<ParsedSourceRecord>& sources);

// Maps the cache file for `identity` into *db (tables, counts) and *sources; an error
// string starting "miss" or "rejected: <why>". On error *db is unchanged. With
// `yara_sources` (per source being loaded: whether it is a YARA file), a file recorded for
// other sources is refused too. With `pins` (a key's signed generation), the file is read
// and checked, not mapped.
Status LoadParsedCache(const std::filesystem::path& dir, const std::string& identity, Database::Impl* db,
                       std::vector<ParsedSourceRecord>* sources, const std::vector<bool>* yara_sources,
                       const TrustedFiles* pins);

}  // namespace avkey::engine
