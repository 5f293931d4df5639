// Private to src/scan: PDF streams (ISO 32000-1 §7.3.8): every "stream ... endstream"
// object, decoded through the filters avkey implements.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "scan/extract.h"

namespace avkey::scan {

// True if "%PDF-" occurs in the first 1 KiB (readers accept leading junk).
bool LooksLikePdf(std::span<const uint8_t> data);

// Each stream becomes a child "obj-N" (N: its object number; "stream-K" if none is
// found), decoded through FlateDecode, ASCIIHexDecode and ASCII85Decode in the order
// of its /Filter; the first other filter (DCT, LZW, JBIG2...) stops decoding and the
// bytes so far are scanned. A damaged deflate stream is reported and its prefix scanned.
void ExtractPdf(std::span<const uint8_t> data, ChildSink& sink);

enum class DecodeStatus { kOk, kOverflow, kCorrupt };

// Inflates a zlib stream (RFC 1950; a bare RFC 1951 deflate stream is accepted too),
// appending at most `room` bytes to *out: kOverflow if there were more. Uses
// libarchive's gzip reader, so no other inflate implementation is linked.
DecodeStatus InflateZlib(std::span<const uint8_t> in, std::vector<uint8_t>* out, uint64_t room);
DecodeStatus DecodeAsciiHex(std::span<const uint8_t> in, std::vector<uint8_t>* out, uint64_t room);
DecodeStatus DecodeAscii85(std::span<const uint8_t> in, std::vector<uint8_t>* out, uint64_t room);

}  // namespace avkey::scan
