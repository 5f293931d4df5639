// Private to src/scan: SZDD, the format of MS-DOS/Windows COMPRESS.EXE ("file.ex_").
#pragma once

#include <cstdint>
#include <span>

#include "scan/extract.h"

namespace avkey::scan {

// True if `data` starts with the SZDD magic "SZDD\x88\xf0\x27\x33" and method 'A'.
bool LooksLikeSzdd(std::span<const uint8_t> data);

// Expands the LZSS body into one child named after the container ("x.ex_" -> "x.exe",
// "x.szdd" -> "x"). Output shorter than the header's size is reported as corrupt.
void ExtractSzdd(std::span<const uint8_t> data, ChildSink& sink);

}  // namespace avkey::scan
