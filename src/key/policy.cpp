#include "avkey/key/policy.h"

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
    auto v = n->value<int64_t>();
    if (!n->is_integer() || !v || *v < 0 || static_cast<uint64_t>(*v) > max) {
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
  toml::table root;
  try {
    root = toml::parse(text, origin);
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
  ok = ok && ind.String("hook", {}, &p.indicator_hook) && ind.NoUnknown();
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
