// ClamAV 1.4.6's HTML normaliser, rebuilt from what clamscan writes (docs/html.md has the
// rules, the evidence and what is not covered). Internal to the engine.
//
// For a file typed HTML, clamscan does not match signatures against the file's bytes but
// against two buffers it derives from them in one pass:
//   nocomment  the markup lower-cased and re-spelled (tags rebuilt, comments dropped,
//              entities decoded, whitespace collapsed, script and style bodies squeezed);
//   notags     the text only (one space for every tag, comment or entity), plus the URL
//              of each <a href> and <img src> in its original case.
// The rules include ClamAV's quirks on purpose (8191-byte chunks, bytes lost at chunk
// boundaries, a byte-substitution bug for 8-bit text in notags, the "</style>" underflow
// that ends normalisation early): the buffers must be byte-identical, or hash signatures of
// them and anchored body signatures would not fire as they do in clamscan.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/js_norm.h"

namespace avkey::engine {

// Code point of an HTML named character reference in ClamAV's table (case-sensitive, no
// '&' or ';'), or -1 when the name is not in it.
int LookupHtmlEntity(std::string_view name);

// A file that starts with "#@~^" is typed CL_TYPE_SCRENC by clamscan, which decodes its first
// Script Encoder block into a new file, "<script>" + decoded bytes + "</script>", and scans
// that as a file of its own (docs/html.md). Writes that file to *out; false when clamscan
// writes none (the input ends before the block's length field).
bool DecodeScriptEncoderFile(std::span<const uint8_t> in, std::vector<uint8_t>* out);

// The plain-text runs of HtmlNormalizer, exposed for their test against the byte-by-byte
// definition (html_norm_test). A text byte is printable ASCII but '<' and '&'; a lone space
// is one of ' ' \t \n \v \f between two text bytes.
namespace html_text {
// The end of the run of text bytes and lone spaces that starts at buf[i] (a run's first
// byte is never a lone space).
size_t RunEnd(const uint8_t* buf, size_t i, size_t n);
// What the run writes: ASCII lower-cased, a lone space as ' '; to `a` and to `b`.
void Map(const uint8_t* in, size_t n, uint8_t* a, uint8_t* b);
}  // namespace html_text

// One normaliser per scanner (not thread-safe). Run() reuses the output and scratch buffers:
// after the largest file so far it allocates nothing. Runs in time linear in the input
// and never fails; hostile input only makes it stop early (stop()).
class HtmlNormalizer {
 public:
  // Why the output ends where it does.
  enum class Stop : uint8_t {
    kEnd,             // the whole input was normalised
    kStyleUnderflow,  // "</style>" closed a style block less than 8 bytes into a chunk:
                      // clamscan 1.4.6 abandons the file there and so do we
    kEngineError,     // ClamAV's state machine reached its error state (libclamav aborts)
  };

  // Normalises `in`; the results stay valid until the next Run() or Trim().
  void Run(std::span<const uint8_t> in);

  std::span<const uint8_t> nocomment() const { return {nc_.data(), nc_len_}; }
  std::span<const uint8_t> notags() const { return {nt_.data(), nt_len_}; }
  // The "javascript" buffer: every <script> block through ClamAV's JavaScript normaliser
  // (js_norm.h), "\n"-separated; empty when the file has no <script> tag that was processed.
  std::span<const uint8_t> javascript() const { return js_.output(); }
  // A budget of the JavaScript normaliser cut a block short (javascript() then differs
  // from clamscan's).
  bool javascript_truncated() const { return js_.truncated(); }
  Stop stop() const { return stop_; }

  // Frees any buffer larger than `keep` bytes (a scanner calls this after a huge file, so
  // that one 40 MiB page does not pin 80 MiB per thread).
  void Trim(size_t keep);

 private:
  enum class State : uint8_t;
  struct Arg {
    uint32_t name_off, name_len;
    uint32_t value_off, value_len;
    bool has_value;
  };

  void Reset();
  // Processes one chunk (ClamAV reads the input 8191 non-NUL bytes at a time).
  void Chunk(const uint8_t* buf, size_t n);
  void Finish();
  // Records the current attribute (name_ and, if `with_value`, value_) for the tag.
  void AddArg(bool with_value);
  const Arg* FindArg(std::string_view name) const;
  std::string_view ArgName(const Arg& a) const;
  std::string_view ArgValue(const Arg& a) const;
  void ProcessTag(size_t pos);
  // Hands bytes [begin, end) of the current chunk to the JavaScript normaliser, with LF as
  // the space the HTML state machine made of it (not in the chunk's leading whitespace).
  void FeedJs(size_t begin, size_t end);
  // Output helpers.
  void PutNc(uint8_t c) {
    if (nc_len_ == nc_.size()) Grow(&nc_, 1);
    nc_[nc_len_++] = c;
  }
  void PutNt(uint8_t c) {
    if (nt_len_ == nt_.size()) Grow(&nt_, 1);
    nt_[nt_len_++] = c;
  }
  void PutNc(std::string_view s);
  // notags gets one space for a tag, comment, entity or control byte, unless it just got one.
  void Sep() {
    if (raw_ == 0 && !sep_written_) {
      PutNt(' ');
      sep_written_ = true;
    }
  }
  void ValueAdd(uint8_t c) {
    if (value_len_ < kStrMax) value_[value_len_++] = c;
  }
  // Writes a pending group of up to three 8-bit bytes (`mb`, oldest byte highest) to
  // nocomment and through `second`; the last byte is written even when it is 0 (a lone
  // byte that became NUL). `repeat_middle`: `second` gets the middle byte again instead
  // of the last, as ClamAV's notags does [observed, n12].
  template <typename Second>
  void EmitGroup(uint32_t mb, Second second, bool repeat_middle) {
    const auto c0 = static_cast<uint8_t>(mb >> 16), c1 = static_cast<uint8_t>(mb >> 8), c2 = static_cast<uint8_t>(mb);
    if (c0) {
      PutNc(c0);
      second(c0);
    }
    if (c0 || c1) {
      PutNc(c1);
      second(c1);
    }
    PutNc(c2);
    second(repeat_middle ? c1 : c2);
  }
  static void Grow(std::vector<uint8_t>* v, size_t more);
  // The kSkipWs state run at once: its whitespace consumed and, if a byte follows in the
  // chunk, the move to next_ it would make there (saves a dispatch per tag boundary).
  void SkipWsNow(const uint8_t* buf, size_t* i, size_t n);
  // Makes the current chunk writable (copies it to chunk_ unless it is there already);
  // *buf then points at the copy.
  uint8_t* WritableChunk(const uint8_t** buf, size_t n);

  static constexpr size_t kStrMax = 1024;  // tag, attribute, value and entity name buffers

  // Outputs.
  std::vector<uint8_t> nc_, nt_;
  size_t nc_len_ = 0, nt_len_ = 0;
  Stop stop_ = Stop::kEnd;
  // Chunk scratch: used when the input holds NUL bytes (they are dropped) or when a Script
  // Encoder marker or block has to be patched or decoded in place.
  std::vector<uint8_t> chunk_;
  // Script blocks: the JavaScript normaliser gets each block's raw bytes from the byte after
  // "<script ...>" to the byte after "</script>", chunk by chunk, as libclamav's does.
  static constexpr size_t kNoPos = SIZE_MAX;
  JsNormalizer js_;
  std::vector<uint8_t> js_piece_;
  size_t js_begin_ = kNoPos;  // where the block starts in this chunk (kNoPos: at its start)
  const uint8_t* chunk_buf_ = nullptr;
  size_t chunk_ws_end_ = 0;  // end of the chunk's leading whitespace
  // Chunk positions whose LF the JavaScript normaliser gets as LF (the state machine never
  // looked at them): the length fields of Script Encoder blocks, in increasing order.
  std::vector<std::pair<size_t, size_t>> keep_lf_;
  // Attributes of the current tag (only kept for the tags whose attributes matter).
  std::vector<uint8_t> arg_bytes_;
  std::vector<Arg> args_;

  // State machine (names follow libclamav's htmlnorm.c states).
  State state_{};
  State next_{};
  State saved_next_{};
  uint8_t raw_ = 0;  // 0, kRawScript or kRawStyle: inside <script> or <style>
  bool sep_written_ = false;
  bool binary_ = false;  // inside an RFC 2397 data URI: LF and CR are kept
  bool escape_ = false;
  uint8_t quoted_ = 0;   // 0, '\'' or '"'
  bool keep_args_ = false;
  bool look_for_screnc_ = false;
  bool hex_ = false;
  size_t screnc_at_ = 0;  // 0: none; else position after "#@~^" in the current chunk
  bool screnc_rescan_ = false;  // this pass re-reads the chunk from screnc_at_
  // A Script Encoder block being decoded (it may span chunks): bytes left, table position.
  bool in_screnc_ = false;
  uint32_t screnc_left_ = 0;
  uint8_t screnc_pos_ = 0;
  uint32_t mb_ = 0, mb2_ = 0;  // pending 8-bit groups (text, attribute value)
  uint64_t num_ = 0;          // numeric character reference being read
  uint32_t esc_len_ = 0;
  uint8_t tag_[kStrMax];
  size_t tag_len_ = 0;
  uint8_t name_[kStrMax];
  size_t name_len_ = 0;
  uint8_t value_[kStrMax];
  size_t value_len_ = 0;
  uint8_t ent_[kStrMax];
  size_t ent_len_ = 0;
};

}  // namespace avkey::engine
