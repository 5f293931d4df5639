// Device inventory (inventory.h): fact files read inside `root`, an executable walk that
// follows no link, and gzip for shipping the document to the console.
#include "avkey/key/inventory.h"

#define ZLIB_CONST  // next_in is const: the input string_view needs no const_cast
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <utility>

#include "avkey/scan/scan.h"
#include "fmt/format.h"

namespace avkey::key {
namespace {

using nlohmann::json;

// Fact files are a few KiB; /proc/self/mounts on a container host reaches a few hundred
// KiB. Anything above 4 MiB is not a fact file, whatever the device claims.
constexpr size_t kMaxFactFileBytes = 4u << 20;
// The kernel's own limit on symbolic links in one resolution (path_resolution(7)).
constexpr int kMaxSymlinks = 40;
// Components resolved per path, links included: bounds the work a link farm can cause.
constexpr size_t kMaxResolveSteps = 4096;
// Directories held open while resolving one path (/sys paths are about 12 deep).
constexpr size_t kMaxResolveDepth = 128;
// Walk errors listed one by one in "unavailable"; the rest are only counted, so that an
// unreadable tree cannot make the document grow without bound.
constexpr uint64_t kMaxWalkErrorsListed = 100;
// Read buffer for hashing. 64 KiB, 256 KiB and 1 MiB measured within noise of each other
// (0.8-1.0 GB/s over /usr's 4672 executables, 5 GB, page cache warm; OpenSSL's SHA-256
// alone does 1.7 GB/s on that CPU): the middle one, small enough to stay in L2.
constexpr size_t kHashBufferBytes = 256u << 10;
// zlib counts in uInt (32 bits): feed it at most 1 GiB per call.
constexpr size_t kZlibChunk = 1u << 30;

// Kernel file systems whose content is endless, blocking or has side effects when read.
// statfs(2) magic numbers from linux/magic.h, spelled out so that an old header does not
// silently drop one.
constexpr std::array<unsigned long, 22> kPseudoFsMagic = {
    0x9fa0,      // proc
    0x62656572,  // sysfs
    0x27e0eb,    // cgroup
    0x63677270,  // cgroup2
    0x1cd1,      // devpts
    0x64626720,  // debugfs
    0x74726163,  // tracefs
    0x73636673,  // securityfs
    0x6165676c,  // pstore
    0xcafe4a11,  // bpf
    0x62656570,  // configfs
    0x65735543,  // fusectl
    0x19800202,  // mqueue
    0x958458f6,  // hugetlbfs
    0x42494e4d,  // binfmt_misc
    0xf97cff8c,  // selinuxfs
    0xde5e81e4,  // efivarfs
    0x0187,      // autofs
    0x6e736673,  // nsfs
    0x67596969,  // rpc_pipefs
    0x43415d53,  // smackfs
    0x5a3c69f0,  // apparmorfs
};
// devtmpfs shares tmpfs's magic, so it is recognised by name in the host's mount table
// (tmpfs itself is walked: /tmp and /run are where dropped executables live).
constexpr std::array<std::string_view, 21> kPseudoFsTypes = {
    "proc",     "sysfs",     "devtmpfs",   "devpts",  "securityfs", "debugfs",  "tracefs",
    "pstore",   "bpf",       "configfs",   "fusectl", "mqueue",     "hugetlbfs", "binfmt_misc",
    "selinuxfs", "efivarfs", "autofs",     "rpc_pipefs", "nsfs",    "smackfs",  "apparmorfs",
};

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }

 private:
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd_ = -1;
};

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};
using DirPtr = std::unique_ptr<DIR, DirCloser>;

struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

// Device bytes made valid UTF-8 for JSON (nlohmann's dump() throws on invalid UTF-8).
std::string Text(std::string_view raw) { return scan::EscapeName(raw, false); }

std::string_view Trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n\f\v";
  size_t b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(kSpace);
  return s.substr(b, e - b + 1);
}

std::string_view FirstLine(std::string_view s) {
  size_t nl = s.find('\n');
  return Trim(nl == std::string_view::npos ? s : s.substr(0, nl));
}

std::vector<std::string_view> SplitLines(std::string_view s) {
  std::vector<std::string_view> lines;
  while (!s.empty()) {
    size_t nl = s.find('\n');
    lines.push_back(s.substr(0, nl));
    if (nl == std::string_view::npos) break;
    s.remove_prefix(nl + 1);
  }
  return lines;
}

// Path components without "" and "." (".." is kept: its meaning depends on links).
std::deque<std::string> SplitPath(std::string_view path) {
  std::deque<std::string> parts;
  while (!path.empty()) {
    size_t slash = path.find('/');
    std::string_view part = path.substr(0, slash);
    if (!part.empty() && part != ".") parts.emplace_back(part);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return parts;
}

std::string ErrnoText(int err) { return std::strerror(err); }

std::string Sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1) return "";
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) hex += fmt::format("{:02x}", md[i]);
  return hex;
}

// RFC 3339 in UTC with second precision; null outside years 0000..9999.
json Rfc3339(time_t t) {
  struct tm tm;
  if (::gmtime_r(&t, &tm) == nullptr) return nullptr;
  int year = tm.tm_year + 1900;
  if (year < 0 || year > 9999) return nullptr;
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", year, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec);
}

int OpenAtNoAtime(int dir, const char* name, int flags) {
  // O_NOATIME: reading must not change the device, not even access times. The kernel
  // allows it only to the file's owner (or CAP_FOWNER), hence the retry on EPERM.
  int fd = ::openat(dir, name, flags | O_NOATIME);
  if (fd < 0 && errno == EPERM) fd = ::openat(dir, name, flags);
  return fd;
}

bool ReadLinkAt(int dir, const char* name, std::string* target) {
  std::string buf(256, '\0');
  for (;;) {
    ssize_t n = ::readlinkat(dir, name, buf.data(), buf.size());
    if (n < 0) return false;
    if (static_cast<size_t>(n) < buf.size()) {
      buf.resize(static_cast<size_t>(n));
      *target = std::move(buf);
      return true;
    }
    if (buf.size() >= 65536) return false;  // longer than PATH_MAX allows: not a real link
    buf.resize(buf.size() * 2);
  }
}

// Reads an open file to EOF; error if it is larger than `max` bytes.
Result<std::string> ReadFd(int fd, size_t max, std::string_view what) {
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail(fmt::format("{}: {}", what, ErrnoText(errno)));
    }
    if (n == 0) return out;
    if (out.size() + static_cast<size_t>(n) > max) {
      return Fail(fmt::format("{}: larger than {} bytes", what, max));
    }
    out.append(buf, static_cast<size_t>(n));
  }
}

// The device's file system as seen from `root`. Paths given to it are device paths
// ("/etc/machine-id"); a symbolic link met on the way is resolved inside root, as if
// root were "/" (openat2's RESOLVE_IN_ROOT, which kernels before 5.6 lack), so a hostile
// "/etc/os-release -> /etc/shadow" on a mounted disk reads the disk's file, not the host's.
class RootFs {
 public:
  explicit RootFs(const std::string& root) {
    std::string r = root.empty() ? "/" : root;
    while (r.size() > 1 && r.back() == '/') r.pop_back();
    root_ = r;
    live_ = root_ == "/";
    int fd = ::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);  // operator-chosen: may be a link
    if (fd < 0) open_error_ = fmt::format("{}: {}", root_, ErrnoText(errno));
    fd_ = UniqueFd(fd);
  }

  const std::string& root() const { return root_; }
  // True when root is "/": live facts (uname, getifaddrs) describe this device.
  bool live() const { return live_; }

  // Host path of a device path.
  std::string HostPath(std::string_view device_path) const {
    return live_ ? std::string(device_path) : root_ + std::string(device_path);
  }

  enum class Want { kFile, kDirectory };

  // Opens a regular file or a directory inside root; with !follow_links, any symbolic link
  // on the way is an error. Never opens a device node, FIFO or socket.
  Result<UniqueFd> Open(std::string_view path, Want want, bool follow_links) const {
    if (!fd_.valid()) return Fail(open_error_);
    auto fail = [&](int err) { return Fail(fmt::format("{}: {}", path, ErrnoText(err))); };
    std::deque<std::string> pending = SplitPath(path);
    std::vector<UniqueFd> chain;  // the directories resolved so far; empty: at root
    int links = 0;
    size_t steps = 0;
    while (!pending.empty()) {
      if (++steps > kMaxResolveSteps) return fail(ELOOP);
      std::string name = std::move(pending.front());
      pending.pop_front();
      if (name == "..") {  // clamped at root, like RESOLVE_IN_ROOT
        if (!chain.empty()) chain.pop_back();
        continue;
      }
      if (chain.size() >= kMaxResolveDepth) return fail(ENAMETOOLONG);
      int dir = chain.empty() ? fd_.get() : chain.back().get();
      bool want_file = pending.empty() && want == Want::kFile;
      // O_DIRECTORY makes the kernel refuse a non-directory before opening it; a file is
      // checked with fstatat first, because merely opening a device node can act (a
      // watchdog starts counting, a tape rewinds).
      int flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY;
      bool is_link = false;
      if (want_file) {
        struct stat st;
        if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return fail(errno);
        if (S_ISLNK(st.st_mode)) {
          is_link = true;
        } else if (S_ISDIR(st.st_mode)) {
          return fail(EISDIR);
        } else if (!S_ISREG(st.st_mode)) {
          return Fail(fmt::format("{}: not a regular file", path));
        }
      } else {
        flags |= O_DIRECTORY;
      }
      int fd = -1;
      if (!is_link) {
        fd = OpenAtNoAtime(dir, name.c_str(), flags);
        // A link opened with O_NOFOLLOW fails with ELOOP, or ENOTDIR under O_DIRECTORY.
        if (fd < 0 && errno != ELOOP && errno != ENOTDIR) return fail(errno);
      }
      if (fd < 0) {
        int err = errno;
        std::string target;
        if (!ReadLinkAt(dir, name.c_str(), &target)) return fail(is_link ? ELOOP : err);
        if (!follow_links) return Fail(fmt::format("{}: is or crosses a symbolic link", path));
        if (++links > kMaxSymlinks) return fail(ELOOP);
        if (target.starts_with('/')) chain.clear();
        std::deque<std::string> parts = SplitPath(target);
        pending.insert(pending.begin(), parts.begin(), parts.end());
        continue;
      }
      chain.emplace_back(fd);
    }
    UniqueFd result;
    if (chain.empty()) {
      result = UniqueFd(::openat(fd_.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (!result.valid()) return fail(errno);
    } else {
      result = std::move(chain.back());
    }
    struct stat st;
    if (::fstat(result.get(), &st) != 0) return fail(errno);
    if (want == Want::kFile && !S_ISREG(st.st_mode)) return fail(EISDIR);  // "x/.." and the like
    if (want == Want::kDirectory && !S_ISDIR(st.st_mode)) return fail(ENOTDIR);
    return result;
  }

  Result<std::string> ReadFile(std::string_view path, size_t max = kMaxFactFileBytes) const {
    Result<UniqueFd> fd = Open(path, Want::kFile, true);
    if (!fd) return Fail(fd.error());
    return ReadFd(fd->get(), max, path);
  }

  // First line, trimmed; an empty value is an error (an empty machine-id is no id).
  Result<std::string> ReadValue(std::string_view path) const {
    Result<std::string> text = ReadFile(path);
    if (!text) return text;
    std::string_view line = FirstLine(*text);
    if (line.empty()) return Fail(fmt::format("{}: empty", path));
    return std::string(line);
  }

  // Entry names except "." and "..", sorted bytewise so that the output is reproducible.
  Result<std::vector<std::string>> ListDir(std::string_view path) const {
    Result<UniqueFd> fd = Open(path, Want::kDirectory, true);
    if (!fd) return Fail(fd.error());
    DirPtr dir(::fdopendir(fd->get()));
    if (!dir) return Fail(fmt::format("{}: {}", path, ErrnoText(errno)));
    fd->release();
    std::vector<std::string> names;
    for (;;) {
      errno = 0;
      dirent* de = ::readdir(dir.get());
      if (de == nullptr) {
        if (errno != 0) return Fail(fmt::format("{}: {}", path, ErrnoText(errno)));
        break;
      }
      if (std::strcmp(de->d_name, ".") == 0 || std::strcmp(de->d_name, "..") == 0) continue;
      names.emplace_back(de->d_name);
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  bool IsDirectory(std::string_view path) const {
    return Open(path, Want::kDirectory, true).has_value();
  }

 private:
  std::string root_;
  bool live_ = false;
  UniqueFd fd_;
  std::string open_error_;
};

void AddUnavailable(json* unavailable, std::string_view item, std::string_view reason) {
  unavailable->push_back({{"item", Text(item)}, {"reason", Text(reason)}});
}

// "(none)" is what the kernel reports when no host name was ever set.
std::optional<std::string> HostName(const RootFs& fs, std::string* why) {
  for (const char* path : {"/proc/sys/kernel/hostname", "/etc/hostname"}) {
    Result<std::string> v = fs.ReadValue(path);
    if (v && *v != "(none)") return *v;
    if (!v && why->empty()) *why = v.error();
  }
  if (fs.live()) {
    struct utsname u;
    if (::uname(&u) == 0 && u.nodename[0] != '\0' && std::string_view(u.nodename) != "(none)") {
      return std::string(u.nodename);
    }
  }
  return std::nullopt;
}

// systemd writes "uninitialized" until first boot completes (machine-id(5)).
std::optional<std::string> MachineId(const RootFs& fs, std::string* why) {
  for (const char* path : {"/etc/machine-id", "/var/lib/dbus/machine-id"}) {
    Result<std::string> v = fs.ReadValue(path);
    if (v && *v != "uninitialized") return *v;
    if (!v && why->empty()) *why = v.error();
  }
  return std::nullopt;
}

// Firmware that leaves the UUID unset reports all zeros or all ones: shared by every such
// board, so no identity.
bool PlausibleUuid(std::string_view uuid) {
  return std::any_of(uuid.begin(), uuid.end(), [](char c) {
    return std::isxdigit(static_cast<unsigned char>(c)) && c != '0' && c != 'f' && c != 'F';
  });
}

// os-release(5): KEY=value, value optionally quoted; inside double quotes (and unquoted)
// a backslash escapes the next character, as in the shell.
std::map<std::string, std::string> ParseOsRelease(std::string_view text) {
  std::map<std::string, std::string> kv;
  for (std::string_view line : SplitLines(text)) {
    line = Trim(line);
    if (line.empty() || line.front() == '#') continue;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    std::string_view key = line.substr(0, eq);
    std::string_view raw = line.substr(eq + 1);
    std::string value;
    char quote = 0;
    if (!raw.empty() && (raw.front() == '"' || raw.front() == '\'')) {
      quote = raw.front();
      raw.remove_prefix(1);
    }
    for (size_t i = 0; i < raw.size(); ++i) {
      char c = raw[i];
      if (quote != 0 && c == quote) break;
      if (c == '\\' && quote != '\'' && i + 1 < raw.size()) {
        value += raw[++i];
        continue;
      }
      value += c;
    }
    kv[std::string(key)] = std::move(value);
  }
  return kv;
}

struct MountEntry {
  std::string device, mount_point, fs_type, options;
};

// getmntent(3) escapes space, tab, newline and backslash as \ooo.
std::string DecodeOctal(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      auto oct = [](char c) { return c >= '0' && c <= '7'; };
      if (oct(s[i + 1]) && oct(s[i + 2]) && oct(s[i + 3])) {
        int v = (s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0');
        if (v <= 0xFF) {
          out += static_cast<char>(v);
          i += 3;
          continue;
        }
      }
    }
    out += s[i];
  }
  return out;
}

std::vector<MountEntry> ParseMounts(std::string_view text) {
  std::vector<MountEntry> mounts;
  for (std::string_view line : SplitLines(text)) {
    std::vector<std::string_view> f;
    while (!line.empty() && f.size() < 4) {
      size_t b = line.find_first_not_of(" \t");
      if (b == std::string_view::npos) break;
      line.remove_prefix(b);
      size_t e = line.find_first_of(" \t");
      f.push_back(line.substr(0, e));
      line.remove_prefix(e == std::string_view::npos ? line.size() : e);
    }
    if (f.size() < 3) continue;
    mounts.push_back({DecodeOctal(f[0]), DecodeOctal(f[1]), DecodeOctal(f[2]),
                      f.size() > 3 ? DecodeOctal(f[3]) : std::string()});
  }
  return mounts;
}

bool IsPseudoFsType(std::string_view type) {
  return type.starts_with("cgroup") ||
         std::find(kPseudoFsTypes.begin(), kPseudoFsTypes.end(), type) != kPseudoFsTypes.end();
}

// Number before " kB" of a /proc/meminfo line, in bytes.
std::optional<uint64_t> MemTotal(std::string_view text) {
  for (std::string_view line : SplitLines(text)) {
    if (!line.starts_with("MemTotal:")) continue;
    std::string_view rest = Trim(line.substr(9));
    uint64_t v = 0;
    size_t i = 0;
    for (; i < rest.size() && rest[i] >= '0' && rest[i] <= '9'; ++i) {
      if (v > (UINT64_MAX - 9) / 10) return std::nullopt;
      v = v * 10 + static_cast<uint64_t>(rest[i] - '0');
    }
    if (i == 0) return std::nullopt;
    std::string_view unit = Trim(rest.substr(i));
    if (unit.empty()) return v;
    if (unit == "kB" && v <= UINT64_MAX / 1024) return v * 1024;
    return std::nullopt;
  }
  return std::nullopt;
}

std::optional<uint64_t> ParseUint(std::string_view s) {
  s = Trim(s);
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9' || v > (UINT64_MAX - 9) / 10) return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

json CollectKernel(const RootFs& fs, json* unavailable) {
  if (fs.live()) {
    struct utsname u;
    if (::uname(&u) != 0) {
      AddUnavailable(unavailable, "kernel", fmt::format("uname: {}", ErrnoText(errno)));
      return nullptr;
    }
    return {{"sysname", Text(u.sysname)},
            {"release", Text(u.release)},
            {"version", Text(u.version)},
            {"machine", Text(u.machine)}};
  }
  json k = {{"sysname", nullptr}, {"release", nullptr}, {"version", nullptr}, {"machine", nullptr}};
  std::string why;
  bool any = false;
  for (auto [key, file] : {std::pair{"sysname", "ostype"}, std::pair{"release", "osrelease"},
                           std::pair{"version", "version"}}) {
    Result<std::string> v = fs.ReadValue(fmt::format("/proc/sys/kernel/{}", file));
    if (v) {
      k[key] = Text(*v);
      any = true;
    } else if (why.empty()) {
      why = v.error();
    }
  }
  if (!any) {
    AddUnavailable(unavailable, "kernel", why);
    return nullptr;
  }
  return k;
}

json CollectCpu(const RootFs& fs, json* unavailable) {
  Result<std::string> text = fs.ReadFile("/proc/cpuinfo");
  if (!text) {
    AddUnavailable(unavailable, "cpu", text.error());
    return nullptr;
  }
  // The model's key depends on the architecture: x86 "model name", 32-bit ARM "Processor"
  // (lower-case "processor" numbers each CPU there too), MIPS "cpu model", RISC-V "uarch",
  // PowerPC "cpu"; "Hardware" names the SoC on ARM boards that give nothing else.
  static constexpr std::array<std::string_view, 6> kModelKeys = {
      "model name", "Processor", "cpu model", "uarch", "cpu", "Hardware"};
  std::array<std::string, kModelKeys.size()> found;
  uint64_t count = 0;
  for (std::string_view line : SplitLines(*text)) {
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view key = Trim(line.substr(0, colon));
    std::string_view value = Trim(line.substr(colon + 1));
    if (key == "processor") ++count;
    for (size_t i = 0; i < kModelKeys.size(); ++i) {
      if (key == kModelKeys[i] && found[i].empty()) found[i] = std::string(value);
    }
  }
  json cpu = {{"model", nullptr}, {"logical_count", nullptr}};
  for (const std::string& m : found) {
    if (!m.empty()) {
      cpu["model"] = Text(m);
      break;
    }
  }
  if (count == 0 && fs.live()) {
    long n = ::sysconf(_SC_NPROCESSORS_ONLN);
    if (n > 0) count = static_cast<uint64_t>(n);
  }
  if (count > 0) cpu["logical_count"] = count;
  return cpu;
}

json CollectDisks(const RootFs& fs, json* unavailable) {
  json disks = json::array();
  Result<std::vector<std::string>> names = fs.ListDir("/sys/block");
  if (!names) {
    AddUnavailable(unavailable, "disks", names.error());
    return disks;
  }
  for (const std::string& name : *names) {
    std::string base = "/sys/block/" + name;
    json d = {{"name", Text(name)}, {"size_bytes", nullptr}, {"removable", nullptr}};
    // "size" is in 512-byte units whatever the device's sector size (block/stat.rst).
    Result<std::string> size = fs.ReadValue(base + "/size");
    std::optional<uint64_t> sectors = size ? ParseUint(*size) : std::nullopt;
    if (sectors && *sectors <= UINT64_MAX / 512) d["size_bytes"] = *sectors * 512;
    Result<std::string> removable = fs.ReadValue(base + "/removable");
    if (removable) d["removable"] = *removable == "1";
    for (const char* attr : {"model", "vendor"}) {
      Result<std::string> v = fs.ReadValue(fmt::format("{}/device/{}", base, attr));
      if (v) d[attr] = Text(*v);
    }
    disks.push_back(std::move(d));
  }
  return disks;
}

json CollectMounts(const RootFs& fs, json* unavailable) {
  json mounts = json::array();
  Result<std::string> text = fs.ReadFile("/proc/self/mounts");
  if (!text) {
    AddUnavailable(unavailable, "mounts", text.error());
    return mounts;
  }
  for (const MountEntry& m : ParseMounts(*text)) {
    mounts.push_back({{"device", Text(m.device)},
                      {"mount_point", Text(m.mount_point)},
                      {"fs_type", Text(m.fs_type)},
                      {"options", Text(m.options)}});
  }
  return mounts;
}

int PrefixLength(const unsigned char* mask, size_t n) {
  int bits = 0;
  for (size_t i = 0; i < n; ++i) bits += std::popcount(static_cast<unsigned>(mask[i]));
  return bits;
}

json CollectNetwork(const RootFs& fs, json* unavailable) {
  std::map<std::string, json> by_name;  // raw name -> entry, sorted
  auto entry = [&](const std::string& name) -> json& {
    auto it = by_name.find(name);
    if (it == by_name.end()) {
      it = by_name
               .emplace(name, json{{"name", Text(name)},
                                   {"mac", nullptr},
                                   {"ipv4", json::array()},
                                   {"ipv6", json::array()}})
               .first;
    }
    return it->second;
  };
  Result<std::vector<std::string>> names = fs.ListDir("/sys/class/net");
  if (names) {
    for (const std::string& name : *names) {
      std::string base = "/sys/class/net/" + name;
      if (!fs.IsDirectory(base)) continue;  // "bonding_masters" is a file beside the links
      json& e = entry(name);
      Result<std::string> mac = fs.ReadValue(base + "/address");
      if (mac) e["mac"] = Text(*mac);
    }
  }
  std::string ifaddrs_error;
  if (fs.live()) {
    struct ifaddrs* list = nullptr;
    if (::getifaddrs(&list) != 0) {
      ifaddrs_error = fmt::format("getifaddrs: {}", ErrnoText(errno));
    } else {
      std::unique_ptr<struct ifaddrs, void (*)(struct ifaddrs*)> guard(list, ::freeifaddrs);
      for (struct ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
        if (a->ifa_name == nullptr || a->ifa_addr == nullptr) continue;
        char buf[INET6_ADDRSTRLEN] = {};
        int family = a->ifa_addr->sa_family;
        if (family == AF_INET) {
          const auto* in = reinterpret_cast<const sockaddr_in*>(a->ifa_addr);
          if (::inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf) == nullptr) continue;
          int prefix = 32;
          if (a->ifa_netmask != nullptr) {
            const auto* m = reinterpret_cast<const sockaddr_in*>(a->ifa_netmask);
            prefix = PrefixLength(reinterpret_cast<const unsigned char*>(&m->sin_addr), 4);
          }
          entry(a->ifa_name)["ipv4"].push_back(fmt::format("{}/{}", buf, prefix));
        } else if (family == AF_INET6) {
          const auto* in6 = reinterpret_cast<const sockaddr_in6*>(a->ifa_addr);
          if (::inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf) == nullptr) continue;
          int prefix = 128;
          if (a->ifa_netmask != nullptr) {
            const auto* m = reinterpret_cast<const sockaddr_in6*>(a->ifa_netmask);
            prefix = PrefixLength(reinterpret_cast<const unsigned char*>(&m->sin6_addr), 16);
          }
          entry(a->ifa_name)["ipv6"].push_back(fmt::format("{}/{}", buf, prefix));
        }
      }
    }
  }
  if (!names && by_name.empty()) {
    AddUnavailable(unavailable, "network", names.error());
  } else if (!ifaddrs_error.empty()) {
    AddUnavailable(unavailable, "network", ifaddrs_error);
  }
  json net = json::array();
  for (auto& [name, e] : by_name) net.push_back(std::move(e));
  return net;
}

// ---- the executable walk ----

// Prefix match on whole components: "/usr/lib" matches "/usr/lib" and "/usr/lib/x" but not
// "/usr/lib64" (a plain string prefix would silently skip the sibling).
bool UnderPrefix(std::string_view path, std::string_view prefix) {
  if (prefix == "/") return path.starts_with('/');
  if (!path.starts_with(prefix)) return false;
  return path.size() == prefix.size() || path[prefix.size()] == '/';
}

std::string NormalizePrefix(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

// Device path of a hash root: host paths under root are stripped, others are taken as
// device paths. Lexically normalised ("." and ".." folded, clamped at "/").
std::optional<std::string> DevicePathOfHashRoot(const RootFs& fs, std::string_view hash_root) {
  if (!hash_root.starts_with('/')) return std::nullopt;
  std::string_view p = hash_root;
  if (!fs.live() && UnderPrefix(p, fs.root())) p.remove_prefix(fs.root().size());
  std::vector<std::string> parts;
  for (std::string& part : SplitPath(p)) {
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else {
      parts.push_back(std::move(part));
    }
  }
  std::string out;
  for (const std::string& part : parts) out += "/" + part;
  return out.empty() ? "/" : out;
}

class ExecutableWalk {
 public:
  ExecutableWalk(const RootFs& fs, const InventoryOptions& options, json* unavailable)
      : fs_(fs), opt_(options), unavailable_(unavailable), buf_(kHashBufferBytes) {
    for (const std::string& e : options.excludes) {
      if (!e.empty()) excludes_.push_back(NormalizePrefix(e));
    }
    LoadPseudoMounts();
  }

  void Run() {
    for (const std::string& hash_root : opt_.hash_roots) {
      if (truncated_ || interrupted_) break;
      WalkRoot(hash_root);
    }
  }

  void WriteTo(json* doc) {
    (*doc)["files"] = std::move(files_);
    (*doc)["file_hashes_truncated"] = truncated_;
    (*doc)["file_hashes_interrupted"] = interrupted_;
    (*doc)["file_hashes_errors"] = errors_;
  }

 private:
  struct Frame {
    std::string path;  // device path
    dev_t dev;
    ino_t ino;
  };

  // Mount points of pseudo file systems on the host (the walk reads host paths), by device
  // number: the only way to recognise devtmpfs, and cheaper than a statfs per directory
  // for the rest. The statfs magic check in WalkDir still catches mounts made meanwhile.
  void LoadPseudoMounts() {
    int fd = ::open("/proc/self/mounts", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    UniqueFd guard(fd);
    Result<std::string> text = ReadFd(fd, kMaxFactFileBytes, "/proc/self/mounts");
    if (!text) return;
    for (const MountEntry& m : ParseMounts(*text)) {
      if (!IsPseudoFsType(m.fs_type)) continue;
      struct stat st;
      // AT_NO_AUTOMOUNT: looking at an autofs mount point must not trigger a mount.
      if (::fstatat(AT_FDCWD, m.mount_point.c_str(), &st, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT) ==
          0) {
        pseudo_devs_.insert(st.st_dev);
      }
    }
  }

  bool Excluded(const std::string& device_path) const {
    if (excludes_.empty()) return false;
    std::string host = fs_.HostPath(device_path);
    for (const std::string& e : excludes_) {
      if (UnderPrefix(device_path, e) || UnderPrefix(host, e)) return true;
    }
    return false;
  }

  void AddError(const std::string& device_path, std::string_view what, int err) {
    ++errors_;
    if (errors_ <= kMaxWalkErrorsListed) {
      AddUnavailable(unavailable_, "files:" + device_path, fmt::format("{}: {}", what, ErrnoText(err)));
    }
  }

  static bool PseudoMagic(int fd) {
    struct statfs sfs;
    if (::fstatfs(fd, &sfs) != 0) return false;
    auto magic = static_cast<unsigned long>(sfs.f_type) & 0xffffffffUL;
    return std::find(kPseudoFsMagic.begin(), kPseudoFsMagic.end(), magic) != kPseudoFsMagic.end();
  }

  void WalkRoot(const std::string& hash_root) {
    std::optional<std::string> dev_path = DevicePathOfHashRoot(fs_, hash_root);
    if (!dev_path) {
      AddUnavailable(unavailable_, "files:" + hash_root, "hash root is not an absolute path");
      return;
    }
    if (Excluded(*dev_path)) return;
    // No link is followed, not even in the hash root's own path: on a mounted disk a link
    // "/usr -> /" would otherwise lead the walk onto the host.
    Result<UniqueFd> fd = fs_.Open(*dev_path, RootFs::Want::kDirectory, false);
    if (!fd) {
      AddUnavailable(unavailable_, "files:" + *dev_path, fd.error());
      return;
    }
    struct stat st;
    if (::fstat(fd->get(), &st) != 0) {
      AddError(*dev_path, "cannot stat", errno);
      return;
    }
    if (pseudo_devs_.count(st.st_dev) != 0) return;
    if (!visited_.insert({st.st_dev, st.st_ino}).second) return;  // nested or repeated root
    std::vector<Frame> stack;
    WalkDir(std::move(*fd), {*dev_path, st.st_dev, st.st_ino}, &stack);
    // Depth-first with an explicit stack: directory depth is controlled by the device.
    while (!stack.empty() && !truncated_) {
      if (opt_.stop.stop_requested()) {
        interrupted_ = true;
        return;
      }
      Frame f = std::move(stack.back());
      stack.pop_back();
      UniqueFd dir = OpenFrame(f);
      if (dir.valid()) WalkDir(std::move(dir), f, &stack);
    }
  }

  // Opens a directory found earlier by path; its (dev, ino) must be the one seen then, so
  // an intermediate component swapped for a link since cannot redirect the walk.
  UniqueFd OpenFrame(const Frame& f) {
    std::string host = fs_.HostPath(f.path);
    UniqueFd fd(OpenAtNoAtime(AT_FDCWD, host.c_str(),
                              O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
    if (!fd.valid()) {
      if (errno != ENOENT) AddError(f.path, "cannot open directory", errno);  // ENOENT: deleted meanwhile
      return {};
    }
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) {
      AddError(f.path, "cannot stat", errno);
      return {};
    }
    if (st.st_dev != f.dev || st.st_ino != f.ino) {
      AddError(f.path, "changed during the walk", ESTALE);
      return {};
    }
    return fd;
  }

  void WalkDir(UniqueFd fd, const Frame& f, std::vector<Frame>* stack) {
    if (PseudoMagic(fd.get())) return;
    DirPtr dir(::fdopendir(fd.get()));
    if (!dir) {
      AddError(f.path, "cannot read directory", errno);
      return;
    }
    fd.release();
    std::vector<std::pair<std::string, unsigned char>> entries;
    for (;;) {
      errno = 0;
      dirent* de = ::readdir(dir.get());
      if (de == nullptr) {
        if (errno != 0) AddError(f.path, "cannot read directory", errno);
        break;
      }
      if (std::strcmp(de->d_name, ".") == 0 || std::strcmp(de->d_name, "..") == 0) continue;
      entries.emplace_back(de->d_name, de->d_type);
    }
    std::sort(entries.begin(), entries.end());
    int dfd = ::dirfd(dir.get());
    std::vector<Frame> subdirs;
    for (const auto& [name, type] : entries) {
      if (truncated_) return;
      if (opt_.stop.stop_requested()) {
        interrupted_ = true;
        return;
      }
      std::string child = f.path == "/" ? "/" + name : f.path + "/" + name;
      if (type == DT_LNK || type == DT_FIFO || type == DT_SOCK || type == DT_CHR || type == DT_BLK) {
        continue;  // links are never followed; special files are never opened
      }
      if (Excluded(child)) continue;
      if (type == DT_REG) {
        ExamineFile(dfd, name, child);
        continue;
      }
      struct stat st;
      if (::fstatat(dfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT) != 0) {
        if (errno != ENOENT) AddError(child, "cannot stat", errno);
        continue;
      }
      if (S_ISREG(st.st_mode)) {
        ExamineFile(dfd, name, child);
      } else if (S_ISDIR(st.st_mode)) {
        if (pseudo_devs_.count(st.st_dev) != 0) continue;
        // A (dev, ino) seen before is a bind mount or a repeated hash root.
        if (!visited_.insert({st.st_dev, st.st_ino}).second) continue;
        subdirs.push_back({std::move(child), st.st_dev, st.st_ino});
      }
    }
    // Reversed so that the stack pops them in name order.
    for (auto it = subdirs.rbegin(); it != subdirs.rend(); ++it) stack->push_back(std::move(*it));
  }

  // Reads up to n bytes (fewer only at EOF); -1 with errno on error.
  static ssize_t ReadFull(int fd, unsigned char* buf, size_t n) {
    size_t got = 0;
    while (got < n) {
      ssize_t r = ::read(fd, buf + got, n - got);
      if (r < 0) {
        if (errno == EINTR) continue;
        return -1;
      }
      if (r == 0) break;
      got += static_cast<size_t>(r);
    }
    return static_cast<ssize_t>(got);
  }

  static const char* Kind(const unsigned char* head, size_t n) {
    if (n >= 4 && std::memcmp(head, "\x7f" "ELF", 4) == 0) return "elf";
    if (n >= 2 && head[0] == 'M' && head[1] == 'Z') return "pe";
    if (n >= 2 && head[0] == '#' && head[1] == '!') return "script";
    return "other";
  }

  json Entry(const std::string& device_path, const struct stat& st, const char* kind) {
    return {{"path", Text(device_path)},
            {"size", static_cast<uint64_t>(st.st_size)},
            {"mtime", Rfc3339(st.st_mtim.tv_sec)},
            {"mode", fmt::format("{:04o}", st.st_mode & 07777)},
            {"kind", kind},
            {"sha256", nullptr}};
  }

  // Budget check before listing one more file; false once the budget is spent.
  bool TakeBudget() {
    if (files_.size() >= opt_.max_hashed_files) {
      truncated_ = true;
      return false;
    }
    return true;
  }

  void ExamineFile(int dfd, const std::string& name, const std::string& device_path) {
    // O_NONBLOCK|O_NOCTTY: if a FIFO or terminal replaced the file since readdir, opening
    // it neither blocks nor acquires it; fstat then rejects it.
    UniqueFd fd(OpenAtNoAtime(dfd, name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY));
    if (!fd.valid()) {
      int err = errno;
      if (err == ELOOP || err == ENOENT) return;  // became a link, or deleted, meanwhile
      struct stat st;
      if (::fstatat(dfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
          (st.st_mode & 0111) != 0) {
        if (!TakeBudget()) return;
        json e = Entry(device_path, st, "other");
        e["reason"] = fmt::format("cannot open: {}", ErrnoText(err));
        files_.push_back(std::move(e));
      } else {
        AddError(device_path, "cannot open", err);  // its magic, and so its kind, is unknown
      }
      return;
    }
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) {
      AddError(device_path, "cannot stat", errno);
      return;
    }
    if (!S_ISREG(st.st_mode)) return;
    unsigned char* buf = buf_.data();
    ssize_t head = ReadFull(fd.get(), buf, 4);
    int read_err = head < 0 ? errno : 0;
    if (head < 0 && (st.st_mode & 0111) == 0) {
      AddError(device_path, "read failed", read_err);
      return;
    }
    size_t head_n = head < 0 ? 0 : static_cast<size_t>(head);
    const char* kind = Kind(buf, head_n);
    bool executable = (st.st_mode & 0111) != 0;
    if (!executable && std::strcmp(kind, "elf") != 0 && std::strcmp(kind, "pe") != 0) return;
    if (!TakeBudget()) return;
    json e = Entry(device_path, st, kind);
    const uint64_t max = opt_.max_file_size;
    if (head < 0) {
      e["reason"] = fmt::format("read failed: {}", ErrnoText(read_err));
    } else if (max != 0 && static_cast<uint64_t>(st.st_size) > max) {
      e["reason"] = "too-large";
    } else {
      std::string why;
      std::optional<std::string> digest = HashRest(fd.get(), head_n, &why);
      if (interrupted_) return;  // a file hashed in part is not listed
      if (digest) {
        e["sha256"] = std::move(*digest);
      } else {
        e["reason"] = std::move(why);
      }
    }
    files_.push_back(std::move(e));
  }

  // SHA-256 of the file: the `head_n` bytes already in buf_, then the rest of fd.
  std::optional<std::string> HashRest(int fd, size_t head_n, std::string* why) {
    MdCtxPtr ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1 ||
        EVP_DigestUpdate(ctx.get(), buf_.data(), head_n) != 1) {
      *why = "hash-error";
      return std::nullopt;
    }
    uint64_t total = head_n;
    const uint64_t max = opt_.max_file_size;
    for (;;) {
      if (opt_.stop.stop_requested()) {
        interrupted_ = true;
        return std::nullopt;
      }
      ssize_t n = ::read(fd, buf_.data(), buf_.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        *why = fmt::format("read failed: {}", ErrnoText(errno));
        return std::nullopt;
      }
      if (n == 0) break;
      total += static_cast<uint64_t>(n);
      if (max != 0 && total > max) {  // grew past the limit while being read
        *why = "too-large";
        return std::nullopt;
      }
      if (EVP_DigestUpdate(ctx.get(), buf_.data(), static_cast<size_t>(n)) != 1) {
        *why = "hash-error";
        return std::nullopt;
      }
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx.get(), md, &len) != 1) {
      *why = "hash-error";
      return std::nullopt;
    }
    std::string hex;
    hex.reserve(len * 2);
    for (unsigned int i = 0; i < len; ++i) hex += fmt::format("{:02x}", md[i]);
    return hex;
  }

  const RootFs& fs_;
  const InventoryOptions& opt_;
  json* unavailable_;
  std::vector<unsigned char> buf_;
  std::vector<std::string> excludes_;
  std::set<dev_t> pseudo_devs_;
  std::set<std::pair<dev_t, ino_t>> visited_;
  json files_ = json::array();
  bool truncated_ = false;
  bool interrupted_ = false;
  uint64_t errors_ = 0;
};

std::string DeviceIdFrom(const RootFs& fs) {
  std::string ignored;
  std::string id;
  if (std::optional<std::string> m = MachineId(fs, &ignored)) {
    id = *m;
  } else if (Result<std::string> uuid = fs.ReadValue("/sys/class/dmi/id/product_uuid");
             uuid && PlausibleUuid(*uuid)) {
    id = *uuid;
  } else if (std::optional<std::string> h = HostName(fs, &ignored)) {
    id = *h;
  } else {
    id = "unknown";
  }
  return "D-" + Sha256Hex("avkey-device:" + id).substr(0, 24);
}

// Runs one section; an exception (bad_alloc on a hostile file) costs that fact only.
template <typename F>
void Section(json* unavailable, std::string_view item, F&& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    AddUnavailable(unavailable, item, fmt::format("internal error: {}", e.what()));
  }
}

}  // namespace

std::string DeviceId(const std::string& root) {
  try {
    return DeviceIdFrom(RootFs(root));
  } catch (const std::exception&) {
    return "D-" + Sha256Hex("avkey-device:unknown").substr(0, 24);
  }
}

nlohmann::json CollectInventory(const InventoryOptions& options) {
  json doc = json::object();
  json unavailable = json::array();
  try {
    RootFs fs(options.root);
    doc["format"] = "avkey-inventory/1";
    doc["root"] = Text(options.root);
    doc["collected_at"] = Rfc3339(std::time(nullptr));
    doc["device_id"] = DeviceIdFrom(fs);
    Section(&unavailable, "hostname", [&] {
      std::string why;
      std::optional<std::string> h = HostName(fs, &why);
      doc["hostname"] = h ? json(Text(*h)) : json(nullptr);
      if (!h) AddUnavailable(&unavailable, "hostname", why.empty() ? "not set" : why);
    });
    Section(&unavailable, "machine_id", [&] {
      std::string why;
      std::optional<std::string> m = MachineId(fs, &why);
      doc["machine_id"] = m ? json(Text(*m)) : json(nullptr);
      if (!m) AddUnavailable(&unavailable, "machine_id", why.empty() ? "uninitialized" : why);
    });
    Section(&unavailable, "os_release", [&] {
      doc["os_release"] = nullptr;
      Result<std::string> text = fs.ReadFile("/etc/os-release");
      if (!text) text = fs.ReadFile("/usr/lib/os-release");  // os-release(5) fallback
      if (!text) {
        AddUnavailable(&unavailable, "os_release", text.error());
        return;
      }
      std::map<std::string, std::string> kv = ParseOsRelease(*text);
      json os = json::object();
      for (const char* key : {"ID", "VERSION_ID", "PRETTY_NAME"}) {
        auto it = kv.find(key);
        if (it != kv.end()) os[key] = Text(it->second);
      }
      doc["os_release"] = std::move(os);
    });
    Section(&unavailable, "kernel", [&] { doc["kernel"] = CollectKernel(fs, &unavailable); });
    Section(&unavailable, "cpu", [&] { doc["cpu"] = CollectCpu(fs, &unavailable); });
    Section(&unavailable, "memory_bytes", [&] {
      doc["memory_bytes"] = nullptr;
      Result<std::string> text = fs.ReadFile("/proc/meminfo");
      std::optional<uint64_t> total = text ? MemTotal(*text) : std::nullopt;
      if (total) {
        doc["memory_bytes"] = *total;
      } else {
        AddUnavailable(&unavailable, "memory_bytes",
                       text ? "/proc/meminfo: no MemTotal line" : text.error());
      }
    });
    Section(&unavailable, "disks", [&] { doc["disks"] = CollectDisks(fs, &unavailable); });
    Section(&unavailable, "mounts", [&] { doc["mounts"] = CollectMounts(fs, &unavailable); });
    Section(&unavailable, "network", [&] { doc["network"] = CollectNetwork(fs, &unavailable); });
    if (options.file_hashes) {
      Section(&unavailable, "files", [&] {
        ExecutableWalk walk(fs, options, &unavailable);
        walk.Run();
        walk.WriteTo(&doc);
      });
    }
  } catch (const std::exception& e) {
    AddUnavailable(&unavailable, "inventory", fmt::format("internal error: {}", e.what()));
  }
  doc["unavailable"] = std::move(unavailable);
  return doc;
}

Result<std::string> GzipCompress(std::string_view data) {
  z_stream z{};
  // windowBits 15 + 16: the gzip wrapper (RFC 1952) rather than zlib's own (RFC 1950).
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return Fail("gzip: cannot initialise zlib");
  }
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&z, deflateEnd);
  std::string out;
  out.resize(deflateBound(&z, data.size()) + 64);
  size_t used = 0;
  const auto* next = reinterpret_cast<const Bytef*>(data.data());
  size_t left = data.size();
  int ret = Z_OK;
  do {
    if (z.avail_in == 0 && left > 0) {
      size_t chunk = std::min(left, kZlibChunk);
      z.next_in = next;
      z.avail_in = static_cast<uInt>(chunk);
      next += chunk;
      left -= chunk;
    }
    if (used == out.size()) out.resize(out.size() * 2);
    size_t room = std::min(out.size() - used, kZlibChunk);
    z.next_out = reinterpret_cast<Bytef*>(out.data() + used);
    z.avail_out = static_cast<uInt>(room);
    ret = deflate(&z, left == 0 ? Z_FINISH : Z_NO_FLUSH);
    used += room - z.avail_out;
    if (ret == Z_STREAM_ERROR) return Fail("gzip: zlib stream error");
  } while (ret != Z_STREAM_END);
  out.resize(used);
  return out;
}

Result<std::string> GzipDecompress(std::string_view data, uint64_t max_output) {
  if (data.empty()) return Fail("gzip: empty input");
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) return Fail("gzip: cannot initialise zlib");
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&z, inflateEnd);
  std::string out;
  const auto* next = reinterpret_cast<const Bytef*>(data.data());
  size_t left = data.size();
  auto refill = [&] {
    if (z.avail_in == 0 && left > 0) {
      size_t chunk = std::min(left, kZlibChunk);
      z.next_in = next;
      z.avail_in = static_cast<uInt>(chunk);
      next += chunk;
      left -= chunk;
    }
  };
  // Inflate into a fixed buffer and append: `out` never holds more than max_output bytes,
  // however large the declared or actual expansion.
  std::vector<unsigned char> buf(64u << 10);
  for (;;) {
    refill();
    z.next_out = buf.data();
    z.avail_out = static_cast<uInt>(buf.size());
    int ret = inflate(&z, Z_NO_FLUSH);
    size_t produced = buf.size() - z.avail_out;
    if (produced > max_output - out.size()) {
      return Fail(fmt::format("gzip: output larger than {} bytes", max_output));
    }
    out.append(reinterpret_cast<const char*>(buf.data()), produced);
    if (ret == Z_STREAM_END) {
      refill();
      if (z.avail_in == 0) return out;
      if (z.next_in[0] != 0x1f) {  // not the start of another member (RFC 1952 2.2)
        return Fail(fmt::format("gzip: {} bytes of trailing data", z.avail_in + left));
      }
      if (inflateReset(&z) != Z_OK) return Fail("gzip: zlib stream error");
      continue;
    }
    if (ret == Z_OK) continue;
    if (ret == Z_BUF_ERROR && z.avail_in == 0 && left == 0) return Fail("gzip: truncated input");
    return Fail(fmt::format("gzip: corrupt input ({})", z.msg != nullptr ? z.msg : zError(ret)));
  }
}

}  // namespace avkey::key
