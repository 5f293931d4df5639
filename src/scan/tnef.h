// Private to src/scan: TNEF ("winmail.dat"), Outlook's attachment container.
#pragma once

#include <cstdint>
#include <span>

#include "scan/extract.h"

namespace avkey::scan {

// True if `data` starts with the TNEF signature 0x223E9F78 (little-endian).
bool LooksLikeTnef(std::span<const uint8_t> data);

// Each attAttachData attribute becomes a child named by the attachment's
// attAttachTitle ("attachment-N" if none). A truncated attribute is corrupt-archive.
void ExtractTnef(std::span<const uint8_t> data, ChildSink& sink);

}  // namespace avkey::scan
