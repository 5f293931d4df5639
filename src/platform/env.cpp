#include "avkey/platform/env.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "fmt/format.h"

namespace avkey::platform {
namespace {

Status Errno(std::string_view what, const std::string& path, int err) {
  return Status::Error(fmt::format("{}: {}: {}", path, what, std::strerror(err)));
}

}  // namespace

Env* Env::Default() {
  static Env env;
  return &env;
}

Result<int> Env::Open(const std::string& path, int flags, mode_t mode) {
  int fd;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return Errno("open", path, errno);
  return fd;
}

Status Env::Write(int fd, std::string_view data, const std::string& path_for_errors) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("write", path_for_errors, errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

Status Env::Fsync(int fd, const std::string& path_for_errors) {
  if (::fsync(fd) != 0) return Errno("fsync", path_for_errors, errno);
  return Status::Ok();
}

Status Env::Rename(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) return Errno("rename to " + to, from, errno);
  return Status::Ok();
}

Status Env::Unlink(const std::string& path) {
  if (::unlink(path.c_str()) != 0) return Errno("unlink", path, errno);
  return Status::Ok();
}

Status Env::FsyncDir(const std::string& dir) {
  auto fd = Open(dir, O_RDONLY | O_DIRECTORY, 0);
  if (!fd) return fd.status();
  Status s = Fsync(*fd, dir);
  Close(*fd);
  return s;
}

void Env::Close(int fd) { ::close(fd); }

Status WriteFileDurably(Env* env, const std::string& path, std::string_view data, mode_t mode) {
  std::string tmp = fmt::format("{}.tmp-{}", path, ::getpid());
  auto fd = env->Open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode);
  if (!fd) return fd.status();
  Status s = env->Write(*fd, data, tmp);
  if (s.ok()) s = env->Fsync(*fd, tmp);
  env->Close(*fd);
  if (s.ok()) s = env->Rename(tmp, path);
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return s;
  }
  return env->FsyncDir(DirName(path));
}

std::vector<std::string> ListDirAt(int dir_fd) {
  std::vector<std::string> names;
  int fd = ::dup(dir_fd);  // closedir() closes the fd it was given
  if (fd < 0) return names;
  DIR* d = ::fdopendir(fd);
  if (!d) {
    ::close(fd);
    return names;
  }
  ::rewinddir(d);
  while (dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) names.emplace_back(e->d_name);
  }
  ::closedir(d);
  return names;
}

Status ReadFileChunks(const std::string& path, uint64_t max_size, std::span<char> buffer,
                      const std::function<void(std::string_view)>& chunk) {
  // O_NONBLOCK: a FIFO or device planted where a file should be must not block the open
  // (it is then refused as not a regular file); it changes nothing for regular files.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return Errno("open", path, errno);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) return Errno("stat", path, errno);
  if (!S_ISREG(st.st_mode)) return Status::Error(path + ": not a regular file");
  if (static_cast<uint64_t>(st.st_size) > max_size)
    return Status::Error(fmt::format("{}: larger than {} bytes", path, max_size));
  uint64_t total = 0;
  for (;;) {
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("read", path, errno);
    }
    if (n == 0) break;
    total += static_cast<uint64_t>(n);
    if (total > max_size) return Status::Error(fmt::format("{}: larger than {} bytes", path, max_size));
    chunk(std::string_view(buffer.data(), static_cast<size_t>(n)));
  }
  return Status::Ok();
}

Result<std::string> ReadFile(const std::string& path, uint64_t max_size) {
  std::string out;
  char buf[65536];
  Status s = ReadFileChunks(path, max_size, buf, [&](std::string_view piece) { out.append(piece); });
  if (!s.ok()) return Fail(s.message());
  return out;
}

std::string JoinPath(std::string_view dir, std::string_view name) {
  std::string out(dir);
  if (!out.empty() && out.back() != '/') out += '/';
  out += name;
  return out;
}

std::string DirName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status MakeDirs(const std::string& path, mode_t mode) {
  if (path.empty()) return Status::Ok();
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    std::string part = path.substr(0, pos);
    if (part.empty()) continue;
    if (::mkdir(part.c_str(), mode) != 0 && errno != EEXIST) return Errno("mkdir", part, errno);
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return Status::Error(path + ": not a directory");
  return Status::Ok();
}

}  // namespace avkey::platform
