// Private to src/scan: BinHex 4.0 (RFC 1741): 6-bit text encoding, 0x90 run-length
// encoding, then header + data fork + resource fork, each with a CRC-16/XMODEM.
#pragma once

#include <cstdint>
#include <span>

#include "scan/extract.h"

namespace avkey::scan {

// True if the first 8 KiB hold "(This file must be converted with BinHex".
bool LooksLikeBinHex(std::span<const uint8_t> data);

// The data fork becomes a child named by the header's file name, the resource fork (if
// any) "NAME.rsrc". A CRC mismatch or truncation is reported as corrupt-archive; the
// bytes recovered are still scanned.
void ExtractBinHex(std::span<const uint8_t> data, ChildSink& sink);

}  // namespace avkey::scan
