#include "engine/pattern_cache.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

namespace avkey::engine {
namespace {

constexpr char kMagic[8] = {'A', 'V', 'K', 'E', 'Y', 'H', 'S', '3'};

std::string WriterVersion() { return std::string("avkey " AVKEY_VERSION " vectorscan ") + hs_version(); }

std::array<uint8_t, 32> Sha256(const char* p, size_t n) {
  std::array<uint8_t, 32> d{};
  unsigned int len = 0;
  EVP_Digest(p, n, d.data(), &len, EVP_sha256(), nullptr);
  return d;
}

template <typename T>
void Put(std::string* out, T v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof v);
}

bool WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

Result<HsDatabasePtr> LoadCachedVectorscan(const std::filesystem::path& dir, const std::string& key,
                                           const std::string& identity) {
  std::ifstream in(dir / (key + ".avkc"), std::ios::binary);
  if (!in) return Fail("miss");
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string bytes = std::move(ss).str();
  size_t pos = 0;
  auto take = [&](size_t n) -> const char* {
    if (bytes.size() - pos < n) return nullptr;
    const char* p = bytes.data() + pos;
    pos += n;
    return p;
  };
  const char* magic = take(sizeof kMagic);
  if (!magic || std::memcmp(magic, kMagic, sizeof kMagic) != 0) return Fail("rejected: not an avkey cache file");
  const char* id = take(64);
  if (!id || std::string_view(id, 64) != identity) return Fail("rejected: compiled from other signatures");
  uint32_t vlen = 0;
  const char* vl = take(4);
  if (!vl) return Fail("rejected: truncated");
  std::memcpy(&vlen, vl, 4);
  const char* v = take(vlen);
  if (!v || std::string_view(v, vlen) != WriterVersion()) return Fail("rejected: written by another version");
  const char* digest = take(32);
  uint64_t plen = 0;
  const char* pl = take(8);
  if (!digest || !pl) return Fail("rejected: truncated");
  std::memcpy(&plen, pl, 8);
  const char* payload = take(plen);
  if (!payload || pos != bytes.size()) return Fail("rejected: truncated or trailing bytes");
  if (Sha256(payload, plen) != *reinterpret_cast<const std::array<uint8_t, 32>*>(digest))
    return Fail("rejected: checksum mismatch (corrupt)");
  hs_database_t* db = nullptr;
  hs_error_t e = hs_deserialize_database(payload, plen, &db);
  if (e == HS_DB_PLATFORM_ERROR) return Fail("rejected: compiled for another CPU");
  if (e != HS_SUCCESS) return Fail("rejected: Vectorscan refused it (" + std::to_string(e) + ")");
  return HsDatabasePtr(db);
}

Status StoreCachedVectorscan(const std::filesystem::path& dir, const std::string& key,
                             const std::string& identity, const hs_database_t* db) {
  char* bytes = nullptr;
  size_t len = 0;
  if (hs_serialize_database(db, &bytes, &len) != HS_SUCCESS) return Status::Error("hs_serialize_database failed");
  std::string out(kMagic, sizeof kMagic);
  out += identity;
  const std::string version = WriterVersion();
  Put<uint32_t>(&out, static_cast<uint32_t>(version.size()));
  out += version;
  auto digest = Sha256(bytes, len);
  out.append(reinterpret_cast<const char*>(digest.data()), digest.size());
  Put<uint64_t>(&out, len);
  out.append(bytes, len);
  std::free(bytes);

  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const std::filesystem::path final_path = dir / (key + ".avkc");
  const std::filesystem::path tmp = dir / (key + ".avkc.tmp" + std::to_string(::getpid()));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Error(tmp.string() + ": " + std::strerror(errno));
  bool ok = WriteAll(fd, out.data(), out.size()) && ::fsync(fd) == 0;
  ok = (::close(fd) == 0) && ok;
  if (!ok || ::rename(tmp.c_str(), final_path.c_str()) != 0) {
    std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    return Status::Error(final_path.string() + ": " + why);
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}

}  // namespace avkey::engine
