#include "avkey/key/policy.h"

#include <algorithm>
#include <set>

#include "avkey/key/crypto.h"
#include "fmt/format.h"

#define TOML_HEADER_ONLY 1
#define TOML_ENABLE_FORMATTERS 0
#include <toml++/toml.h>

namespace avkey::key {
namespace {

constexpr uint64_t kMaxPolicyBytes = 1 << 20;

// Reads one policy table, rejecting keys it does not know. Each getter records the first
// error with the node's line and column.
class TableReader {
 public:
  TableReader(const toml::table* t, std::string name, std::string origin, std::string* error)
      : t_(t), name_(std::move(name)), origin_(std::move(origin)), error_(error) {}

  bool Bool(const char* key, bool* out) {
    const toml::node* n = Get(key);
    if (!n) return true;
    if (auto v = n->value<bool>()) return *out = *v, true;
    return Bad(n, key, "must be true or false");
  }
  bool Int(const char* key, uint64_t max, uint64_t* out) {
    const toml::node* n = Get(key);
    if (!n) return true;
    // Only an integer node is read as one: toml++ converts a float such as 7e50 to int64_t
    // with undefined behaviour (found by key_policy_fuzz).
    const auto v = n->is_integer() ? n->value<int64_t>() : std::nullopt;
    if (!v || *v < 0 || static_cast<uint64_t>(*v) > max) {
      return Bad(n, key, fmt::format("must be an integer from 0 to {}", max));
    }
    *out = static_cast<uint64_t>(*v);
    return true;
  }
  bool Size(const char* key, uint64_t* out) {
    const toml::node* n = Get(key);
    if (!n) return true;
    if (n->is_integer()) return Int(key, UINT64_MAX >> 1, out);
    auto s = n->value<std::string>();
    if (!s) return Bad(n, key, "must be a size such as \"100M\" or a number of bytes");
    auto parsed = scan::ParseSize(*s);
    if (!parsed) return Bad(n, key, parsed.error());
    *out = *parsed;
    return true;
  }
  bool String(const char* key, std::initializer_list<const char*> allowed, std::string* out) {
    const toml::node* n = Get(key);
    if (!n) return true;
    auto s = n->value<std::string>();
    if (!s) return Bad(n, key, "must be a string");
    if (allowed.size()) {
      bool ok = false;
      std::string list;
      for (const char* a : allowed) {
        ok = ok || *s == a;
        list += list.empty() ? a : std::string(" | ") + a;
      }
      if (!ok) return Bad(n, key, fmt::format("must be one of {} (is \"{}\")", list, *s));
    }
    *out = *s;
    return true;
  }
  bool Strings(const char* key, std::vector<std::string>* out) {
    const toml::node* n = Get(key);
    if (!n) return true;
    const toml::array* a = n->as_array();
    if (!a) return Bad(n, key, "must be an array of strings");
    out->clear();
    for (const auto& e : *a) {
      auto s = e.value<std::string>();
      if (!s) return Bad(&e, key, "must be an array of strings");
      out->push_back(*s);
    }
    return true;
  }
  // After all getters: every key the table holds must have been asked for.
  bool NoUnknown() {
    if (!t_) return true;
    for (auto&& [k, v] : *t_) {
      if (!asked_.count(std::string(k.str()))) {
        return Bad(&v, std::string(k.str()).c_str(), "is not a policy setting (misspelt?)");
      }
    }
    return true;
  }

 private:
  const toml::node* Get(const char* key) {
    asked_.insert(key);
    return t_ ? t_->get(key) : nullptr;
  }
  bool Bad(const toml::node* n, const char* key, const std::string& why) {
    if (error_->empty()) {
      const auto& b = n->source().begin;
      *error_ = fmt::format("{}:{}:{}: [{}] {} {}", origin_, b.line, b.column, name_, key, why);
    }
    return false;
  }
  const toml::table* t_;
  std::string name_, origin_;
  std::string* error_;
  std::set<std::string> asked_;
};

// toml++ 3.3.0 (Debian 12) reaches TOML_UNREACHABLE, i.e. undefined behaviour, when its
// white-space test meets some non-ASCII code points (U+00A1, U+FEF6, ...): where a value
// should end, and in the look-ahead after a malformed value even inside a later string
// (both found by key_policy_fuzz). So toml++ is only ever given ASCII: non-ASCII text in
// a basic string becomes \uXXXX / \UXXXXXXXX escapes, a literal string holding non-ASCII
// becomes the equivalent basic string, non-ASCII in a comment becomes '?', and anywhere
// else (or invalid UTF-8) is refused with its line and column. A policy needs non-ASCII
// only in strings (file names); their values are unchanged.
Result<std::string> AsciiForToml(std::string_view t, const std::string& origin) {
  std::string out;
  out.reserve(t.size());
  size_t line = 1, col = 1, i = 0;
  auto where = [&](const char* what) {
    return Fail(fmt::format("{}:{}:{}: {}", origin, line, col, what));
  };
  // Decodes the UTF-8 sequence at i (t[i] >= 0x80); 0 when invalid.
  auto decode = [&](size_t* len) -> char32_t {
    unsigned char b = static_cast<unsigned char>(t[i]);
    size_t n = b >= 0xF0 && b < 0xF5 ? 4 : b >= 0xE0 ? 3 : b >= 0xC2 && b < 0xE0 ? 2 : 0;
    if (n == 0 || (b >= 0xE0 && n == 2) || i + n > t.size()) return 0;
    char32_t cp = b & (0xFF >> (n + 1));
    for (size_t k = 1; k < n; ++k) {
      unsigned char cb = static_cast<unsigned char>(t[i + k]);
      if ((cb & 0xC0) != 0x80) return 0;
      cp = cp << 6 | (cb & 0x3F);
    }
    static constexpr char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    *len = n;
    return cp;
  };
  auto escape = [](char32_t cp) {
    return cp <= 0xFFFF ? fmt::format("\\u{:04X}", static_cast<uint32_t>(cp))
                        : fmt::format("\\U{:08X}", static_cast<uint32_t>(cp));
  };
  auto step = [&](char c) {
    out.push_back(c);
    ++i;
    if (c == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  };
  while (i < t.size()) {
    char c = t[i];
    if (c == '#') {
      while (i < t.size() && t[i] != '\n') {
        if (static_cast<unsigned char>(t[i]) >= 0x80) {
          out.push_back('?');
          ++i, ++col;
        } else {
          step(t[i]);
        }
      }
    } else if (c == '"' || c == '\'') {
      const bool multi = t.substr(i, 3) == std::string(3, c);
      const std::string quote = multi ? std::string(3, c) : std::string(1, c);
      const size_t end = [&] {  // index of the closing quote (or of the line end / text end)
        size_t k = i + quote.size();
        while (k < t.size() && t.substr(k, quote.size()) != quote && (multi || t[k] != '\n')) {
          k += c == '"' && t[k] == '\\' ? 2 : 1;
        }
        return std::min(k, t.size());
      }();
      std::string_view body = t.substr(i + quote.size(), end > i + quote.size() ? end - i - quote.size() : 0);
      const bool has_non_ascii =
          std::any_of(body.begin(), body.end(), [](char ch) { return static_cast<unsigned char>(ch) >= 0x80; });
      // A literal string with non-ASCII becomes a basic one: escape what basic strings treat specially.
      const bool to_basic = c == '\'' && has_non_ascii;
      const std::string out_quote = to_basic ? std::string(quote.size(), '"') : quote;
      out += out_quote;
      i += quote.size();
      col += quote.size();
      while (i < end) {
        unsigned char b = static_cast<unsigned char>(t[i]);
        if (b >= 0x80) {
          size_t len = 0;
          char32_t cp = decode(&len);
          if (!cp) return where("invalid UTF-8");
          out += escape(cp);
          i += len;
          ++col;
        } else if (to_basic && (b == '\\' || b == '"')) {
          out.push_back('\\');
          step(static_cast<char>(b));
        } else if (c == '"' && b == '\\' && i + 1 < end) {
          step('\\');
          step(t[i]);
        } else {
          step(static_cast<char>(b));
        }
      }
      if (t.substr(i, quote.size()) == quote) {
        out += out_quote;
        i += quote.size();
        col += quote.size();
      }
    } else if (static_cast<unsigned char>(c) >= 0x80) {
      return where("a non-ASCII character outside a string or comment");
    } else {
      step(c);
    }
  }
  return out;
}

}  // namespace

const char* ActionName(Action a) {
  switch (a) {
    case Action::kReport: return "report";
    case Action::kQuarantine: return "quarantine";
    case Action::kRemove: return "remove";
  }
  return "report";
}

Result<Policy> ParsePolicy(std::string_view text, const std::string& origin) {
  auto ascii = AsciiForToml(text, origin);
  if (!ascii) return Fail(ascii.error());
  toml::table root;
  try {
    root = toml::parse(*ascii, origin);
  } catch (const toml::parse_error& e) {
    const auto& b = e.source().begin;
    return Fail(fmt::format("{}:{}:{}: {}", origin, b.line, b.column, e.description()));
  }
  Policy p;
  std::string error;
  const std::set<std::string> tables = {"scan", "archive", "action", "signatures", "inventory", "operator",
                                        "indicator"};
  for (auto&& [k, v] : root) {
    std::string name(k.str());
    if (!tables.count(name) || !v.is_table()) {
      const auto& b = v.source().begin;
      return Fail(fmt::format("{}:{}:{}: [{}] is not a policy table (expected one of: scan archive action "
                              "signatures inventory operator indicator)",
                              origin, b.line, b.column, name));
    }
  }
  auto table = [&](const char* name) { return TableReader(root[name].as_table(), name, origin, &error); };

  TableReader scan = table("scan");
  uint64_t depth = p.limits.max_depth, ratio = p.limits.max_ratio, ms = static_cast<uint64_t>(p.limits.max_time.count());
  uint64_t age = p.max_age_days;
  std::string action = "report";
  bool ok = scan.Strings("targets", &p.targets) && scan.Strings("exclude", &p.excludes) &&
            scan.Size("max_filesize", &p.max_file_size) && scan.Bool("one_file_system", &p.one_file_system) &&
            scan.NoUnknown();
  TableReader archive = table("archive");
  ok = ok && archive.Int("max_depth", 64, &depth) && archive.Size("max_unpacked", &p.limits.max_unpacked_bytes) &&
       archive.Int("max_entries", UINT32_MAX, &p.limits.max_entries) && archive.Int("max_ratio", 1000000, &ratio) &&
       archive.Int("max_scantime_ms", 86400000, &ms) && archive.NoUnknown();
  TableReader act = table("action");
  ok = ok && act.String("on_detection", {"report", "quarantine", "remove"}, &action) &&
       act.Bool("keep_copy", &p.keep_copy) && act.NoUnknown();
  TableReader sigs = table("signatures");
  ok = ok && sigs.Int("max_age_days", 36500, &age) && sigs.NoUnknown();
  TableReader inv = table("inventory");
  ok = ok && inv.Bool("enabled", &p.inventory) && inv.Bool("file_hashes", &p.file_hashes) && inv.NoUnknown();
  TableReader op = table("operator");
  ok = ok && op.String("asset_tag", {"never", "optional", "required"}, &p.asset_tag) && op.NoUnknown();
  TableReader ind = table("indicator");
  ok = ok && ind.String("hook", {}, &p.indicator_hook) && ind.String("hook_sha256", {}, &p.indicator_hook_sha256) &&
       ind.NoUnknown();
  if (!ok) return Fail(error);

  p.limits.max_depth = static_cast<uint32_t>(depth);
  p.limits.max_ratio = static_cast<uint32_t>(ratio);
  p.limits.max_time = std::chrono::milliseconds(ms);
  p.max_age_days = static_cast<uint32_t>(age);
  p.action = action == "quarantine" ? Action::kQuarantine : action == "remove" ? Action::kRemove : Action::kReport;
  if (p.targets.empty()) return Fail(origin + ": [scan] targets is empty: nothing would be scanned");
  for (const auto& t : p.targets) {
    if (t != "auto" && (t.empty() || t[0] != '/')) {
      return Fail(fmt::format("{}: [scan] targets: \"{}\" is neither \"auto\" nor an absolute path", origin, t));
    }
  }
  const std::string& hook = p.indicator_hook;
  if (!hook.empty() && (hook[0] == '/' || hook.find("..") != std::string::npos)) {
    return Fail(origin + ": [indicator] hook must be a path inside the key, relative to its root");
  }
  // The key is writable on every device it visits: a hook not pinned by the signed policy
  // could be replaced by one device and run by the next.
  const std::string& pin = p.indicator_hook_sha256;
  bool hex64 = pin.size() == 64 && std::all_of(pin.begin(), pin.end(), [](char c) {
                 return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
               });
  if (!hook.empty() && !hex64) {
    return Fail(origin + ": [indicator] hook_sha256 must be the hook's SHA-256 (64 lower-case hex digits): "
                         "sha256sum KEY/" + hook);
  }
  if (hook.empty() && !pin.empty()) return Fail(origin + ": [indicator] hook_sha256 without a hook");
  return p;
}

Result<LoadedPolicy> LoadPolicy(const KeyInfo& key) {
  std::string path = platform::JoinPath(key.root, "avkey.toml");
  std::string sig_path = path + ".sig";
  LoadedPolicy out;
  auto text = platform::ReadFile(path, kMaxPolicyBytes);
  if (!text) {
    if (::access(path.c_str(), F_OK) != 0 && ::access(sig_path.c_str(), F_OK) != 0) return out;  // defaults
    return Fail(text.error());
  }
  auto sig_text = platform::ReadFile(sig_path, kMaxPolicyBytes);
  if (!sig_text) return Fail("policy refused: it is not signed (" + sig_text.error() + ")");
  auto sig = Base64Decode(*sig_text);
  if (!sig || !VerifySignature(key.console_public_key, kPolicyDomain, *text, *sig)) {
    return Fail(fmt::format("policy refused: {} does not verify against the console's key in key.json "
                            "(the policy was changed after it was signed, or signed by another console)",
                            sig_path));
  }
  auto p = ParsePolicy(*text, path);
  if (!p) return Fail("policy refused: " + p.error());
  out.policy = std::move(*p);
  out.is_default = false;
  out.sha256 = Sha256Hex(*text);
  return out;
}

}  // namespace avkey::key
