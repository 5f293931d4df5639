// Shared by the key layer's tests: a temporary directory, file helpers, a prepared key,
// and an Env that fails on demand (full key, I/O error).
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "avkey/key/key.h"
#include "avkey/platform/env.h"

namespace avkey::key::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "avkey-key-test-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data()) ? tmpl : "";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline void WriteFile(const std::string& path, std::string_view data) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary).write(data.data(), static_cast<std::streamsize>(data.size()));
}

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A key in dir/key with its signer in dir/signer.
inline KeyInfo MakeKey(const TempDir& dir) {
  auto k = InitKey(platform::Env::Default(), dir / "key", dir / "signer", "test-console");
  EXPECT_TRUE(k.has_value()) << (k ? "" : k.error());
  return k ? *k : KeyInfo{};
}

// Fails the Nth Write (1-based, counting from construction) with `err`, and every one
// after it: a key that fills up stays full.
class FaultEnv : public platform::Env {
 public:
  FaultEnv(int fail_at_write, int err) : fail_at_(fail_at_write), err_(err) {}
  Status Write(int fd, std::string_view data, const std::string& path) override {
    if (++writes_ >= fail_at_ && fail_at_ > 0) {
      // A torn write: half the bytes land, then the error (what a full disk does).
      (void)platform::Env::Write(fd, data.substr(0, data.size() / 2), path);
      return Status::Error(path + ": write: " + std::strerror(err_));
    }
    return platform::Env::Write(fd, data, path);
  }
  int writes() const { return writes_; }

 private:
  int fail_at_, err_;
  int writes_ = 0;
};

// The key pulled out (or its file system failing) at the Nth operation on a path under
// `prefix`: that operation and every later one there fail with `err`, and a write at the cut
// lands half its bytes. Operations elsewhere (the scanned device) go through. N = 0: never,
// which counts the operations a run makes (ops()).
class VanishingEnv : public platform::Env {
 public:
  VanishingEnv(std::string prefix, int vanish_at, int err = EIO)
      : prefix_(std::move(prefix)), vanish_at_(vanish_at), err_(err) {}
  Result<int> Open(const std::string& path, int flags, mode_t mode) override {
    if (Cut(path)) return Fail(path + ": open: " + std::strerror(err_));
    return platform::Env::Open(path, flags, mode);
  }
  Status Write(int fd, std::string_view data, const std::string& path) override {
    if (Cut(path)) {
      if (ops_ == vanish_at_) (void)platform::Env::Write(fd, data.substr(0, data.size() / 2), path);
      return Status::Error(path + ": write: " + std::strerror(err_));
    }
    return platform::Env::Write(fd, data, path);
  }
  Status Fsync(int fd, const std::string& path) override {
    return Cut(path) ? Status::Error(path + ": fsync: " + std::strerror(err_)) : platform::Env::Fsync(fd, path);
  }
  Status Rename(const std::string& from, const std::string& to) override {
    return Cut(to) ? Status::Error(to + ": rename: " + std::strerror(err_)) : platform::Env::Rename(from, to);
  }
  Status Unlink(const std::string& path) override {
    return Cut(path) ? Status::Error(path + ": unlink: " + std::strerror(err_)) : platform::Env::Unlink(path);
  }
  Status FsyncDir(const std::string& dir) override {
    return Cut(dir) ? Status::Error(dir + ": fsync: " + std::strerror(err_)) : platform::Env::FsyncDir(dir);
  }
  int ops() const { return ops_; }
  bool failed() const { return vanish_at_ > 0 && ops_ >= vanish_at_; }

 private:
  bool Cut(const std::string& path) {
    if (path.rfind(prefix_, 0) != 0) return false;
    ++ops_;
    return vanish_at_ > 0 && ops_ >= vanish_at_;
  }
  std::string prefix_;
  int vanish_at_, err_;
  int ops_ = 0;
};

}  // namespace avkey::key::testing
