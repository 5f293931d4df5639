// Fuzzes the policy parser (toml++ plus avkey's checks). The policy is signed, but the
// console parses an administrator's file before signing it, and the parser must reject,
// never crash on, anything.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "avkey/key/policy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto p = avkey::key::ParsePolicy(text);
  if (p) {
    // What a valid policy promises the scanner.
    if (p->targets.empty() || p->limits.max_depth > 64) std::abort();
    for (const auto& t : p->targets) {
      if (t != "auto" && (t.empty() || t[0] != '/')) std::abort();
    }
  } else if (p.error().empty()) {
    std::abort();  // every refusal says why
  }
  return 0;
}
