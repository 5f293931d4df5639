// Issue 2's naive yardstick, shared by engine_bench and naive_corpus_scan: a ClamAV body
// pattern as one Vectorscan regex over the whole pattern, ClamAV's exact rules ignored.
#pragma once

#include <hs/hs.h>

#include <cctype>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace avkey::bench {

// The hex pattern of an .ndb line (after its last ':') as a regex: ?? -> ".", * -> ".*",
// {n} {n-m} {-m} {n-} -> ".{...}", bytes -> "\xNN", nibbles a? / ?a -> byte classes.
// Nothing for alternations, negations and [n-m] (the naive scans leave those lines out).
inline std::optional<std::string> NaiveRegex(std::string_view ndb_line) {
  const std::string_view hex = ndb_line.substr(ndb_line.rfind(':') + 1);
  std::string re;
  for (size_t i = 0; i < hex.size();) {
    const char c = hex[i];
    if (c == '{') {
      const size_t close = hex.find('}', i);
      if (close == std::string_view::npos) return std::nullopt;
      std::string gap(hex.substr(i + 1, close - i - 1));
      if (const size_t dash = gap.find('-'); dash != std::string::npos) gap[dash] = ',';
      if (!gap.empty() && gap.front() == ',') gap.insert(0, "0");
      re += ".{" + gap + "}";
      i = close + 1;
    } else if (c == '*') {
      re += ".*";
      i += 1;
    } else if (c == '?' && i + 1 < hex.size() && hex[i + 1] == '?') {
      re += ".";
      i += 2;
    } else if (i + 1 < hex.size() && std::isxdigit(static_cast<unsigned char>(c)) &&
               std::isxdigit(static_cast<unsigned char>(hex[i + 1]))) {
      re += "\\x" + std::string(hex.substr(i, 2));
      i += 2;
    } else if (i + 1 < hex.size() && std::isxdigit(static_cast<unsigned char>(c)) && hex[i + 1] == '?') {
      re += "[\\x" + std::string(1, c) + "0-\\x" + std::string(1, c) + "f]";  // a? : high nibble a
      i += 2;
    } else if (i + 1 < hex.size() && c == '?' && std::isxdigit(static_cast<unsigned char>(hex[i + 1]))) {
      re += "[";  // ?a : low nibble a
      for (const char h : std::string_view("0123456789abcdef")) re += "\\x" + std::string(1, h) + hex[i + 1];
      re += "]";
      i += 2;
    } else {
      return std::nullopt;  // (aa|bb), !(..), [n-m]
    }
  }
  if (re.empty()) return std::nullopt;
  return re;
}

// Every line of an .ndb text that NaiveRegex converts.
inline std::vector<std::string> NaiveRegexes(std::string_view ndb) {
  std::vector<std::string> out;
  for (size_t at = 0; at < ndb.size();) {
    size_t eol = ndb.find('\n', at);
    if (eol == std::string_view::npos) eol = ndb.size();
    if (auto re = NaiveRegex(ndb.substr(at, eol - at))) out.push_back(std::move(*re));
    at = eol + 1;
  }
  return out;
}

// The regexes (HS_FLAG_DOTALL, ids in order) as one Vectorscan database in `mode`; null and
// *error on failure.
inline hs_database_t* CompileNaive(const std::vector<std::string>& regexes, unsigned mode, std::string* error) {
  std::vector<const char*> exprs;
  std::vector<unsigned> flags, ids;
  for (const auto& r : regexes) {
    exprs.push_back(r.c_str());
    flags.push_back(HS_FLAG_DOTALL);
    ids.push_back(static_cast<unsigned>(ids.size()));
  }
  hs_database_t* db = nullptr;
  hs_compile_error_t* err = nullptr;
  if (hs_compile_multi(exprs.data(), flags.data(), ids.data(), static_cast<unsigned>(exprs.size()), mode, nullptr,
                       &db, &err) != HS_SUCCESS) {
    *error = err && err->message ? err->message : "compile failed";
    hs_free_compile_error(err);
    return nullptr;
  }
  return db;
}

}  // namespace avkey::bench
