// RunScan(): one walker thread feeds a bounded queue of regular files; `jobs` workers
// each own a LayerScanner (engine::Scanner + buffers) and a read buffer; results meet
// in one Collector and are sorted at the end so the report is deterministic.
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fstream>
#include <mutex>
#include <new>
#include <set>
#include <thread>
#include <unordered_map>
#include <utility>

#include "avkey/scan/scan.h"
#include "fmt/format.h"
#include "engine/huge_pages.h"
#include "layers.h"

namespace avkey::scan {
namespace {

using Clock = std::chrono::steady_clock;

struct WorkItem {
  std::string path;
  bool follow = false;  // reached through a symlink we chose to follow: open without O_NOFOLLOW
};

// Bounded MPMC queue; Pop() returns false once closed and drained, or when stopped.
class WorkQueue {
 public:
  explicit WorkQueue(size_t capacity) : capacity_(capacity) {}
  // Blocks while full. Returns false if the scan was stopped.
  bool Push(WorkItem item, const std::stop_token& stop) {
    std::unique_lock lock(mu_);
    while (items_.size() >= capacity_ && !stop.stop_requested()) {
      not_full_.wait_for(lock, std::chrono::milliseconds(100));
    }
    if (stop.stop_requested()) return false;
    items_.push_back(std::move(item));
    not_empty_.notify_one();
    return true;
  }
  bool Pop(WorkItem* item, const std::stop_token& stop) {
    std::unique_lock lock(mu_);
    while (items_.empty() && !closed_ && !stop.stop_requested()) {
      not_empty_.wait_for(lock, std::chrono::milliseconds(100));
    }
    if (stop.stop_requested() || items_.empty()) return false;
    *item = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
    return true;
  }
  void Close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    not_empty_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable not_full_, not_empty_;
  std::deque<WorkItem> items_;
  size_t capacity_;
  bool closed_ = false;
};

// Where every thread's results meet. Events not yet shown to the sink wait in pending_.
class Collector {
 public:
  void AddIncomplete(IncompleteItem item) {
    std::lock_guard lock(mu_);
    pending_incomplete_.push_back(item);
    report_.incomplete.push_back(std::move(item));
  }
  void AddFile(FileResults& r, uint64_t bytes) {
    std::lock_guard lock(mu_);
    report_.counts.files++;
    report_.counts.bytes += bytes;
    report_.counts.members += r.members;
    for (auto& d : r.detections) {
      pending_detections_.push_back(d);
      report_.detections.push_back(std::move(d));
    }
    for (auto& i : r.incomplete) {
      pending_incomplete_.push_back(i);
      report_.incomplete.push_back(std::move(i));
    }
  }
  // Scanned as read, but the file changed meanwhile (see ScanCounts::changed).
  void AddChanged(const std::string& path) {
    std::lock_guard lock(mu_);
    if (report_.changed.size() < ScanReport::kMaxChangedListed) report_.changed.push_back(path);
    report_.counts.changed++;
  }
  void AddBytes(uint64_t bytes) {
    std::lock_guard lock(mu_);
    report_.counts.bytes += bytes;
  }
  void Skip() { skipped_.fetch_add(1, std::memory_order_relaxed); }
  void Found() { found_.fetch_add(1, std::memory_order_relaxed); }
  void WalkDone() { walk_done_.store(true, std::memory_order_relaxed); }
  void SetCurrent(const std::string& path) {
    std::lock_guard lock(mu_);
    current_ = path;
  }
  // Called on RunScan's thread only.
  void Drain(ProgressSink* sink, Clock::time_point start) {
    std::vector<DetectionRecord> dets;
    std::vector<IncompleteItem> incs;
    Progress p;
    {
      std::lock_guard lock(mu_);
      dets.swap(pending_detections_);
      incs.swap(pending_incomplete_);
      p.files = report_.counts.files;
      p.bytes = report_.counts.bytes;
      p.detections = report_.detections.size();
      p.incomplete = report_.incomplete.size();
      p.current_path = current_;
    }
    p.files_found = found_.load(std::memory_order_relaxed);
    p.walk_done = walk_done_.load(std::memory_order_relaxed);
    p.elapsed = Clock::now() - start;
    if (!sink) return;
    for (const auto& d : dets) sink->OnDetection(d);
    for (const auto& i : incs) sink->OnIncomplete(i);
    sink->OnProgress(p);
  }
  ScanReport Take() {
    std::lock_guard lock(mu_);
    report_.counts.skipped = skipped_.load();
    return std::move(report_);
  }

 private:
  std::mutex mu_;
  ScanReport report_;
  std::vector<DetectionRecord> pending_detections_;
  std::vector<IncompleteItem> pending_incomplete_;
  std::string current_;
  std::atomic<uint64_t> skipped_{0};
  std::atomic<uint64_t> found_{0};
  std::atomic<bool> walk_done_{false};
};

IncompleteItem MakeIncomplete(const std::string& path, int err, std::string_view what) {
  IncompleteItem item;
  item.path = path;
  switch (err) {
    case EACCES:
    case EPERM: item.code = "permission-denied"; break;
    case ENOENT:
    case ENOTDIR: item.code = "vanished"; break;
    default: item.code = "io-error"; break;
  }
  item.reason = fmt::format("{} ({}: {})", item.code, what, std::strerror(err));
  return item;
}

// open(2) that also reaches paths longer than PATH_MAX: a tree nested past 4096 bytes is
// legal, easy to make, and a place to hide from tools that stop at ENAMETOOLONG. The
// longest prefix that fits is opened as open() would (symlinks in it followed, as for any
// PATH the user gives), then the rest one component at a time with openat(), following no
// symlink on the way down (the walker found those components as real directories) unless
// `follow` (--follow-symlinks: the walker went through links).
int OpenPath(const std::string& path, int flags, bool follow = false) {
  int fd = ::open(path.c_str(), flags);
  if (fd >= 0 || errno != ENAMETOOLONG) return fd;
  size_t cut = path.rfind('/', PATH_MAX - 1);
  if (cut == std::string::npos || cut == 0) {
    errno = ENAMETOOLONG;
    return -1;
  }
  constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK;
  int dir = ::open(path.substr(0, cut).c_str(), kDirFlags);
  size_t pos = cut + 1;
  while (dir >= 0) {
    size_t slash = path.find('/', pos);
    std::string name = path.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos);
    bool last = slash == std::string::npos || path.find_first_not_of('/', slash) == std::string::npos;
    int next = name.empty() ? ::dup(dir)
                            : ::openat(dir, name.c_str(), last ? flags : kDirFlags | (follow ? 0 : O_NOFOLLOW));
    int err = errno;
    ::close(dir);
    if (last || next < 0) {
      errno = err;
      return next;
    }
    dir = next;
    pos = slash + 1;
  }
  return -1;
}

std::string JoinPath(const std::string& dir, const char* name) {
  if (!dir.empty() && dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

// uid -> user name, read once from /etc/passwd. Not through NSS: a static binary's
// getpwuid() would dlopen the host's NSS modules (shared/static-linking.md).
class Owners {
 public:
  Owners() {
    std::ifstream in("/etc/passwd");
    std::string line;
    while (std::getline(in, line)) {
      size_t c1 = line.find(':');
      if (c1 == std::string::npos) continue;
      size_t c2 = line.find(':', c1 + 1);
      if (c2 == std::string::npos) continue;
      size_t c3 = line.find(':', c2 + 1);
      if (c3 == std::string::npos) continue;
      char* end = nullptr;
      std::string uid = line.substr(c2 + 1, c3 - c2 - 1);
      unsigned long v = std::strtoul(uid.c_str(), &end, 10);
      if (end && *end == '\0' && !uid.empty()) names_.emplace(static_cast<uid_t>(v), line.substr(0, c1));
    }
  }
  std::string_view Name(uid_t uid) const {
    auto it = names_.find(uid);
    return it == names_.end() ? std::string_view() : std::string_view(it->second);
  }

 private:
  std::unordered_map<uid_t, std::string> names_;
};

struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

// Directories whose path is longer are reported "too-deep" and not entered (4x PATH_MAX:
// no real tree comes near; a hostile one is cut before it costs much).
constexpr size_t kMaxWalkPath = 4 * PATH_MAX;

class Walker {
 public:
  Walker(const ScanOptions& opt, WorkQueue& queue, Collector& collector, std::stop_token stop)
      : opt_(opt), queue_(queue), col_(collector), stop_(std::move(stop)) {}

  void Run() {
    for (const auto& root : opt_.paths) {
      if (stop_.stop_requested()) break;
      WalkRoot(root);
    }
    col_.WalkDone();
    queue_.Close();
  }

 private:
  struct Frame {
    std::string path;
    bool follow;
    bool slash = false;  // this is "/" given as PATH: its proc sys dev run are skipped
  };

  void WalkRoot(const std::string& root) {
    struct stat st;
    if (::stat(root.c_str(), &st) != 0) {  // a PATH given by the user is followed
      int err = errno;
      IncompleteItem item = MakeIncomplete(root, err, "cannot open");
      if (err == ENOENT) {
        item.code = "not-found";
        item.reason = "not-found (no such file or directory)";
      }
      col_.AddIncomplete(std::move(item));
      return;
    }
    if (S_ISREG(st.st_mode)) {
      col_.Found();
      queue_.Push({root, true}, stop_);
      return;
    }
    if (!S_ISDIR(st.st_mode)) {
      col_.Skip();
      return;
    }
    root_dev_ = st.st_dev;
    char* real = ::realpath(root.c_str(), nullptr);
    bool slash = real && std::strcmp(real, "/") == 0;
    std::free(real);
    visited_.insert({st.st_dev, st.st_ino});
    std::vector<Frame> stack;
    stack.push_back({root, true, slash});
    // Depth-first with an explicit stack: directory depth is input-controlled.
    while (!stack.empty() && !stop_.stop_requested()) {
      Frame f = std::move(stack.back());
      stack.pop_back();
      ReadDir(f, &stack);
    }
  }

  // Kernel and runtime file systems: endless or blocking content, nothing to scan.
  static bool PseudoFs(const Frame& parent, std::string_view name) {
    return parent.slash && (name == "proc" || name == "sys" || name == "dev" || name == "run");
  }

  bool Excluded(const std::string& path) const {
    for (const auto& g : opt_.excludes) {
      if (MatchesExclude(path, g)) return true;
    }
    return false;
  }

  void ReadDir(const Frame& f, std::vector<Frame>* stack) {
    int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK | (f.follow ? 0 : O_NOFOLLOW);
    int fd = OpenPath(f.path, flags | O_NOATIME, opt_.follow_symlinks);  // leave directory atimes alone too
    if (fd < 0 && errno == EPERM) fd = OpenPath(f.path, flags, opt_.follow_symlinks);
    if (fd < 0) {
      if (errno == ELOOP || errno == ENOTDIR) {  // replaced by a symlink or a file meanwhile
        col_.Skip();
        return;
      }
      col_.AddIncomplete(MakeIncomplete(f.path, errno, "cannot open directory"));
      return;
    }
    DIR* dir = ::fdopendir(fd);
    if (!dir) {
      int err = errno;
      ::close(fd);
      col_.AddIncomplete(MakeIncomplete(f.path, err, "cannot read directory"));
      return;
    }
    std::unique_ptr<DIR, int (*)(DIR*)> guard(dir, ::closedir);
    std::vector<Frame> subdirs;
    for (;;) {
      if (stop_.stop_requested()) return;
      errno = 0;
      dirent* de = ::readdir(dir);
      if (!de) {
        if (errno != 0) col_.AddIncomplete(MakeIncomplete(f.path, errno, "cannot read directory"));
        break;
      }
      const char* name = de->d_name;
      if (std::strcmp(name, ".") == 0 || std::strcmp(name, "..") == 0) continue;
      std::string child = JoinPath(f.path, name);
      if (Excluded(child)) {
        col_.Skip();
        continue;
      }
      if (de->d_type == DT_REG) {
        col_.Found();
        if (!queue_.Push({child, false}, stop_)) return;
        continue;
      }
      struct stat st;
      if (::fstatat(dirfd(dir), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        col_.AddIncomplete(MakeIncomplete(child, errno, "cannot stat"));
        continue;
      }
      bool via_link = false;
      if (S_ISLNK(st.st_mode)) {
        if (!opt_.follow_symlinks || ::fstatat(dirfd(dir), name, &st, 0) != 0) {
          col_.Skip();  // not followed, or dangling
          continue;
        }
        via_link = true;
      }
      if (S_ISREG(st.st_mode)) {
        col_.Found();
        if (!queue_.Push({child, via_link}, stop_)) return;
      } else if (S_ISDIR(st.st_mode)) {
        if (child.size() > kMaxWalkPath) {
          // Past PATH_MAX each level costs an openat() per component above it: a tree nested
          // a million deep (cheap to make) would cost days. Said, not walked.
          col_.AddIncomplete({child, {}, "too-deep",
                              fmt::format("too-deep (path longer than {} bytes; not walked)", kMaxWalkPath)});
          continue;
        }
        if ((opt_.one_file_system && st.st_dev != root_dev_) || PseudoFs(f, name) ||
            !visited_.insert({st.st_dev, st.st_ino}).second) {  // (dev,ino) seen: a loop or a bind mount
          col_.Skip();
          continue;
        }
        subdirs.push_back({std::move(child), via_link});
      } else {
        col_.Skip();  // FIFO, socket, device: never opened
      }
    }
    // Reverse so that the stack pops them in directory order.
    for (auto it = subdirs.rbegin(); it != subdirs.rend(); ++it) stack->push_back(std::move(*it));
  }

  const ScanOptions& opt_;
  WorkQueue& queue_;
  Collector& col_;
  std::stop_token stop_;
  std::set<std::pair<dev_t, ino_t>> visited_;
  dev_t root_dev_ = 0;
};

// A worker's file buffer, in transparent huge pages where the kernel has them
// (engine/huge_pages.h). Fresh memory is what costs here: a first-touched 4 KiB page
// ~14 us on the VMs avkey is measured on (256 MiB memset: 923 ms fresh, 20 ms again), so
// with ordinary pages the buffer had to be kept at its largest (up to 64 MiB per worker,
// most of the peak RSS with two jobs). In 2 MiB pages refilling it costs ~1/50th of
// that, so only kKeep stays between files. Never zero-filled: read() writes every byte
// that is scanned.
class ReadBuffer {
 public:
  static constexpr size_t kKeep = size_t{8} << 20;
  ReadBuffer() = default;
  ReadBuffer(const ReadBuffer&) = delete;
  ReadBuffer& operator=(const ReadBuffer&) = delete;
  ~ReadBuffer() {
    if (data_) engine::huge_pages::Unmap(data_, cap_);
  }
  uint8_t* data() const { return data_; }
  size_t capacity() const { return cap_; }

  // Room for n bytes, keeping the first `keep` bytes of the contents. Throws
  // std::bad_alloc (Worker::Run makes that a scan-error of this file).
  void Reserve(size_t n, size_t keep) {
    n = engine::huge_pages::RoundUp(n);
    if (n <= cap_) return;
    auto* p = static_cast<uint8_t*>(engine::huge_pages::Map(n));
    if (data_) {
      std::memcpy(p, data_, std::min(keep, cap_));
      engine::huge_pages::Unmap(data_, cap_);
    }
    data_ = p;
    cap_ = n;
  }
  // Gives back all but the first kKeep bytes' pages.
  void Shrink() {
    if (cap_ <= kKeep) return;
    ::munmap(data_ + kKeep, cap_ - kKeep);  // both ends on 2 MiB boundaries
    cap_ = kKeep;
  }

 private:
  uint8_t* data_ = nullptr;
  size_t cap_ = 0;
};

class Worker {
 public:
  Worker(const ScanOptions& opt, std::shared_ptr<const engine::Database> db, const Owners& owners,
         WorkQueue& queue, Collector& col, std::stop_token stop)
      : opt_(opt), owners_(owners), queue_(queue), col_(col), stop_(stop),
        layers_(std::move(db), opt.limits, stop) {}

  void Run() {
    WorkItem item;
    while (queue_.Pop(&item, stop_)) {
      try {
        ScanOne(item);
      } catch (const std::exception& e) {  // e.g. bad_alloc on a huge member: that file only
        col_.AddIncomplete({item.path, {}, "scan-error", fmt::format("scan-error ({})", e.what())});
      }
    }
  }

 private:
  void ScanOne(const WorkItem& item) {
    col_.SetCurrent(item.path);
    // O_NONBLOCK: opening a FIFO that replaced a file must not block; fstat then rejects it.
    // O_NOATIME: the device must not be changed, not even its access times (root only).
    int flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | (item.follow ? 0 : O_NOFOLLOW);
    int fd = OpenPath(item.path, flags | O_NOATIME, opt_.follow_symlinks);
    if (fd < 0 && errno == EPERM) fd = OpenPath(item.path, flags, opt_.follow_symlinks);
    if (fd < 0) {
      if (errno == ELOOP) {  // became a symlink since the walker saw it
        col_.Skip();
        return;
      }
      col_.AddIncomplete(MakeIncomplete(item.path, errno, "cannot open"));
      return;
    }
    FdCloser closer{fd};
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      col_.AddIncomplete(MakeIncomplete(item.path, errno, "cannot stat"));
      return;
    }
    if (!S_ISREG(st.st_mode)) {
      col_.Skip();
      return;
    }
    const uint64_t max = opt_.max_file_size;
    if (max != 0 && static_cast<uint64_t>(st.st_size) > max) {
      col_.AddIncomplete({item.path, {}, "too-large",
                          fmt::format("too-large ({} bytes, over the {} byte limit)", st.st_size, max)});
      return;
    }
    // Read the whole file once into the reusable buffer (the engine scans a span). The
    // buffer is sized st_size + 1 up front so that the final read() that returns 0 needs
    // no reallocation; it grows (doubling) only if the file grows while being read.
    uint64_t total = 0;
    buf_.Reserve(static_cast<size_t>(st.st_size) + 1, 0);
    for (;;) {
      if (total == buf_.capacity()) buf_.Reserve(buf_.capacity() * 2, total);
      ssize_t n = ::read(fd, buf_.data() + total, buf_.capacity() - total);
      if (n < 0) {
        if (errno == EINTR) continue;
        col_.AddBytes(total);
        col_.AddIncomplete(MakeIncomplete(item.path, errno, "read failed"));
        return;
      }
      if (n == 0) break;
      total += static_cast<uint64_t>(n);
      if (max != 0 && total > max) {
        col_.AddBytes(total);
        col_.AddIncomplete({item.path, {}, "too-large",
                            fmt::format("too-large (grew past the {} byte limit while read)", max)});
        return;
      }
      if (stop_.stop_requested()) return;
    }
    // A file written while it was read (a log, a download) is scanned as read, and said so.
    struct stat now;
    if (::fstat(fd, &now) == 0 &&
        (total != static_cast<uint64_t>(st.st_size) || now.st_size != st.st_size ||
         now.st_mtim.tv_sec != st.st_mtim.tv_sec || now.st_mtim.tv_nsec != st.st_mtim.tv_nsec)) {
      col_.AddChanged(item.path);
    }
    results_.clear();
    layers_.ScanFile(item.path, owners_.Name(st.st_uid),
                     std::span<const uint8_t>(buf_.data(), static_cast<size_t>(total)), &results_);
    col_.AddFile(results_, total);
    buf_.Shrink();  // do not keep a huge buffer for the small files that follow
  }

  const ScanOptions& opt_;
  const Owners& owners_;
  WorkQueue& queue_;
  Collector& col_;
  std::stop_token stop_;
  LayerScanner layers_;
  ReadBuffer buf_;
  FileResults results_;
};

template <typename T>
bool ChainLess(const T& a, const T& b) {
  return std::tie(a.path, a.members) < std::tie(b.path, b.members);
}

}  // namespace

ScanReport RunScan(const ScanOptions& options, std::shared_ptr<const engine::Database> db,
                   ProgressSink* sink) {
  const auto wall_start = std::chrono::system_clock::now();
  const auto start = Clock::now();
  unsigned jobs = options.jobs;
  if (jobs == 0) {
    long n = ::sysconf(_SC_NPROCESSORS_ONLN);
    jobs = n > 0 ? static_cast<unsigned>(n) : 1;
  }
  // Our own stop source joins the caller's, so that threads end on either.
  std::stop_source stop;
  std::stop_callback forward(options.stop, [&stop] { stop.request_stop(); });

  Owners owners;
  WorkQueue queue(256 * static_cast<size_t>(jobs));
  Collector col;
  std::atomic<unsigned> running{jobs + 1};
  std::mutex done_mu;
  std::condition_variable done_cv;
  auto finished = [&] {
    std::lock_guard lock(done_mu);
    --running;
    done_cv.notify_all();
  };
  {
    std::vector<std::jthread> threads;
    threads.emplace_back([&] {
      try {
        Walker(options, queue, col, stop.get_token()).Run();
      } catch (const std::exception& e) {
        col.AddIncomplete({"", {}, "io-error", fmt::format("io-error (walker: {})", e.what())});
        queue.Close();
      }
      finished();
    });
    for (unsigned i = 0; i < jobs; ++i) {
      threads.emplace_back([&] {
        try {
          Worker(options, db, owners, queue, col, stop.get_token()).Run();
        } catch (const std::exception& e) {
          col.AddIncomplete({"", {}, "scan-error", fmt::format("scan-error (worker: {})", e.what())});
        }
        finished();
      });
    }
    std::unique_lock lock(done_mu);
    while (running.load() > 0) {
      done_cv.wait_for(lock, std::chrono::milliseconds(200));
      lock.unlock();
      col.Drain(sink, start);
      lock.lock();
    }
  }
  col.Drain(sink, start);
  ScanReport report = col.Take();
  report.interrupted = stop.stop_requested();
  if (report.interrupted) {
    report.incomplete.push_back({"", {}, "interrupted", "interrupted (the scan was stopped before the end)"});
  }
  std::sort(report.detections.begin(), report.detections.end(),
            [](const DetectionRecord& a, const DetectionRecord& b) {
              if (ChainLess(a, b)) return true;
              if (ChainLess(b, a)) return false;
              return a.signature < b.signature;
            });
  std::sort(report.incomplete.begin(), report.incomplete.end(),
            [](const IncompleteItem& a, const IncompleteItem& b) {
              if (ChainLess(a, b)) return true;
              if (ChainLess(b, a)) return false;
              return a.reason < b.reason;
            });
  std::sort(report.changed.begin(), report.changed.end());
  report.counts.incomplete = report.incomplete.size();
  report.counts.detections = report.detections.size();
  report.started = wall_start;
  report.finished = std::chrono::system_clock::now();
  return report;
}

}  // namespace avkey::scan
