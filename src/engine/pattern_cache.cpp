#include "engine/pattern_cache.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "engine/file_io.h"

namespace avkey::engine {
namespace {

constexpr char kMagic[8] = {'A', 'V', 'K', 'E', 'Y', 'H', 'S', '6'};

std::string WriterVersion() { return std::string("avkey " AVKEY_VERSION " vectorscan ") + hs_version(); }

template <typename T>
void Put(std::string* out, T v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof v);
}

}  // namespace

Result<CacheFile> LoadCacheFile(const std::filesystem::path& dir, const std::string& key,
                                const std::string& identity, const TrustedFiles* pins) {
  CacheFile out;
  if (int err = out.bytes.Map(dir / (key + ".avkc"), pins)) {
    if (err == ENOENT) return Fail("miss");
    if (err == kNotTrusted || err == kNotAsSigned) return Fail("rejected: " + DescribeFileError(err));
    return Fail(std::string("rejected: cannot read: ") + std::strerror(err));
  }
  const std::string_view bytes = out.bytes.view();
  ByteReader in{bytes};
  const char* magic = in.Take(sizeof kMagic);
  if (!magic || std::memcmp(magic, kMagic, sizeof kMagic) != 0) return Fail("rejected: not an avkey cache file");
  const char* id = in.Take(64);
  if (!id || std::string_view(id, 64) != identity) return Fail("rejected: compiled from other signatures");
  const auto vlen = in.Get<uint32_t>();
  const char* v = in.Take(vlen);
  if (!v || std::string_view(v, vlen) != WriterVersion()) return Fail("rejected: written by another version");
  const char* digest = in.Take(16);
  const auto plen = in.Get<uint64_t>();
  if (!in.ok || plen > bytes.size() - in.pos) return Fail("rejected: truncated");
  const size_t pos = in.pos;
  if (std::memcmp(CacheChecksum(bytes.substr(pos)).data(), digest, 16) != 0)
    return Fail("rejected: checksum mismatch (corrupt)");
  out.primary_offset = pos;
  out.primary_size = static_cast<size_t>(plen);
  out.rest_offset = pos + out.primary_size;
  return out;
}

hs_platform_info_t NativePlatform() {
  hs_platform_info_t p{};
  if (hs_populate_platform(&p) != HS_SUCCESS) p = PortablePlatform();
  return p;
}

hs_platform_info_t PortablePlatform() {
  hs_platform_info_t p{};
  p.tune = HS_TUNE_FAMILY_GENERIC;
  p.cpu_features = 0;
  return p;
}

namespace {

std::string PlatformKey(const std::string& key, const hs_platform_info_t& platform) {
  return key + "-p" + fmt::format("{:x}", platform.cpu_features);
}

Result<CachedPatterns> LoadOneVectorscan(const std::filesystem::path& dir, const std::string& key,
                                         const std::string& identity, size_t bodies, const TrustedFiles* pins) {
  auto file = LoadCacheFile(dir, key, identity, pins);
  if (!file) return Fail(file.error());
  ByteReader in{file->rest()};
  CachedPatterns out;
  const auto count = in.Get<uint32_t>();
  if (!in.ok) return Fail("rejected: truncated");
  if (count > bodies) return Fail("rejected: id map larger than the signature set");
  for (uint32_t i = 0; i < count; ++i) {
    Database::Impl::HsEntry entry{};
    entry.body = in.Get<uint32_t>();
    entry.anchor_only = in.Get<uint8_t>() != 0;
    if (!in.ok) return Fail("rejected: truncated id map");
    if (entry.body >= bodies) return Fail("rejected: id map names a missing body");
    out.ids.push_back(entry);
  }
  if (!in.AtEnd()) return Fail("rejected: trailing bytes");
  hs_database_t* db = nullptr;
  const std::string_view payload = file->primary();
  hs_error_t e = hs_deserialize_database(payload.data(), payload.size(), &db);
  if (e == HS_DB_PLATFORM_ERROR) return Fail("rejected: compiled for another CPU");
  if (e != HS_SUCCESS) return Fail("rejected: Vectorscan refused it (" + std::to_string(e) + ")");
  out.db.reset(db);
  return out;
}

}  // namespace

Result<CachedPatterns> LoadCachedVectorscan(const std::filesystem::path& dir, const std::string& key,
                                            const std::string& identity, size_t bodies, const TrustedFiles* pins) {
  const hs_platform_info_t native = NativePlatform();
  auto own = LoadOneVectorscan(dir, PlatformKey(key, native), identity, bodies, pins);
  if (own || native.cpu_features == 0) return own;
  auto portable = LoadOneVectorscan(dir, PlatformKey(key, PortablePlatform()), identity, bodies, pins);
  if (!portable) return Fail(own.error() != "miss" ? own.error() : portable.error());
  portable->portable = true;
  portable->native_error = own.error();
  return portable;
}

Status StoreCacheFile(const std::filesystem::path& dir, const std::string& key, const std::string& identity,
                      std::string_view primary, std::string_view rest) {
  std::string out(kMagic, sizeof kMagic);
  out += identity;
  const std::string version = WriterVersion();
  Put<uint32_t>(&out, static_cast<uint32_t>(version.size()));
  out += version;
  // The checksum covers the primary payload and what follows it.
  std::string tail;
  tail.reserve(primary.size() + rest.size());
  tail.append(primary).append(rest);
  const auto digest = CacheChecksum(tail);
  out.append(reinterpret_cast<const char*>(digest.data()), digest.size());
  Put<uint64_t>(&out, primary.size());
  out += tail;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  return WriteFileAtomically(dir / (key + ".avkc"), out);
}

Status StoreCachedVectorscan(const std::filesystem::path& dir, const std::string& key,
                             const std::string& identity, const hs_database_t* db,
                             const std::vector<Database::Impl::HsEntry>& ids, const hs_platform_info_t& platform) {
  char* bytes = nullptr;
  size_t len = 0;
  if (hs_serialize_database(db, &bytes, &len) != HS_SUCCESS) return Status::Error("hs_serialize_database failed");
  std::string primary(bytes, len);
  std::free(bytes);
  std::string rest;
  Put<uint32_t>(&rest, static_cast<uint32_t>(ids.size()));
  for (const auto& id : ids) {
    Put<uint32_t>(&rest, id.body);
    rest.push_back(id.anchor_only ? 1 : 0);
  }
  return StoreCacheFile(dir, PlatformKey(key, platform), identity, primary, rest);
}

}  // namespace avkey::engine
