#include "avkey/key/store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>

#include "avkey/key/crypto.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace avkey::key {
namespace {

using platform::JoinPath;
constexpr uint64_t kMaxManifestBytes = 16 << 20;
constexpr uint64_t kMaxSignatureFileBytes = 4ull << 30;

bool PlainName(const std::string& n) {
  return !n.empty() && n != "." && n != ".." && n.find('/') == std::string::npos &&
         n.find('\0') == std::string::npos && n.rfind("manifest.", 0) != 0;
}

// "gen-12" -> 12; anything else -> 0.
int GenerationNumber(std::string_view name) {
  if (name.substr(0, 4) != "gen-" || name.size() < 5 || name.size() > 13) return 0;
  int n = 0;
  for (char c : name.substr(4)) {
    if (c < '0' || c > '9') return 0;
    n = n * 10 + (c - '0');
  }
  return n;
}

}  // namespace

std::vector<int> ListGenerations(const std::string& root) { return ListGenerationsIn(JoinPath(root, "signatures")); }

std::vector<int> ListGenerationsIn(const std::string& sigdir) {
  std::vector<int> out;
  DIR* d = ::opendir(sigdir.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    struct stat st;
    int n = GenerationNumber(e->d_name);
    // Real directories only: a symlink named gen-N is never a generation.
    if (n > 0 && ::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
      out.push_back(n);
    }
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

Result<Generation> VerifyGeneration(const KeyInfo& key, int number, bool hash_caches) {
  return VerifyGenerationDir(key.console_public_key,
                             JoinPath(JoinPath(key.root, "signatures"), fmt::format("gen-{}", number)), number,
                             hash_caches);
}

Result<Generation> VerifyGenerationDir(const std::string& public_key, const std::string& dir, int number,
                                       bool hash_caches) {
  Generation g;
  g.number = number;
  g.dir = dir;
  std::string mpath = JoinPath(g.dir, "manifest.json");
  auto text = platform::ReadFile(mpath, kMaxManifestBytes);
  if (!text) return Fail(text.error());
  auto sig_text = platform::ReadFile(JoinPath(g.dir, "manifest.sig"), 4096);
  if (!sig_text) return Fail(fmt::format("gen-{} is not signed ({})", number, sig_text.error()));
  auto sig = Base64Decode(*sig_text);
  if (!sig || !VerifySignature(public_key, kManifestDomain, *text, *sig)) {
    return Fail(fmt::format("gen-{}: the manifest signature does not verify against the console's key", number));
  }
  // Signed, so from the console; still checked as if hostile (a console bug must not
  // make the scanner read outside the generation).
  try {
    auto m = nlohmann::json::parse(*text);
    if (m.at("format").get<std::string>() != "avkey-signatures/1") {
      return Fail(fmt::format("gen-{}: manifest format is not avkey-signatures/1", number));
    }
    if (m.at("generation").get<int>() != number) {
      return Fail(fmt::format("gen-{}: the manifest is for generation {} (a generation moved or copied)", number,
                              m.at("generation").get<int>()));
    }
    g.created_text = m.at("created").get<std::string>();
    auto created = ParseTime(g.created_text);
    if (!created) return Fail(fmt::format("gen-{}: created: {}", number, created.error()));
    g.created = *created;
    std::vector<char> buffer(size_t{1} << 20);
    for (const auto& f : m.at("files")) {
      std::string name = f.at("path").get<std::string>();
      if (!PlainName(name)) return Fail(fmt::format("gen-{}: manifest names '{}', not a plain file name", number, name));
      std::string path = JoinPath(g.dir, name);
      const bool cache = name.ends_with(".avkc");
      const auto listed_size = f.at("size").get<uint64_t>();
      const auto listed_sha256 = f.at("sha256").get<std::string>();
      bool matches = false;
      if (cache && !hash_caches) {
        struct stat st;
        matches = ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
                  static_cast<uint64_t>(st.st_size) == listed_size;
      } else {
        // Hashed as it is read, through one buffer: the cache files are tens of megabytes.
        Sha256Stream digest;
        uint64_t size = 0;
        Status read = platform::ReadFileChunks(path, kMaxSignatureFileBytes, buffer, [&](std::string_view piece) {
          digest.Update(piece);
          size += piece.size();
        });
        if (!read.ok()) return Fail(fmt::format("gen-{}: {}", number, read.message()));
        matches = size == listed_size && digest.FinishHex() == listed_sha256;
      }
      if (!matches) {
        return Fail(fmt::format("gen-{}: {} does not match its manifest (damaged or changed)", number, name));
      }
      g.listed.push_back(name);
      g.pinned.push_back({path, listed_size, listed_sha256});
      // The console's compiled patterns: a read-only cache.
      if (cache) {
        g.compiled = true;
      } else {
        g.files.push_back(path);
      }
    }
  } catch (const nlohmann::json::exception& e) {
    return Fail(fmt::format("gen-{}: manifest: {}", number, e.what()));
  }
  return g;
}

Result<ActiveGeneration> SelectGeneration(const KeyInfo& key) {
  ActiveGeneration out;
  std::vector<int> gens = ListGenerations(key.root);
  int current = 0;
  auto cur = platform::ReadFile(JoinPath(JoinPath(key.root, "signatures"), "current"), 64);
  if (cur) {
    std::string t = *cur;
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
    current = GenerationNumber(t);
    if (!current) out.warnings.push_back("signatures/current does not name a generation");
  } else {
    out.warnings.push_back("signatures/current: " + cur.error());
  }
  std::vector<int> order;
  if (current) order.push_back(current);
  for (auto it = gens.rbegin(); it != gens.rend(); ++it) {
    if (*it != current) order.push_back(*it);
  }
  for (int n : order) {
    auto g = VerifyGeneration(key, n, /*hash_caches=*/false);
    if (g) {
      out.generation = std::move(*g);
      return out;
    }
    out.warnings.push_back("refused " + g.error());
  }
  std::string why = order.empty() ? "the key holds no signature generation" : "";
  for (const auto& w : out.warnings) why += (why.empty() ? "" : "; ") + w;
  return Fail("no trusted signatures: " + why);
}

}  // namespace avkey::key
