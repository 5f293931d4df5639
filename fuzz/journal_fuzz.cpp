// Fuzzes the journal reader: a key's journal.jsonl comes back from devices that may be
// hostile (the console imports it; `avkey journal verify` reads it). Checks the reader's
// own invariants too: every problem names a line inside the input, and records come
// out in file order.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "avkey/key/journal.h"

namespace {
// The seeds (make_seeds.py) are MACed with this key id and secret.
const std::string kKeyId = "K-0123456789abcdef";
const std::string kSecret(32, '\x5a');
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  avkey::key::JournalCheck c = avkey::key::CheckJournalText(text, kKeyId, kSecret);
  uint64_t lines = 1;
  for (char ch : text) lines += ch == '\n';
  uint64_t last_line = 0;
  for (const auto& r : c.records) {
    if (r.line_number <= last_line || r.line_number > lines || r.offset + r.line.size() > size) std::abort();
    last_line = r.line_number;
  }
  for (const auto& p : c.problems) {
    if (p.line_number == 0 || p.line_number > lines || p.kind.empty()) std::abort();
  }
  (void)c.exit_status();
  return 0;
}
