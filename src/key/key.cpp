#include "avkey/key/key.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>

#include "avkey/key/crypto.h"
#include "avkey/key/policy.h"
#include "avkey/key/store.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace avkey::key {
namespace {

constexpr uint64_t kSmallFile = 1 << 20;  // key.json, manifests, policies, signatures
using platform::JoinPath;

Result<std::string> ReadSecret(const std::string& path) {
  auto text = platform::ReadFile(path, kSmallFile);
  if (!text) return Fail(text.error());
  std::string_view t = *text;
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.remove_suffix(1);
  auto raw = FromHex(t);
  if (!raw || raw->size() != 32) return Fail(path + ": not 64 hex digits");
  return *raw;
}

bool ValidKeyId(std::string_view id) {
  if (id.size() != 18 || id.substr(0, 2) != "K-") return false;
  return std::all_of(id.begin() + 2, id.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

struct SignerFiles {
  SigningKey key;
  std::string name;
};

// Loads the signer in `dir`, generating it (mode 0600) when absent.
Result<SignerFiles> LoadOrCreateSigner(platform::Env* env, const std::string& dir, const std::string& name,
                                       bool create) {
  std::string pem_path = JoinPath(dir, "signer.pem");
  auto pem = platform::ReadFile(pem_path, kSmallFile);
  if (pem) {
    auto k = SigningKey::FromPem(*pem);
    if (!k) return Fail(pem_path + ": " + k.error());
    auto stored_name = platform::ReadFile(JoinPath(dir, "name"), kSmallFile);
    std::string n = stored_name ? *stored_name : name;
    while (!n.empty() && n.back() == '\n') n.pop_back();
    return SignerFiles{std::move(*k), n};
  }
  if (!create) return Fail(fmt::format("{}: no signer here ({})", dir, pem.error()));
  Status s = platform::MakeDirs(JoinPath(dir, "keys"), 0700);
  if (!s.ok()) return Fail(s.message());
  auto k = SigningKey::Generate();
  if (!k) return Fail(k.error());
  s = platform::WriteFileDurably(env, pem_path, k->ToPem(), 0600);
  if (s.ok()) s = platform::WriteFileDurably(env, JoinPath(dir, "name"), name + "\n", 0644);
  if (!s.ok()) return Fail(s.message());
  return SignerFiles{std::move(*k), name};
}

// Checks that the signer's public key is the one the key trusts.
Result<SignerFiles> SignerForKey(platform::Env* env, const KeyInfo& key, const std::string& signer_dir) {
  auto signer = LoadOrCreateSigner(env, signer_dir, "", false);
  if (!signer) return signer;
  if (signer->key.PublicKey() != key.console_public_key) {
    return Fail(fmt::format("{}: this signer is not the console {} trusts ({})", signer_dir, key.key_id,
                            key.console));
  }
  return signer;
}

// Removes a generation directory and the files in it, never following a symlink: the key
// may have been rewritten by a hostile device (gen-1 -> the console's home must not empty
// the console's home). A symlink is removed itself.
Status RemoveTree(const std::string& dir) {
  struct stat st;
  if (::lstat(dir.c_str(), &st) != 0) return Status::Ok();
  if (!S_ISDIR(st.st_mode)) return ::unlink(dir.c_str()) == 0 ? Status::Ok() : Status::Error(dir + ": cannot remove");
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return Status::Error(dir + ": cannot open");
  DIR* d = ::fdopendir(fd);
  if (!d) {
    ::close(fd);
    return Status::Error(dir + ": cannot open");
  }
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  for (const auto& n : names) ::unlinkat(fd, n.c_str(), 0);  // a subdirectory stays: rmdir then fails
  ::closedir(d);
  if (::rmdir(dir.c_str()) != 0) return Status::Error(dir + ": cannot remove");
  return Status::Ok();
}

}  // namespace

std::string TimeMs(std::chrono::system_clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
}

Result<std::chrono::system_clock::time_point> ParseTime(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS[.fff]Z
  std::tm tm{};
  int ms = 0;
  std::string t(text);
  int used = 0;
  if (std::sscanf(t.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &used) != 6 || used != 19) {
    return Fail("not an RFC 3339 UTC time: '" + t + "'");
  }
  std::string_view rest = text.substr(19);
  if (!rest.empty() && rest[0] == '.') {
    size_t i = 1;
    int digits = 0;
    while (i < rest.size() && std::isdigit(static_cast<unsigned char>(rest[i]))) {
      if (digits < 3) ms = ms * 10 + (rest[i] - '0'), ++digits;
      ++i;
    }
    if (i == 1) return Fail("not an RFC 3339 UTC time: '" + t + "'");
    while (digits++ < 3) ms *= 10;
    rest.remove_prefix(i);
  }
  if (rest != "Z") return Fail("not an RFC 3339 UTC time (must end in Z): '" + t + "'");
  if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
      tm.tm_min > 59 || tm.tm_sec > 60) {
    return Fail("not a valid time: '" + t + "'");
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  std::time_t secs = timegm(&tm);
  return std::chrono::system_clock::from_time_t(secs) + std::chrono::milliseconds(ms);
}

Result<KeyInfo> OpenKey(const std::string& root) {
  std::string path = JoinPath(root, "key.json");
  auto text = platform::ReadFile(path, kSmallFile);
  if (!text) return Fail(text.error());
  KeyInfo k;
  k.root = root;
  try {
    auto j = nlohmann::json::parse(*text);
    if (j.value("format", "") != "avkey-key/1") return Fail(path + ": format is not avkey-key/1");
    k.key_id = j.at("key_id").get<std::string>();
    if (!ValidKeyId(k.key_id)) return Fail(path + ": key_id is not K- and 16 hex digits");
    k.enrolled = j.at("enrolled").get<std::string>();
    k.console = j.value("console", "");
    auto pub = Base64Decode(j.at("console_public_key").get<std::string>());
    if (!pub || pub->size() != 32) return Fail(path + ": console_public_key is not a base64 Ed25519 key");
    k.console_public_key = *pub;
  } catch (const nlohmann::json::exception& e) {
    return Fail(fmt::format("{}: {}", path, e.what()));
  }
  auto secret = ReadSecret(JoinPath(root, "key.secret"));
  if (!secret) return Fail(secret.error());
  k.secret = *secret;
  return k;
}

std::string KeyRootForExecutable(const std::string& exe_path) {
  std::string dir = exe_path;
  for (int i = 0; i < 3; ++i) dir = platform::DirName(dir);
  struct stat st;
  if (::stat(JoinPath(dir, "key.json").c_str(), &st) == 0 && S_ISREG(st.st_mode)) return dir;
  return "";
}

Result<KeyInfo> InitKey(platform::Env* env, const std::string& root, const std::string& signer_dir,
                        const std::string& console_name) {
  struct stat st;
  if (::stat(JoinPath(root, "key.json").c_str(), &st) == 0) return Fail(root + ": already a key (key.json exists)");
  auto signer = LoadOrCreateSigner(env, signer_dir, console_name, true);
  if (!signer) return Fail(signer.error());
  for (const char* sub : {"journal", "quarantine", "inventory", "signatures", "bin/linux-x86_64"}) {
    Status s = platform::MakeDirs(JoinPath(root, sub));
    if (!s.ok()) return Fail(s.message());
  }
  auto id = RandomBytes(8);
  auto secret = RandomBytes(32);
  if (!id || !secret) return Fail("the random number generator failed");
  KeyInfo k;
  k.root = root;
  k.key_id = "K-" + ToHex({reinterpret_cast<const uint8_t*>(id->data()), id->size()});
  k.enrolled = TimeMs(std::chrono::system_clock::now());
  k.console_public_key = signer->key.PublicKey();
  k.console = signer->name;
  k.secret = *secret;
  nlohmann::json j = {{"format", "avkey-key/1"},
                      {"key_id", k.key_id},
                      {"enrolled", k.enrolled},
                      {"console_public_key", Base64Encode(k.console_public_key)},
                      {"console", k.console}};
  std::string secret_hex = ToHex({reinterpret_cast<const uint8_t*>(k.secret.data()), k.secret.size()}) + "\n";
  // The console's copy first: a key whose secret the console lacks could never be verified.
  Status s = platform::MakeDirs(JoinPath(signer_dir, "keys"), 0700);
  if (s.ok()) s = platform::WriteFileDurably(env, JoinPath(JoinPath(signer_dir, "keys"), k.key_id + ".secret"),
                                             secret_hex, 0600);
  if (s.ok()) s = platform::WriteFileDurably(env, JoinPath(root, "key.secret"), secret_hex, 0600);
  if (s.ok()) s = platform::WriteFileDurably(env, JoinPath(root, "key.json"), j.dump(2) + "\n");
  if (!s.ok()) return Fail(s.message());
  return k;
}

Status SignPolicy(platform::Env* env, const std::string& root, const std::string& signer_dir,
                  const std::string& policy_text) {
  auto key = OpenKey(root);
  if (!key) return Status::Error(key.error());
  auto parsed = ParsePolicy(policy_text);
  if (!parsed) return Status::Error("policy not signed: " + parsed.error());
  auto signer = SignerForKey(env, *key, signer_dir);
  if (!signer) return Status::Error(signer.error());
  // Signature first, then the policy: a kill in between leaves the old policy with a
  // signature that no longer matches, which the scanner refuses (AMBER), never a new
  // policy under an old signature.
  Status s = WriteSignature(env, JoinPath(root, "avkey.toml.sig"), signer->key, kPolicyDomain, policy_text);
  if (!s.ok()) return s;
  return platform::WriteFileDurably(env, JoinPath(root, "avkey.toml"), policy_text);
}

namespace {

// "NAME.tmp-DIGITS": what WriteFileDurably and StageGeneration write before the rename.
bool TemporaryName(std::string_view n) {
  size_t at = n.rfind(".tmp-");
  if (at == std::string_view::npos || at + 5 == n.size()) return false;
  return std::all_of(n.begin() + static_cast<std::ptrdiff_t>(at + 5), n.end(),
                     [](char c) { return c >= '0' && c <= '9'; });
}

// Removes stale temporaries in the directory `dir_fd` holds (and, with `subdirs`, one level
// below). Everything is relative to that fd and nothing is followed: the key is written by the
// devices it visits, and a symlinked inventory/ must not make a root scanner delete elsewhere.
int RemoveStaleAt(int dir_fd, std::chrono::seconds min_age, bool subdirs) {
  const std::vector<std::string> names = platform::ListDirAt(dir_fd);
  const auto now = std::chrono::system_clock::now();
  int removed = 0;
  for (const auto& n : names) {
    struct stat st;
    if (::fstatat(dir_fd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (!TemporaryName(n)) {
      if (subdirs && S_ISDIR(st.st_mode)) {
        int sub = ::openat(dir_fd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub >= 0) {
          removed += RemoveStaleAt(sub, min_age, false);
          ::close(sub);
        }
      }
      continue;
    }
    auto mtime = std::chrono::system_clock::time_point(std::chrono::seconds(st.st_mtim.tv_sec));
    if (now - mtime < min_age) continue;
    if (S_ISDIR(st.st_mode)) {
      // A staging directory holds only files.
      int sub = ::openat(dir_fd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub < 0) continue;
      for (const auto& f : platform::ListDirAt(sub)) ::unlinkat(sub, f.c_str(), 0);  // a subdirectory stays: rmdir fails
      ::close(sub);
      if (::unlinkat(dir_fd, n.c_str(), AT_REMOVEDIR) == 0) ++removed;
    } else if (::unlinkat(dir_fd, n.c_str(), 0) == 0) {
      ++removed;
    }
  }
  return removed;
}

int RemoveStaleIn(const std::string& dir, std::chrono::seconds min_age, bool subdirs) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return 0;
  int n = RemoveStaleAt(fd, min_age, subdirs);
  ::close(fd);
  return n;
}

// Fills `gen-N` in `sigdir` through `fill(staging_dir, n)`, under a name the scanner
// ignores; renames it to gen-N only when complete (a kill or a bad input never leaves a
// half generation under a real name), switches `current`, and keeps the newest `keep`
// generations (0: all).
Result<int> StageGeneration(platform::Env* env, const std::string& sigdir, int n, int keep,
                            const std::function<Status(const std::string&)>& fill) {
  std::vector<int> gens = ListGenerationsIn(sigdir);
  std::string final_dir = JoinPath(sigdir, fmt::format("gen-{}", n));
  std::string gdir = JoinPath(sigdir, fmt::format(".gen-{}.tmp-{}", n, ::getpid()));
  (void)RemoveTree(gdir);
  (void)RemoveStaleIn(sigdir, std::chrono::minutes(10), false);  // what a killed publish left
  Status s = platform::MakeDirs(gdir);
  if (!s.ok()) return Fail(s.message());
  struct Cleanup {
    std::string dir;
    bool armed = true;
    ~Cleanup() {
      if (armed) (void)RemoveTree(dir);
    }
  } cleanup{gdir};
  s = fill(gdir);
  if (s.ok()) s = env->FsyncDir(gdir);
  // Whatever holds the name gen-N is not a valid generation N (a damaged or planted one, a
  // symlink): it is replaced, and a symlink is removed, never followed.
  if (s.ok()) (void)RemoveTree(final_dir);
  if (s.ok()) s = env->Rename(gdir, final_dir);
  if (s.ok()) {
    cleanup.armed = false;
    s = env->FsyncDir(sigdir);
  }
  if (s.ok()) s = platform::WriteFileDurably(env, JoinPath(sigdir, "current"), fmt::format("gen-{}\n", n));
  if (!s.ok()) return Fail(s.message());
  if (keep > 0) {
    // Keep the newest `keep` generations present (the new one and its predecessors),
    // whatever their numbers: a key that skipped generations still keeps a fallback.
    std::vector<int> all = gens;
    all.push_back(n);
    std::sort(all.rbegin(), all.rend());
    all.erase(std::unique(all.begin(), all.end()), all.end());
    for (size_t k = static_cast<size_t>(keep); k < all.size(); ++k) {
      (void)RemoveTree(JoinPath(sigdir, fmt::format("gen-{}", all[k])));
    }
  }
  return n;
}

}  // namespace

Result<SigningKey> LoadSigner(platform::Env* env, const std::string& dir, const std::string& name, bool create) {
  auto s = LoadOrCreateSigner(env, dir, name, create);
  if (!s) return Fail(s.error());
  return std::move(s->key);
}

Result<int> BuildGeneration(platform::Env* env, const std::string& sigdir, const SigningKey& signer,
                            const std::vector<std::string>& files, std::chrono::system_clock::time_point created,
                            int keep) {
  std::vector<int> gens = ListGenerationsIn(sigdir);
  int n = gens.empty() ? 1 : gens.back() + 1;
  Status s = platform::MakeDirs(sigdir);
  if (!s.ok()) return Fail(s.message());
  std::string error;
  auto fill = [&](const std::string& gdir) -> Status {
    nlohmann::json listed = nlohmann::json::array();
    std::vector<std::string> seen;
    for (const auto& f : files) {
      std::string base = f.substr(f.find_last_of('/') + 1);
      if (base.empty() || base == "." || base == ".." || base.rfind("manifest.", 0) == 0) {
        return Status::Error(f + ": not a usable signature file name");
      }
      if (std::find(seen.begin(), seen.end(), base) != seen.end()) return Status::Error(f + ": two files named " + base);
      seen.push_back(base);
      auto content = platform::ReadFile(f, 4ull << 30);
      if (!content) return Status::Error(content.error());
      Status w = platform::WriteFileDurably(env, JoinPath(gdir, base), *content);
      if (!w.ok()) return w;
      listed.push_back({{"path", base}, {"size", content->size()}, {"sha256", Sha256Hex(*content)}});
    }
    nlohmann::json manifest = {
        {"format", "avkey-signatures/1"}, {"generation", n}, {"created", TimeMs(created)}, {"files", listed}};
    std::string text = manifest.dump(2) + "\n";
    Status w = WriteSignature(env, JoinPath(gdir, "manifest.sig"), signer, kManifestDomain, text);
    if (w.ok()) w = platform::WriteFileDurably(env, JoinPath(gdir, "manifest.json"), text);
    return w;
  };
  return StageGeneration(env, sigdir, n, keep, fill);
}

Result<int> InstallGeneration(platform::Env* env, const KeyInfo& key, const std::string& source_dir) {
  std::string base = source_dir.substr(source_dir.find_last_of('/') + 1);
  int n = 0;
  if (base.rfind("gen-", 0) == 0) n = std::atoi(base.c_str() + 4);
  if (n <= 0) return Fail(source_dir + ": not a gen-N directory");
  // Verified as the scanner will verify it, before anything is copied.
  auto src = VerifyGenerationDir(key.console_public_key, source_dir, n);
  if (!src) return Fail("not installed: " + src.error());
  std::string sigdir = JoinPath(key.root, "signatures");
  int newest = NewestVerifiedGeneration(key);
  if (newest >= n) {
    return Fail(fmt::format("not installed: the key already has gen-{} (an older or equal generation is never "
                            "installed over a newer one)",
                            newest));
  }
  auto fill = [&](const std::string& gdir) -> Status {
    std::vector<std::string> names = {"manifest.json", "manifest.sig"};
    names.insert(names.end(), src->listed.begin(), src->listed.end());
    for (const auto& name : names) {
      auto content = platform::ReadFile(JoinPath(source_dir, name), 4ull << 30);
      if (!content) return Status::Error(content.error());
      Status w = platform::WriteFileDurably(env, JoinPath(gdir, name), *content);
      if (!w.ok()) return w;
    }
    return Status::Ok();
  };
  return StageGeneration(env, sigdir, n, 2, fill);
}

Status WriteSignature(platform::Env* env, const std::string& path, const SigningKey& k, std::string_view domain,
                      std::string_view content) {
  auto sig = k.Sign(domain, content);
  if (!sig) return Status::Error(sig.error());
  return platform::WriteFileDurably(env, path, Base64Encode(*sig) + "\n");
}


int RemoveStaleTemporaries(const std::string& root, std::chrono::seconds min_age) {
  return RemoveStaleIn(root, min_age, false) + RemoveStaleIn(JoinPath(root, "signatures"), min_age, false) +
         RemoveStaleIn(JoinPath(root, "inventory"), min_age, true);
}

int NewestVerifiedGeneration(const KeyInfo& key) {
  std::vector<int> gens = ListGenerations(key.root);
  for (auto it = gens.rbegin(); it != gens.rend(); ++it) {
    if (VerifyGeneration(key, *it)) return *it;
  }
  return 0;
}

Result<int> PublishGeneration(platform::Env* env, const std::string& root, const std::string& signer_dir,
                              const std::vector<std::string>& files,
                              std::chrono::system_clock::time_point created) {
  auto key = OpenKey(root);
  if (!key) return Fail(key.error());
  auto signer = SignerForKey(env, *key, signer_dir);
  if (!signer) return Fail(signer.error());
  // Keep the new generation and the one before it (a fallback if the new one is damaged).
  return BuildGeneration(env, JoinPath(root, "signatures"), signer->key, files, created, 2);
}

}  // namespace avkey::key
