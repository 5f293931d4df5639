// Fuzzes the quarantine record reader and restore: <id>.json and <id>.bin sit on the key,
// unsigned, and a hostile device (or a damaged key) may have written them. `avkey quarantine
// list/restore` and the console's key sync read them.
//
// Input: the record's text, a NUL byte, then content bytes. Each input runs twice:
//   1. as given: the content is the .bin file itself (magic, header and decoding checks);
//   2. with the content encoded as a real quarantine copy of those bytes, and the record's
//      format, id, sha256 and size made to match, so that restore goes all the way.
// Contract checks beyond memory safety: a restore that succeeds wrote exactly the content
// (variant 2) with no set-user-ID, set-group-ID or sticky bit, and only at the place asked.
//   fuzz/run.sh 60 quarantine_fuzz     (seeds: fuzz/make_seeds.py)
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>

#include "avkey/key/crypto.h"
#include "avkey/key/quarantine.h"
#include "nlohmann/json.hpp"

namespace {
namespace fs = std::filesystem;
const std::string kId = "Q-20261129T000000Z-0000abcd";

struct Dirs {
  fs::path root, q, out;
  Dirs() {
    char tmpl[] = "/tmp/avkey-quarantine-fuzz-XXXXXX";
    root = ::mkdtemp(tmpl);
    q = root / "quarantine";
    out = root / "out";
  }
};

Dirs& D() {
  static Dirs d;
  return d;
}

void Write(const fs::path& p, std::string_view data) {
  std::ofstream(p, std::ios::binary | std::ios::trunc).write(data.data(), static_cast<std::streamsize>(data.size()));
}

std::string ReadAll(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// The copy as Quarantine::Put writes it (docs/key-format.md, "Quarantine"): magic, then the
// content under AES-128-CTR with a key derived from the id.
std::string Encode(std::string_view content) {
  std::string d = "avkey-quarantine/1";
  d.push_back('\0');
  d += kId;
  avkey::key::Sha256Digest h = avkey::key::Sha256(d);
  std::string key(reinterpret_cast<const char*>(h.data()), 16);
  std::string body(content);
  std::span<uint8_t> span(reinterpret_cast<uint8_t*>(body.data()), body.size());
  if (!avkey::key::CtrXor(key, 0, span).ok()) std::abort();
  return std::string("AVKEYQ1\0", 8) + body;
}

// Lists, reads and restores the one item in the quarantine dir; returns the restored bytes
// when the restore succeeded.
std::optional<std::string> Exercise(const std::string& record, std::string_view bin) {
  Dirs& d = D();
  fs::remove_all(d.q);
  fs::remove_all(d.out);
  fs::create_directories(d.q);
  fs::create_directories(d.out);
  Write(d.q / (kId + ".json"), record);
  Write(d.q / (kId + ".bin"), bin);
  avkey::key::Quarantine q(avkey::platform::Env::Default(), d.q);
  std::vector<std::string> problems;
  auto items = q.List(&problems);
  if (items.size() + problems.size() != 1) std::abort();
  (void)q.Get(kId);
  fs::path target = d.out / "restored";
  auto restored = q.Restore(kId, target);
  // Nothing may appear in out/ but the target, and only when the restore succeeded.
  size_t entries = 0;
  for (const auto& e : fs::directory_iterator(d.out)) {
    (void)e;
    ++entries;
  }
  if (entries != (restored ? 1u : 0u)) std::abort();
  if (!restored) return std::nullopt;
  if (*restored != target.string()) std::abort();
  struct stat st;
  if (::lstat(target.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 07000) != 0) std::abort();
  // Restoring twice must refuse: the target exists.
  if (q.Restore(kId, target)) std::abort();
  return ReadAll(target);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t nul = in.find('\0');
  std::string record(in.substr(0, nul));
  std::string_view content = nul == std::string_view::npos ? std::string_view() : in.substr(nul + 1);

  (void)Exercise(record, content);

  nlohmann::json rec = nlohmann::json::parse(record, nullptr, /*allow_exceptions=*/false);
  if (!rec.is_object()) return 0;
  rec["format"] = "avkey-quarantine/1";
  rec["id"] = kId;
  rec["sha256"] = avkey::key::Sha256Hex(content);
  rec["size"] = content.size();
  if (!rec.contains("original_path")) rec["original_path"] = "/original";
  auto restored = Exercise(rec.dump(), Encode(content));
  if (restored && *restored != content) std::abort();
  return 0;
}
