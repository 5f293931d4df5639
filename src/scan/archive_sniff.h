// Private to src/scan: which files are worth handing to libarchive at all.
#pragma once

#include <cstdint>
#include <span>

namespace avkey::scan {

// False only when no reader that layers.cpp enables in libarchive (3.6.2: the formats 7zip,
// ar, cab, cpio, iso9660, lha, rar, rar5, tar, warc, xar, zip; the filters bzip2, compress,
// gzip, lz4, lzip, lzma, xz, zstd, uu, rpm) could bid on `data`. It is a superset of their
// bidders, written from their source: a cheap magic or a memchr-speed search where they walk
// byte by byte (7-Zip, RAR, CAB and LHA self-extractors inside executables, a zip's end
// record in the last 16 KiB, a uuencode "begin" line).
//
// Why: setting up the two readers cost each file ~25 µs before any bidder ran, and the
// self-extractor bidders walk whole executables byte by byte: 0.56 s of probing for the
// 9,394 files of the 500 MiB bench corpus, of which 87 are archives. The superset property
// is what makes skipping safe: archive_sniff_test checks it against libarchive itself on
// real files and mutations, and fuzz/archive_sniff_fuzz.cpp hunts for a counterexample.
bool MayBeLibarchiveInput(std::span<const uint8_t> data);

}  // namespace avkey::scan
