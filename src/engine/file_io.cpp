#include "engine/file_io.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <openssl/evp.h>

#define XXH_INLINE_ALL
#include <xxhash.h>
#include <cstring>
#include <string>

namespace avkey::engine {

int OpenRegularFile(const std::filesystem::path& path, int* fd, struct stat* st) {
  *fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (*fd < 0) return errno;
  int err = 0;
  if (::fstat(*fd, st) != 0) {
    err = errno;
  } else if (!S_ISREG(st->st_mode)) {
    err = EINVAL;
  }
  if (err != 0) {
    ::close(*fd);
    *fd = -1;
  }
  return err;
}

std::string TrustedKey(const std::filesystem::path& path) { return path.lexically_normal().string(); }

std::string DescribeFileError(int err) {
  if (err == kNotTrusted) return "not listed in the signed manifest";
  if (err == kNotAsSigned) return "does not match the signed manifest (changed since it was verified)";
  return std::strerror(err);
}

struct TrustCheck::State {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  uint64_t size = 0;
  ~State() { EVP_MD_CTX_free(ctx); }
};

TrustCheck::TrustCheck(const TrustedFiles* pins, const std::filesystem::path& path) {
  if (pins == nullptr || pins->empty()) return;
  state_ = std::make_unique<State>();
  if (state_->ctx == nullptr || EVP_DigestInit_ex(state_->ctx, EVP_sha256(), nullptr) != 1) throw std::bad_alloc();
  auto it = pins->find(TrustedKey(path));
  if (it != pins->end()) pin_ = &it->second;
}
TrustCheck::~TrustCheck() = default;

int TrustCheck::Begin() const { return state_ && pin_ == nullptr ? kNotTrusted : 0; }

void TrustCheck::Update(std::string_view bytes) {
  if (!state_) return;
  EVP_DigestUpdate(state_->ctx, bytes.data(), bytes.size());
  state_->size += bytes.size();
}

int TrustCheck::Finish() {
  if (!state_) return 0;
  if (pin_ == nullptr) return kNotTrusted;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(state_->ctx, md, &len);
  return state_->size == pin_->size && HexString({md, len}) == pin_->sha256 ? 0 : kNotAsSigned;
}

namespace {
// Reads into *out sized by fstat (String: std::string or HugeString), checked by `check`.
template <typename String>
int ReadWhole(const std::filesystem::path& path, String* out, TrustCheck* check) {
  out->clear();
  int fd = -1;
  struct stat st;
  if (int err = OpenRegularFile(path, &fd, &st)) return err;
  if (int err = check->Begin()) {
    ::close(fd);
    return err;
  }
  int err = 0;
  // One byte more than the file: the read that meets the end returns 0 without the
  // buffer growing. (Sized exactly, the end was only seen after doubling the buffer:
  // 3x the file in fresh memory and a copy, 57% of a warm start with a YARA set.)
  out->resize(static_cast<size_t>(st.st_size) + 1);
  size_t have = 0;
  for (;;) {
    if (have == out->size()) out->resize(out->size() * 2);  // the file grew meanwhile
    ssize_t n = ::read(fd, out->data() + have, out->size() - have);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) err = errno;
    if (n <= 0) break;
    have += static_cast<size_t>(n);
  }
  out->resize(have);
  ::close(fd);
  if (err != 0) return err;
  check->Update(std::string_view(out->data(), out->size()));
  return check->Finish();
}
}  // namespace

int ReadWholeFile(const std::filesystem::path& path, std::string* out, const TrustedFiles* pins) {
  TrustCheck check(pins, path);
  return ReadWhole(path, out, &check);
}
int ReadWholeFile(const std::filesystem::path& path, HugeString* out) {
  TrustCheck check(nullptr, path);
  return ReadWhole(path, out, &check);
}

std::array<uint8_t, 16> CacheChecksum(std::string_view bytes) {
  const XXH128_hash_t h = XXH3_128bits(bytes.data(), bytes.size());
  std::array<uint8_t, 16> out{};
  std::memcpy(out.data(), &h.low64, 8);
  std::memcpy(out.data() + 8, &h.high64, 8);
  return out;
}

Status WriteFileAtomically(const std::filesystem::path& path, std::string_view data) {
  const std::filesystem::path tmp = path.string() + ".tmp" + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Error(tmp.string() + ": " + std::strerror(errno));
  bool ok = true;
  while (ok && !data.empty()) {
    ssize_t w = ::write(fd, data.data(), data.size());
    if (w < 0 && errno == EINTR) continue;
    ok = w > 0;
    if (ok) data.remove_prefix(static_cast<size_t>(w));
  }
  ok = ok && ::fsync(fd) == 0;
  ok = (::close(fd) == 0) && ok;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    return Status::Error(path.string() + ": " + why);
  }
  const std::filesystem::path dir = path.parent_path().empty() ? "." : path.parent_path();
  if (int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}

MappedFile& MappedFile::operator=(MappedFile&& o) noexcept {
  if (this != &o) {
    if (data_ != nullptr) ::munmap(data_, size_);
    data_ = o.data_;
    size_ = o.size_;
    copy_ = std::move(o.copy_);
    o.data_ = nullptr;
    o.size_ = 0;
  }
  return *this;
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(data_, size_);
  data_ = nullptr;
  size_ = 0;
  copy_.clear();
}

int MappedFile::Map(const std::filesystem::path& path, const TrustedFiles* pins) {
  *this = MappedFile();
  if (pins != nullptr && !pins->empty()) {
    TrustCheck check(pins, path);
    int err = ReadWhole(path, &copy_, &check);  // ENOENT before the pin check: a miss is a miss
    if (err != 0) copy_.clear();
    return err;
  }
  int fd = -1;
  struct stat st;
  if (int err = OpenRegularFile(path, &fd, &st)) return err;
  int err = 0;
  if (st.st_size > 0) {
    void* p = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      err = errno;
    } else {
      data_ = p;
      size_ = static_cast<size_t>(st.st_size);
    }
  }
  ::close(fd);
  return err;
}

}  // namespace avkey::engine
