// The file-system seam (leveldb's Env): every write that must survive a pulled key goes
// through an Env, so tests can inject a full disk, an I/O error or a crash point.
//
// Env::Default() is the real POSIX file system and is thread-safe. Methods never throw;
// errors carry the path and strerror().
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "avkey/engine/status.h"

namespace avkey::platform {

class Env {
 public:
  virtual ~Env() = default;
  static Env* Default();  // never null, never deleted

  // open(2) with O_CLOEXEC added; returns the descriptor.
  virtual Result<int> Open(const std::string& path, int flags, mode_t mode);
  // Writes all of `data` (retrying short writes and EINTR) or fails.
  virtual Status Write(int fd, std::string_view data, const std::string& path_for_errors);
  virtual Status Fsync(int fd, const std::string& path_for_errors);
  virtual Status Rename(const std::string& from, const std::string& to);
  virtual Status Unlink(const std::string& path);
  // Makes a rename or unlink in `dir` durable.
  virtual Status FsyncDir(const std::string& dir);
  virtual void Close(int fd);
};

// Replaces `path` with `data`: write `path.tmp-<pid>`, fsync, rename, fsync the directory.
// On failure the old file (if any) is untouched and the temporary file is removed.
Status WriteFileDurably(Env* env, const std::string& path, std::string_view data, mode_t mode = 0644);

// Reads a whole regular file of at most `max_size` bytes (larger: an error naming the limit).
Result<std::string> ReadFile(const std::string& path, uint64_t max_size);
// The same, handing each piece read into `buffer` to `chunk` instead of keeping it: for
// files only hashed (a key's signature generation holds tens of megabytes of cache files).
Status ReadFileChunks(const std::string& path, uint64_t max_size, std::span<char> buffer,
                      const std::function<void(std::string_view)>& chunk);

// "dir/name" without doubling a trailing '/'.
std::string JoinPath(std::string_view dir, std::string_view name);
// The directory part of `path` ("." when there is none).
std::string DirName(const std::string& path);

// The entry names of the directory `dir_fd` is open on ("." and ".." left out); the fd stays
// open and usable for the *at() calls that follow. Empty if it cannot be read.
std::vector<std::string> ListDirAt(int dir_fd);

// mkdir -p with `mode`; existing directories are fine.
Status MakeDirs(const std::string& path, mode_t mode = 0755);

}  // namespace avkey::platform
