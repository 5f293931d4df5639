// Private to src/scan: MIME mail, mbox, and encoded blocks in text (RFC 2045/2046
// multipart, base64, quoted-printable, uuencode, base64 `data:` URIs).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "scan/extract.h"

namespace avkey::scan {

// True if `data` starts like an RFC 822 message or an mbox ("From " line): a header
// block of "Name: value" lines naming at least one mail header.
bool LooksLikeMail(std::span<const uint8_t> data);

// True if the first 4 KiB hold no NUL byte and are mostly printable.
bool LooksLikeText(std::span<const uint8_t> data);

// Every message of an mbox (or the one message) is split into its MIME parts, nested
// multiparts and message/rfc822 up to 32 levels (an explicit stack, not recursion);
// each leaf part is decoded by its Content-Transfer-Encoding and given to the sink,
// named by its filename/name parameter or "part-N".
void ExtractMail(std::span<const uint8_t> data, ChildSink& sink);

// Text that is not mail: every uuencoded block ("begin MODE NAME" ... with or without
// "end"; also "begin-base64") and every base64 `data:` URI becomes a child ("data-N").
void ExtractText(std::span<const uint8_t> data, ChildSink& sink);

// Decoders, lenient like mail clients. Each appends to *out at most `room` bytes in
// total and returns false if the input would have produced more.
bool DecodeBase64(std::span<const uint8_t> in, std::vector<uint8_t>* out, uint64_t room);
bool DecodeQuotedPrintable(std::span<const uint8_t> in, std::vector<uint8_t>* out, uint64_t room);
// Decodes uuencoded lines (without the "begin" line) up to "end", a zero-length line or
// the first line that is not uuencode. *consumed: bytes of `in` used.
bool DecodeUu(std::span<const uint8_t> in, std::vector<uint8_t>* out, uint64_t room,
              size_t* consumed);

}  // namespace avkey::scan
