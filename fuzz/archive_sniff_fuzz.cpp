// libFuzzer target for the archive sniff (src/scan/archive_sniff.h): the scanner hands a
// file to libarchive only when MayBeLibarchiveInput says it may be an archive, so an input
// libarchive opens but the sniff rejects is an archive the scanner would not unpack. Such
// an input traps. The oracle is libarchive itself, with the readers the scanner uses.
//   fuzz/run.sh 120 archive_sniff_fuzz
#include <cstddef>
#include <cstdint>
#include <span>

#include "scan/archive_sniff.h"
#include "scan/layers.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> bytes(data, size);
  if (!avkey::scan::MayBeLibarchiveInput(bytes) && avkey::scan::LibarchiveOpens(bytes)) __builtin_trap();
  return 0;
}
