// Compound File Binary ([MS-CFB] §2). Integers little-endian. Header (512 bytes):
//   0x00 signature[8]  0x1E u16 sector_shift (9 or 12)  0x20 u16 mini_shift (6)
//   0x2C u32 fat_sectors  0x30 u32 first_dir  0x38 u32 mini_cutoff (4096)
//   0x3C u32 first_minifat  0x40 u32 minifat_sectors  0x44 u32 first_difat
//   0x48 u32 difat_sectors  0x4C u32 difat[109]
// Sector n lives at (n + 1) << sector_shift. Directory entries are 128 bytes:
//   0x00 utf16 name[32]  0x40 u16 name_bytes  0x42 u8 type (1 storage, 2 stream, 5 root)
//   0x44 u32 left  0x48 u32 right  0x4C u32 child  0x74 u32 start  0x78 u64 size
// Every chain walk takes at most one step per sector of the file, so a FAT loop
// costs at most one pass over the file and every table is at most the file's size.
#include "scan/ole2.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "scan/pdf.h"

namespace avkey::scan {
namespace {

using Bytes = std::span<const uint8_t>;
constexpr uint8_t kMagic[8] = {0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1};
constexpr uint32_t kEndOfChain = 0xfffffffe;
constexpr uint32_t kFree = 0xffffffff;
constexpr uint32_t kNoStream = 0xffffffff;
constexpr size_t kMaxPathDepth = 8;  // storages named in a child's path

uint16_t Le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }
uint32_t Le32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

class Cfb {
 public:
  Cfb(Bytes data, ChildSink& sink) : data_(data), sink_(sink) {}

  void Run();

 private:
  // Sector n, possibly short at the end of the file; empty if outside it.
  Bytes Sector(uint32_t n) const {
    uint64_t off = (uint64_t{n} + 1) << shift_;
    if (off >= data_.size()) return {};
    return data_.subspan(static_cast<size_t>(off), std::min<size_t>(ssize_, data_.size() - static_cast<size_t>(off)));
  }
  void Corrupt(const std::string& what) {
    if (!reported_) sink_.Problem("corrupt-archive", "OLE2 " + what);
    reported_ = true;
  }
  // Appends the chain from `start` to *out, at most `limit` bytes. Returns false
  // (after reporting) if the chain is broken or loops before reaching `limit`.
  bool ReadChain(uint32_t start, uint64_t limit, std::vector<uint8_t>* out, const char* what);
  bool ReadMiniChain(uint32_t start, uint64_t limit, std::vector<uint8_t>* out);
  bool EmitStream(std::string name, uint32_t start, uint64_t size, bool mini, bool* keep_going);
  void PowerPointObjects(Bytes stream, bool* keep_going);

  Bytes data_;
  ChildSink& sink_;
  uint32_t shift_ = 9;
  size_t ssize_ = 512;
  uint32_t nsect_ = 0;
  std::vector<uint32_t> fat_, minifat_;
  std::vector<uint8_t> ministream_;
  bool reported_ = false;
};

bool Cfb::ReadChain(uint32_t start, uint64_t limit, std::vector<uint8_t>* out, const char* what) {
  uint32_t cur = start;
  uint64_t got = 0;
  for (uint32_t steps = 0; got < limit; ++steps) {
    if (cur == kEndOfChain) return true;
    if (cur >= nsect_ || cur >= fat_.size() || steps >= nsect_) {
      Corrupt(fmt::format("{} chain is broken at sector {}", what, cur));
      return false;
    }
    Bytes s = Sector(cur);
    size_t take = static_cast<size_t>(std::min<uint64_t>(s.size(), limit - got));
    out->insert(out->end(), s.begin(), s.begin() + static_cast<std::ptrdiff_t>(take));
    got += take;
    cur = fat_[cur];
  }
  return true;
}

bool Cfb::ReadMiniChain(uint32_t start, uint64_t limit, std::vector<uint8_t>* out) {
  const size_t kMini = 64;
  uint32_t cur = start;
  uint64_t got = 0;
  size_t nmini = ministream_.size() / kMini;
  for (size_t steps = 0; got < limit; ++steps) {
    if (cur == kEndOfChain) return true;
    if (cur >= nmini || cur >= minifat_.size() || steps >= nmini) {
      Corrupt(fmt::format("mini stream chain is broken at sector {}", cur));
      return false;
    }
    size_t take = static_cast<size_t>(std::min<uint64_t>(kMini, limit - got));
    auto from = ministream_.begin() + static_cast<std::ptrdiff_t>(size_t{cur} * kMini);
    out->insert(out->end(), from, from + static_cast<std::ptrdiff_t>(take));
    got += take;
    cur = minifat_[cur];
  }
  return true;
}

bool Cfb::EmitStream(std::string name, uint32_t start, uint64_t size, bool mini, bool* keep_going) {
  if (size > sink_.Room()) {
    sink_.Overflow();
    *keep_going = false;
    return false;
  }
  std::vector<uint8_t>& out = sink_.Buffer();
  out.clear();
  if (mini) {
    ReadMiniChain(start, size, &out);
  } else {
    ReadChain(start, size, &out, "stream");
  }
  if (out.size() < size) Corrupt(fmt::format("stream '{}' is shorter than its size", name));
  if (out.empty()) return true;
  bool is_native = name.ends_with("\x01Ole10Native");
  bool is_ppt = name == "PowerPoint Document";
  if (!sink_.Child(name, out)) {
    *keep_going = false;
    return false;
  }
  // sink_.Child() may have reused other buffers, never this one: out is intact.
  if (is_native) {
    Bytes payload;
    std::string label;
    if (ParseOle10Native(out, true, &payload, &label) && !payload.empty()) {
      if (!sink_.Child(label, payload)) *keep_going = false;
    }
  } else if (is_ppt) {
    std::vector<uint8_t> copy(out.begin(), out.end());  // Buffer() is reused below
    PowerPointObjects(copy, keep_going);
  }
  return *keep_going;
}

// [MS-PPT] records: u16 ver_instance (ver = low 4 bits; 0xF: a container whose body is
// more records), u16 type, u32 length. ExOleObjStg (0x1011) holds an embedded object,
// zlib-compressed after a u32 size when instance == 1. Walked flat, no recursion.
void Cfb::PowerPointObjects(Bytes stream, bool* keep_going) {
  size_t pos = 0;
  unsigned n = 0;
  while (*keep_going && pos + 8 <= stream.size()) {
    uint16_t vi = Le16(&stream[pos]);
    uint16_t type = Le16(&stream[pos + 2]);
    uint32_t len = Le32(&stream[pos + 4]);
    pos += 8;
    if ((vi & 0xf) == 0xf) continue;  // container: its records follow
    if (len > stream.size() - pos) break;
    if (type == 0x1011) {
      Bytes body = stream.subspan(pos, len);
      std::vector<uint8_t>& out = sink_.Buffer();
      out.clear();
      Bytes obj = body;
      if ((vi >> 4) == 1 && body.size() > 4) {
        DecodeStatus st = InflateZlib(body.subspan(4), &out, sink_.Room());
        if (st == DecodeStatus::kOverflow) {
          sink_.Overflow();
          *keep_going = false;
          return;
        }
        if (st == DecodeStatus::kCorrupt) Corrupt("PowerPoint embedded object does not inflate");
        obj = out;
      }
      if (!obj.empty() && !sink_.Child(fmt::format("ExOleObjStg-{}", ++n), obj)) *keep_going = false;
    }
    pos += len;
  }
}

void Cfb::Run() {
  if (data_.size() < 512 || std::memcmp(data_.data(), kMagic, 8) != 0) return;
  const uint8_t* h = data_.data();
  shift_ = Le16(h + 0x1e);
  if ((shift_ != 9 && shift_ != 12) || Le16(h + 0x20) != 6) {
    Corrupt(fmt::format("header has sector shift {}", shift_));
    return;
  }
  ssize_ = size_t{1} << shift_;
  nsect_ = static_cast<uint32_t>(std::min<uint64_t>(data_.size() / ssize_, 0xfffffff0u));  // header sector excluded
  if (data_.size() % ssize_ == 0 && nsect_ > 0) --nsect_;
  const uint32_t per_sector = static_cast<uint32_t>(ssize_ / 4);

  // FAT sector numbers: 109 in the header, the rest in the DIFAT chain.
  std::vector<uint32_t> fat_sectors;
  for (int i = 0; i < 109; ++i) {
    uint32_t s = Le32(h + 0x4c + 4 * i);
    if (s == kFree || s == kEndOfChain) break;
    fat_sectors.push_back(s);
  }
  uint32_t difat = Le32(h + 0x44);
  for (uint32_t steps = 0; difat != kEndOfChain && difat != kFree && steps < nsect_; ++steps) {
    Bytes s = Sector(difat);
    if (difat >= nsect_ || s.size() < ssize_) {
      Corrupt("DIFAT chain is broken");
      break;
    }
    for (uint32_t i = 0; i + 1 < per_sector; ++i) {
      uint32_t v = Le32(&s[4 * i]);
      if (v != kFree && v != kEndOfChain) fat_sectors.push_back(v);
    }
    difat = Le32(&s[ssize_ - 4]);
    if (fat_sectors.size() > nsect_) break;
  }
  if (fat_sectors.size() > nsect_) fat_sectors.resize(nsect_);  // each is a distinct sector
  fat_.reserve(fat_sectors.size() * per_sector);
  for (uint32_t fs : fat_sectors) {
    Bytes s = Sector(fs);
    if (fs >= nsect_ || s.size() < ssize_) {
      Corrupt(fmt::format("FAT sector {} is outside the file", fs));
      fat_.insert(fat_.end(), per_sector, kFree);
      continue;
    }
    for (uint32_t i = 0; i < per_sector; ++i) fat_.push_back(Le32(&s[4 * i]));
  }

  std::vector<uint8_t> dir;
  ReadChain(Le32(h + 0x30), data_.size(), &dir, "directory");
  size_t nent = dir.size() / 128;
  if (nent == 0) {
    Corrupt("has no directory");
    return;
  }
  auto entry = [&](size_t i) { return &dir[i * 128]; };
  // The root entry: the mini stream's chain and size.
  const uint8_t* root = entry(0);
  uint32_t cutoff = Le32(h + 0x38);
  if (root[0x42] == 5) {
    uint64_t mini_size = Le32(root + 0x78);
    ReadChain(Le32(root + 0x74), std::min<uint64_t>(mini_size, data_.size()), &ministream_, "mini stream");
    std::vector<uint8_t> mf;
    ReadChain(Le32(h + 0x3c), data_.size(), &mf, "miniFAT");
    minifat_.resize(mf.size() / 4);
    for (size_t i = 0; i < minifat_.size(); ++i) minifat_[i] = Le32(&mf[4 * i]);
  }

  // Parents, by walking the storage trees from the root with an explicit stack; each
  // entry is visited once, so a malicious cycle ends the walk, not the scanner.
  std::vector<uint32_t> parent(nent, kNoStream);
  std::vector<bool> seen(nent, false);
  seen[0] = true;
  std::vector<std::pair<uint32_t, uint32_t>> stack;  // (entry, its parent)
  stack.emplace_back(Le32(root + 0x4c), 0);
  while (!stack.empty()) {
    auto [i, par] = stack.back();
    stack.pop_back();
    if (i >= nent || seen[i]) continue;
    seen[i] = true;
    parent[i] = par;
    const uint8_t* e = entry(i);
    stack.emplace_back(Le32(e + 0x44), par);
    stack.emplace_back(Le32(e + 0x48), par);
    if (e[0x42] == 1) stack.emplace_back(Le32(e + 0x4c), i);
  }
  auto name_of = [&](size_t i) {
    const uint8_t* e = entry(i);
    size_t bytes = std::min<size_t>(Le16(e + 0x40), 64);
    std::string name;
    for (size_t k = 0; k + 1 < bytes; k += 2) {
      uint32_t cp = Le16(e + k);
      if (cp == 0) break;
      if (cp < 0x80) {
        name += static_cast<char>(cp);
      } else if (cp < 0x800) {
        name += static_cast<char>(0xc0 | (cp >> 6));
        name += static_cast<char>(0x80 | (cp & 0x3f));
      } else {
        name += static_cast<char>(0xe0 | (cp >> 12));
        name += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        name += static_cast<char>(0x80 | (cp & 0x3f));
      }
    }
    return name.empty() ? fmt::format("entry-{}", i) : name;
  };

  bool keep_going = true;
  for (size_t i = 1; i < nent && keep_going; ++i) {
    const uint8_t* e = entry(i);
    if (e[0x42] != 2) continue;
    uint64_t size = Le32(e + 0x78);
    if (Le16(h + 0x1a) == 4) size |= uint64_t{Le32(e + 0x7c)} << 32;  // v3 files: high half is junk
    if (size == 0) continue;
    std::string path = name_of(i);
    size_t depth = 0;
    for (uint32_t p = parent[i]; p != kNoStream && p != 0 && depth < kMaxPathDepth; p = parent[p], ++depth) {
      path = name_of(p) + "/" + path;
    }
    bool mini = size < cutoff && !ministream_.empty();
    EmitStream(std::move(path), Le32(e + 0x74), size, mini, &keep_going);
  }
}

}  // namespace

bool LooksLikeOle2(Bytes data) { return data.size() >= 512 && std::memcmp(data.data(), kMagic, 8) == 0; }

void ExtractOle2(Bytes data, ChildSink& sink) {
  Cfb cfb(data, sink);
  cfb.Run();
}

// Package layout: [u32 total] u16 type, label\0, source path\0, u32 (0x00030000 or
// other), u32 temp_len, temp path[temp_len], u32 data_size, data.
bool ParseOle10Native(Bytes data, bool with_size_prefix, Bytes* payload, std::string* name) {
  size_t pos = with_size_prefix ? 4 : 0;
  if (pos + 2 > data.size()) return false;
  pos += 2;
  auto cstring = [&](std::string* out) {
    size_t end = pos;
    while (end < data.size() && data[end] != 0 && end - pos < 1024) ++end;
    if (end >= data.size() || data[end] != 0) return false;
    if (out) out->assign(reinterpret_cast<const char*>(&data[pos]), end - pos);
    pos = end + 1;
    return true;
  };
  std::string label, source;
  if (!cstring(&label) || !cstring(&source)) return false;
  if (pos + 8 > data.size()) return false;
  pos += 4;
  uint32_t temp_len = Le32(&data[pos]);
  pos += 4;
  if (temp_len > data.size() - pos) return false;
  pos += temp_len;
  if (pos + 4 > data.size()) return false;
  uint32_t size = Le32(&data[pos]);
  pos += 4;
  if (size > data.size() - pos) return false;
  *payload = data.subspan(pos, size);
  // The label is what the user saw; fall back to the source file's base name.
  std::string n = label.empty() ? source : label;
  size_t slash = n.find_last_of("/\\");
  if (slash != std::string::npos) n = n.substr(slash + 1);
  *name = n.empty() ? "Ole10Native-payload" : n;
  return true;
}

}  // namespace avkey::scan
