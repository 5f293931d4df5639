// Private to src/scan: OLE2 / Compound File Binary ([MS-CFB]): Word, Excel and
// PowerPoint 97-2003 files, MSI packages, Outlook .msg, Thumbs.db...
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "scan/extract.h"

namespace avkey::scan {

// True if `data` starts with the CFB signature D0 CF 11 E0 A1 B1 1A E1.
bool LooksLikeOle2(std::span<const uint8_t> data);

// Every stream becomes a child named by its path of storages ("ObjectPool/_1279/x").
// Embedded packages are unwrapped too: an "\x01Ole10Native" stream also yields the file
// it carries (named by its label), and PowerPoint's ExOleObjStg records in the
// "PowerPoint Document" stream yield the (zlib-inflated) embedded object ("ExOleObjStg-N").
// FAT/DIFAT/miniFAT chains are followed with loop detection; a broken chain is reported
// as corrupt-archive and the bytes read so far are scanned.
void ExtractOle2(std::span<const uint8_t> data, ChildSink& sink);

// Parses an OLE1 "Package" native payload (the content of an \x01Ole10Native stream,
// which starts with a u32 size: with_size_prefix) and sets *payload to the embedded
// file's bytes (a sub-span of `data`) and *name to its label. False if malformed.
bool ParseOle10Native(std::span<const uint8_t> data, bool with_size_prefix,
                      std::span<const uint8_t>* payload, std::string* name);

}  // namespace avkey::scan
