// Fuzzes what the console reads from a key's inventory/ directory: a gzip stream (bounded
// decompression) holding JSON written on a device that may be hostile.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "avkey/key/inventory.h"
#include "nlohmann/json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr uint64_t kMax = 1 << 20;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto out = avkey::key::GzipDecompress(in, kMax);
  if (!out) return 0;
  if (out->size() > kMax) std::abort();  // the budget holds
  auto doc = nlohmann::json::parse(*out, nullptr, /*allow_exceptions=*/false);
  (void)doc.is_discarded();
  // Round trip: what we compress, we read back identically.
  auto again = avkey::key::GzipCompress(*out);
  if (!again) std::abort();
  auto back = avkey::key::GzipDecompress(*again, kMax);
  if (!back || *back != *out) std::abort();
  return 0;
}
