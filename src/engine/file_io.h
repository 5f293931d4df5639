// Reading signature and cache files. Internal to the engine.
#pragma once

#include <array>
#include <cstdint>
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <string_view>

#include "avkey/engine/status.h"
#include "engine/huge_pages.h"

namespace avkey::engine {

// Opens a regular file read-only: 0 and *fd (the caller closes it) with *st filled, or an
// errno (EINVAL for something that is not a regular file; nothing is left open).
int OpenRegularFile(const std::filesystem::path& path, int* fd, struct stat* st);

// Reads a regular file whole into *out, sized by fstat up front: one allocation and
// one copy. (An ifstream copied through a stringstream regrew and copied the data
// twice more; on the VMs avkey is measured on, first-touched memory costs ~3 ms per
// MiB, so that was most of a warm start.) Returns 0, or the errno of the failure
// (EINVAL for something that is not a regular file).
int ReadWholeFile(const std::filesystem::path& path, std::string* out);
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
  MappedFile(MappedFile&& o) noexcept : data_(o.data_), size_(o.size_) { o.data_ = nullptr, o.size_ = 0; }
  MappedFile& operator=(MappedFile&& o) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();
  // Returns 0, or the errno of the failure (EINVAL for something that is not a regular file).
  int Map(const std::filesystem::path& path);
  std::string_view view() const { return std::string_view(static_cast<const char*>(data_), size_); }
  size_t size() const { return size_; }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace avkey::engine
