// Private to src/scan: objects embedded in RTF documents (\objdata hex groups).
#pragma once

#include <cstdint>
#include <span>

#include "scan/extract.h"

namespace avkey::scan {

// True if `data` starts with "{\rt" (readers accept "{\rtf" and "{\rtNN").
bool LooksLikeRtf(std::span<const uint8_t> data);

// Each \objdata group is hex-decoded and its OLE1 object header ([MS-OLEDS] 2.2.4)
// unwrapped: a "Package" yields the embedded file (named by its label), any other class
// its native data ("objdata-N", often an OLE2 file unpacked at the next layer). An
// object whose header does not parse is scanned as decoded.
void ExtractRtf(std::span<const uint8_t> data, ChildSink& sink);

}  // namespace avkey::scan
