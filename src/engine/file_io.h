// Reading signature and cache files. Internal to the engine.
#pragma once

#include <array>
#include <cerrno>
#include <cstdint>
#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "avkey/engine/engine.h"
#include "avkey/engine/status.h"
#include "engine/huge_pages.h"

namespace avkey::engine {

// Files whose content a signed manifest fixes (DatabaseBuilder::SetTrustedFiles), keyed by
// TrustedKey(path). Null or empty: nothing is pinned and every read is taken as it is.
using TrustedFiles = std::map<std::string, DatabaseBuilder::FileDigest>;
std::string TrustedKey(const std::filesystem::path& path);

// Errors of a pinned read, as errno values so they travel with the others:
inline constexpr int kNotTrusted = ENOKEY;    // the file is not in the signed manifest
inline constexpr int kNotAsSigned = EBADMSG;  // its size or SHA-256 differs from the manifest's
// strerror(), with the two above in plain words.
std::string DescribeFileError(int err);

// Checks the bytes of one read of `path` against its pin, as they stream past. Passes
// everything when nothing is pinned.
class TrustCheck {
 public:
  TrustCheck(const TrustedFiles* pins, const std::filesystem::path& path);
  ~TrustCheck();
  TrustCheck(const TrustCheck&) = delete;
  TrustCheck& operator=(const TrustCheck&) = delete;
  // 0, or kNotTrusted when files are pinned and this one is not among them.
  int Begin() const;
  void Update(std::string_view bytes);
  // 0, or kNotAsSigned when what passed through Update() is not the pinned content.
  int Finish();

 private:
  struct State;
  std::unique_ptr<State> state_;  // null when nothing is pinned
  const DatabaseBuilder::FileDigest* pin_ = nullptr;
};

// Opens a regular file read-only: 0 and *fd (the caller closes it) with *st filled, or an
// errno (EINVAL for something that is not a regular file; nothing is left open).
int OpenRegularFile(const std::filesystem::path& path, int* fd, struct stat* st);

// Reads a regular file whole into *out, sized by fstat up front: one allocation and
// one copy. (An ifstream copied through a stringstream regrew and copied the data
// twice more; on the VMs avkey is measured on, first-touched memory costs ~3 ms per
// MiB, so that was most of a warm start.) Returns 0, or the errno of the failure
// (EINVAL for something that is not a regular file).
// With `pins`, the content must also be the pinned one (TrustCheck).
int ReadWholeFile(const std::filesystem::path& path, std::string* out, const TrustedFiles* pins = nullptr);
// The same into huge pages where the kernel has them: for cache files of megabytes.
int ReadWholeFile(const std::filesystem::path& path, HugeString* out);

// XXH3-128 of `bytes`: the checksum of avkey's cache files. Against accidental damage
// (a pulled key, a bad sector), several times faster than SHA-256 (1.4 GB/s here): a warm
// start checks every byte of tens of megabytes of cache (issue 2's set: 61-89 ms in all). Not a signature: a cache is
// trusted no more than the directory it lies in.
std::array<uint8_t, 16> CacheChecksum(std::string_view bytes);

// Replaces `path` with `data` atomically: a temporary file beside it, fsync, rename, fsync
// of the directory. A pulled key or a killed process leaves the old file or the new one.
Status WriteFileAtomically(const std::filesystem::path& path, std::string_view data);

// A regular file mapped read-only (MAP_PRIVATE). For cache files of megabytes that are
// read once: pages come from the page cache as they are touched, instead of a copy into
// fresh memory (~3 ms per MiB on the VMs avkey is measured on; 0.3 ms mapped).
// Cache files are replaced by rename, never rewritten in place, so a mapping never sees
// a file shrink under it.
class MappedFile {
 public:
  MappedFile() = default;
  MappedFile(MappedFile&& o) noexcept : data_(o.data_), size_(o.size_), copy_(std::move(o.copy_)) {
    o.data_ = nullptr, o.size_ = 0;
  }
  MappedFile& operator=(MappedFile&& o) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();
  // Returns 0, or the errno of the failure (EINVAL for something that is not a regular file).
  // When `pins` pin files, the file is read into private memory instead and its content
  // checked (TrustCheck): a mapping would follow later writes to the file.
  int Map(const std::filesystem::path& path, const TrustedFiles* pins = nullptr);
  std::string_view view() const {
    return data_ != nullptr ? std::string_view(static_cast<const char*>(data_), size_) : std::string_view(copy_);
  }
  size_t size() const { return view().size(); }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
  HugeString copy_;  // with pins: the checked copy (then data_ is null)
};

}  // namespace avkey::engine
