#include "avkey/key/quarantine.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <cctype>
#include <limits>

#include "avkey/key/crypto.h"
#include "avkey/key/key.h"
#include "avkey/scan/scan.h"
#include "fmt/format.h"

namespace avkey::key {
namespace {

using platform::JoinPath;
constexpr std::string_view kMagic{"AVKEYQ1\0", 8};
constexpr size_t kChunk = 1 << 20;

std::string ItemKey(const std::string& id) {
  std::string d = "avkey-quarantine/1";
  d.push_back('\0');
  d += id;
  Sha256Digest h = Sha256(d);
  return std::string(reinterpret_cast<const char*>(h.data()), 16);
}

bool ValidId(std::string_view id) {
  // Q-YYYYMMDDTHHMMSSZ-xxxxxxxx
  if (id.size() != 27 || id.substr(0, 2) != "Q-") return false;
  return std::all_of(id.begin(), id.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-'; });
}

Status Errno(std::string_view what, const std::string& path) {
  return Status::Error(fmt::format("{}: {}: {}", path, what, std::strerror(errno)));
}

// Reads up to `n` bytes, retrying EINTR; 0 at end of file.
ssize_t ReadSome(int fd, char* buf, size_t n) {
  ssize_t got;
  do {
    got = ::read(fd, buf, n);
  } while (got < 0 && errno == EINTR);
  return got;
}

nlohmann::json Ts(const timespec& t) { return {{"sec", t.tv_sec}, {"nsec", t.tv_nsec}}; }
timespec FromTs(const nlohmann::json& j) {
  timespec t{};
  t.tv_sec = j.value("sec", int64_t{0});
  t.tv_nsec = j.value("nsec", int64_t{0});
  return t;
}

// Reverses scan::EscapeName(raw, false): "\xNN" -> byte, "\\" -> '\'.
std::string Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && s[i + 1] == '\\') {
      out.push_back('\\');
      ++i;
    } else if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] == 'x') {
      auto b = FromHex(s.substr(i + 2, 2));
      if (b) {
        out += *b;
        i += 3;
      } else {
        out.push_back(s[i]);
      }
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// The record is unsigned key data: every member that restore, list or the console use must
// have its type before anything reads it (a number where a string belongs must be a named
// problem, not an exception). Returns "" when the record is usable.
std::string RecordProblem(const nlohmann::json& rec) {
  auto is = [&](const char* name, auto&& pred, bool required) {
    auto it = rec.find(name);
    return it == rec.end() ? !required : pred(*it);
  };
  auto string = [](const nlohmann::json& v) { return v.is_string(); };
  auto count = [](const nlohmann::json& v) { return v.is_number_unsigned(); };
  auto id32 = [](const nlohmann::json& v) {
    return v.is_number_unsigned() && v.get<uint64_t>() <= std::numeric_limits<uint32_t>::max();
  };
  auto sha = [](const nlohmann::json& v) {
    return v.is_string() && v.get_ref<const std::string&>().size() == 64 &&
           std::all_of(v.get_ref<const std::string&>().begin(), v.get_ref<const std::string&>().end(),
                       [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
  };
  auto mode = [](const nlohmann::json& v) {
    if (!v.is_string()) return false;
    const auto& m = v.get_ref<const std::string&>();
    return !m.empty() && m.size() <= 6 && std::all_of(m.begin(), m.end(), [](char c) { return c >= '0' && c <= '7'; });
  };
  auto time = [](const nlohmann::json& v) {
    if (!v.is_object()) return false;
    auto sec = v.find("sec"), nsec = v.find("nsec");
    return sec != v.end() && nsec != v.end() && sec->is_number_integer() && nsec->is_number_integer() &&
           nsec->get<int64_t>() >= 0 && nsec->get<int64_t>() < 1000000000;
  };
  if (!is("sha256", sha, true)) return "member 'sha256' is not 64 hex digits";
  if (!is("original_path", string, true)) return "member 'original_path' is missing or not a string";
  if (!is("size", count, true)) return "member 'size' is missing or not a byte count";
  if (!is("mode", mode, false)) return "member 'mode' is not an octal string";
  if (!is("uid", id32, false) || !is("gid", id32, false)) return "member 'uid' or 'gid' is not a 32-bit id";
  if (!is("atime", time, false) || !is("mtime", time, false)) return "member 'atime' or 'mtime' is not {sec, nsec}";
  for (const char* name : {"state", "device", "signature", "hostname", "scan", "key", "quarantined"}) {
    if (!is(name, string, false)) return fmt::format("member '{}' is not a string", name);
  }
  return "";
}

// Decodes <id>.bin into `out_fd` (or only hashes it when out_fd < 0); returns the SHA-256
// of the decoded content and its size.
Result<std::pair<std::string, uint64_t>> DecodeBin(const std::string& bin_path, const std::string& id, int out_fd,
                                                   platform::Env* env, const std::string& out_path) {
  int fd = ::open(bin_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Fail(Errno("open", bin_path).message());
  std::string magic(kMagic.size(), '\0');
  if (ReadSome(fd, magic.data(), magic.size()) != static_cast<ssize_t>(magic.size()) || magic != kMagic) {
    ::close(fd);
    return Fail(bin_path + ": not an avkey quarantine file");
  }
  std::string key = ItemKey(id);
  Sha256Stream hash;
  std::string buf(kChunk, '\0');
  uint64_t offset = 0;
  for (;;) {
    ssize_t n = ReadSome(fd, buf.data(), buf.size());
    if (n < 0) {
      Status s = Errno("read", bin_path);
      ::close(fd);
      return Fail(s.message());
    }
    if (n == 0) break;
    std::span<uint8_t> chunk(reinterpret_cast<uint8_t*>(buf.data()), static_cast<size_t>(n));
    Status s = CtrXor(key, offset, chunk);
    std::string_view plain(buf.data(), static_cast<size_t>(n));
    hash.Update(plain);
    if (s.ok() && out_fd >= 0) s = env->Write(out_fd, plain, out_path);
    if (!s.ok()) {
      ::close(fd);
      return Fail(s.message());
    }
    offset += static_cast<uint64_t>(n);
  }
  ::close(fd);
  return std::make_pair(hash.FinishHex(), offset);
}

}  // namespace

Result<std::string> Quarantine::NewId() const {
  auto rnd = RandomBytes(4);
  if (!rnd) return Fail(rnd.error());
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  return fmt::format("Q-{:04}{:02}{:02}T{:02}{:02}{:02}Z-{}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ToHex({reinterpret_cast<const uint8_t*>(rnd->data()), rnd->size()}));
}

Result<std::string> Quarantine::Put(const std::string& path, const QuarantineContext& ctx,
                                    const std::string& expected_sha256) {
  Status s = platform::MakeDirs(dir_);
  if (!s.ok()) return Fail(s.message());
  auto id = NewId();
  if (!id) return id;
  std::string bin = JoinPath(dir_, *id + ".bin");
  std::string tmp = bin + ".tmp";
  std::string meta_path = JoinPath(dir_, *id + ".json");

  int in = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (in < 0) return Fail(Errno("open", path).message());
  struct stat before;
  if (::fstat(in, &before) != 0 || !S_ISREG(before.st_mode)) {
    ::close(in);
    return Fail(path + ": not a regular file");
  }
  auto out = env_->Open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (!out) {
    ::close(in);
    return Fail(out.error());
  }
  auto cleanup = [&](Status why) -> Result<std::string> {
    ::close(in);
    env_->Close(*out);
    ::unlink(tmp.c_str());
    ::unlink(bin.c_str());
    return Fail(why.message());
  };
  // 1. Copy, encoded, hashing the plain bytes as they are read.
  std::string key = ItemKey(*id);
  Sha256Stream hash;
  std::string buf(kChunk, '\0');
  uint64_t offset = 0;
  s = env_->Write(*out, kMagic, tmp);
  if (!s.ok()) return cleanup(s);
  for (;;) {
    ssize_t n = ReadSome(in, buf.data(), buf.size());
    if (n < 0) return cleanup(Errno("read", path));
    if (n == 0) break;
    hash.Update({buf.data(), static_cast<size_t>(n)});
    std::span<uint8_t> chunk(reinterpret_cast<uint8_t*>(buf.data()), static_cast<size_t>(n));
    s = CtrXor(key, offset, chunk);
    if (s.ok()) s = env_->Write(*out, {buf.data(), static_cast<size_t>(n)}, tmp);
    if (!s.ok()) return cleanup(s);
    offset += static_cast<uint64_t>(n);
  }
  std::string sha = hash.FinishHex();
  if (!expected_sha256.empty() && sha != expected_sha256) {
    return cleanup(Status::Error(path + ": changed since it was scanned; left in place"));
  }
  s = env_->Fsync(*out, tmp);
  if (!s.ok()) return cleanup(s);
  env_->Close(*out);
  *out = -1;
  s = env_->Rename(tmp, bin);
  if (s.ok()) s = env_->FsyncDir(dir_);
  if (!s.ok()) {
    ::close(in);
    ::unlink(tmp.c_str());
    ::unlink(bin.c_str());
    return Fail(s.message());
  }
  // 2. The copy, read back from the key, must hash to what was read from the device.
  auto check = DecodeBin(bin, *id, -1, env_, "");
  struct stat after;
  bool same = ::fstat(in, &after) == 0 && after.st_size == before.st_size &&
              after.st_mtim.tv_sec == before.st_mtim.tv_sec && after.st_mtim.tv_nsec == before.st_mtim.tv_nsec;
  ::close(in);
  if (!check || check->first != sha || check->second != offset || !same) {
    ::unlink(bin.c_str());
    return Fail(!check ? check.error()
                       : !same ? path + ": changed while it was being copied; left in place"
                               : bin + ": the copy on the key does not match the original; original left in place");
  }
  // 3. The record, durable before the original goes.
  nlohmann::json rec = {{"format", "avkey-quarantine/1"},
                        {"id", *id},
                        {"original_path", scan::EscapeName(path, false)},
                        {"size", offset},
                        {"sha256", sha},
                        {"mode", fmt::format("{:04o}", before.st_mode & 07777)},
                        {"uid", before.st_uid},
                        {"gid", before.st_gid},
                        {"atime", Ts(before.st_atim)},
                        {"mtime", Ts(before.st_mtim)},
                        {"signature", scan::EscapeName(ctx.signature, false)},
                        {"device", ctx.device},
                        {"hostname", scan::EscapeName(ctx.hostname, false)},
                        {"scan", ctx.scan},
                        {"key", ctx.key},
                        {"quarantined", TimeMs(std::chrono::system_clock::now())},
                        {"state", "quarantined"}};
  s = platform::WriteFileDurably(env_, meta_path, rec.dump(2) + "\n", 0600);
  if (!s.ok()) {
    // The record may be in place already (the rename landed, the directory sync failed):
    // it goes first, so that a crash here leaves a copy without a record (Recover() removes
    // it), never a record without its copy.
    ::unlink(meta_path.c_str());
    ::unlink(bin.c_str());
    return Fail(s.message());
  }
  // 4. Only now the original, and only if the name still is the file that was copied (an
  // updater may have replaced it meanwhile: that file was not copied, so it stays).
  struct stat now;
  if (::lstat(path.c_str(), &now) != 0 || now.st_dev != before.st_dev || now.st_ino != before.st_ino) {
    ::unlink(meta_path.c_str());
    ::unlink(bin.c_str());
    return Fail(path + ": replaced while it was being quarantined; the new file is left in place");
  }
  s = env_->Unlink(path);
  if (!s.ok()) {
    // The copy is good but the threat is still on the device (read-only file system,
    // immutable file): keep no copy, so the quarantine lists only what it removed.
    ::unlink(meta_path.c_str());
    ::unlink(bin.c_str());
    return Fail(s.message());
  }
  // The name is gone; if making that durable fails, the worst case after a power cut
  // is the original back in place beside a verified copy: nothing lost.
  (void)env_->FsyncDir(platform::DirName(path));
  return *id;
}

Result<QuarantineItem> Quarantine::Get(const std::string& id) const {
  if (!ValidId(id)) return Fail("'" + id + "' is not a quarantine id (Q-YYYYMMDDTHHMMSSZ-xxxxxxxx)");
  std::string path = JoinPath(dir_, id + ".json");
  auto text = platform::ReadFile(path, 1 << 20);
  if (!text) return Fail(text.error());
  QuarantineItem item;
  item.id = id;
  try {
    item.record = nlohmann::json::parse(*text);
  } catch (const nlohmann::json::exception& e) {
    return Fail(fmt::format("{}: {}", path, e.what()));
  }
  if (!item.record.is_object() || item.record.value("format", nlohmann::json()) != "avkey-quarantine/1" ||
      item.record.value("id", nlohmann::json()) != id) {
    return Fail(path + ": not the record of " + id);
  }
  if (std::string why = RecordProblem(item.record); !why.empty()) return Fail(path + ": " + why);
  return item;
}

std::vector<QuarantineItem> Quarantine::List(std::vector<std::string>* problems) const {
  std::vector<QuarantineItem> out;
  DIR* d = ::opendir(dir_.c_str());
  if (!d) return out;
  std::vector<std::string> ids;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n.size() > 5 && n.ends_with(".json")) ids.push_back(n.substr(0, n.size() - 5));
  }
  ::closedir(d);
  std::sort(ids.begin(), ids.end());
  for (const auto& id : ids) {
    auto item = Get(id);
    if (item) {
      out.push_back(std::move(*item));
    } else if (problems) {
      problems->push_back(item.error());
    }
  }
  return out;
}

Result<std::string> Quarantine::Restore(const std::string& id, const std::string& to, const std::string& device_id) {
  auto item = Get(id);
  if (!item) return Fail(item.error());
  const auto& rec = item->record;
  // The record is on the key, unsigned: a hostile device may have written it. Restore only
  // to an absolute path, by default only on the device it came from, never with
  // set-user-ID, set-group-ID or sticky bits.
  std::string original = Unescape(rec.at("original_path").get<std::string>());
  if (to.empty()) {
    if (original.empty() || original[0] != '/') return Fail(id + ": the original path is not absolute; use --to PATH");
    if (!device_id.empty() && rec.value("device", "") != device_id) {
      return Fail(fmt::format("{} was quarantined on device {}, not this one ({}): restore it there, or choose "
                              "the place with --to PATH",
                              id, rec.value("device", "?"), device_id));
    }
  }
  std::string target = to.empty() ? original : to;
  struct stat st;
  if (::lstat(target.c_str(), &st) == 0) return Fail(target + ": exists; not overwritten (use --to PATH)");
  std::string dir = platform::DirName(target);
  std::string tmp = JoinPath(dir, fmt::format(".avkey-restore-{}.tmp", id));
  auto out = env_->Open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
  if (!out) return Fail(out.error());
  auto decoded = DecodeBin(JoinPath(dir_, id + ".bin"), id, *out, env_, tmp);
  Status s = decoded ? Status::Ok() : Status::Error(decoded.error());
  if (s.ok() && (decoded->first != rec.at("sha256").get<std::string>() ||
                 decoded->second != rec.value("size", uint64_t{0}))) {
    s = Status::Error(fmt::format("{}: the quarantined copy does not match its record (damaged); not restored", id));
  }
  if (s.ok()) s = env_->Fsync(*out, tmp);
  if (s.ok()) {
    mode_t mode = static_cast<mode_t>(std::strtoul(rec.value("mode", std::string("0600")).c_str(), nullptr, 8)) & 0777;
    if (::geteuid() == 0 && ::fchown(*out, rec.value("uid", 0u), rec.value("gid", 0u)) != 0) {
      s = Errno("chown", tmp);
    }
    if (s.ok() && ::fchmod(*out, mode) != 0) s = Errno("chmod", tmp);
    timespec times[2] = {FromTs(rec.value("atime", nlohmann::json::object())),
                         FromTs(rec.value("mtime", nlohmann::json::object()))};
    if (s.ok() && ::futimens(*out, times) != 0) s = Errno("set times", tmp);
  }
  env_->Close(*out);
  // link(2) instead of rename(2): fails rather than replacing a file created meanwhile.
  if (s.ok() && ::link(tmp.c_str(), target.c_str()) != 0) s = Errno("restore to " + target, tmp);
  ::unlink(tmp.c_str());
  if (s.ok()) s = env_->FsyncDir(dir);
  if (!s.ok()) return Fail(s.message());
  nlohmann::json updated = rec;
  updated["state"] = "restored";
  updated["restored"] = TimeMs(std::chrono::system_clock::now());
  updated["restored_to"] = scan::EscapeName(target, false);
  s = platform::WriteFileDurably(env_, JoinPath(dir_, id + ".json"), updated.dump(2) + "\n", 0600);
  if (!s.ok()) return Fail(s.message());
  return target;
}

Status Quarantine::Purge(const std::string& id) {
  auto item = Get(id);
  if (!item) return Status::Error(item.error());
  // The record first: a kill in between leaves an orphan .bin, which Recover() removes.
  Status s = env_->Unlink(JoinPath(dir_, id + ".json"));
  if (s.ok()) s = env_->Unlink(JoinPath(dir_, id + ".bin"));
  if (s.ok()) s = env_->FsyncDir(dir_);
  return s;
}

int Quarantine::Recover() {
  // Relative to the directory's fd, opened without following a symlink: a device may have
  // made quarantine/ point elsewhere, and this deletes files.
  int fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return 0;
  int removed = 0;
  for (const auto& n : platform::ListDirAt(fd)) {
    bool stale = false;
    if (n.ends_with(".tmp") || n.find(".tmp-") != std::string::npos) {
      stale = n.rfind("Q-", 0) == 0;  // an interrupted copy or record write
    } else if (n.ends_with(".bin")) {
      struct stat st;
      std::string record = n.substr(0, n.size() - 4) + ".json";
      stale = ::fstatat(fd, record.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT;
    }
    if (stale && ::unlinkat(fd, n.c_str(), 0) == 0) ++removed;
  }
  ::close(fd);
  if (removed) (void)env_->FsyncDir(dir_);
  return removed;
}

Result<std::string> FileSha256(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return Fail(Errno("open", path).message());
  Sha256Stream hash;
  std::string buf(kChunk, '\0');
  for (;;) {
    ssize_t n = ReadSome(fd, buf.data(), buf.size());
    if (n < 0) {
      Status s = Errno("read", path);
      ::close(fd);
      return Fail(s.message());
    }
    if (n == 0) break;
    hash.Update({buf.data(), static_cast<size_t>(n)});
  }
  ::close(fd);
  return hash.FinishHex();
}

Status RemoveFile(platform::Env* env, const std::string& path, const std::string& expected_sha256) {
  if (!expected_sha256.empty()) {
    auto sha = FileSha256(path);
    if (!sha) return Status::Error(sha.error());
    if (*sha != expected_sha256) return Status::Error(path + ": changed since it was scanned; left in place");
  }
  Status s = env->Unlink(path);
  if (s.ok()) s = env->FsyncDir(platform::DirName(path));
  return s;
}

}  // namespace avkey::key
