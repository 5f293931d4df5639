// MIME mail and encoded text. Grammar followed (loosely, as mail clients do):
//   message  = header-block CRLF body            (RFC 5322; LF alone accepted)
//   multipart body = preamble ("--" boundary [ "--" ] LWSP CRLF part)* epilogue
//   mbox     = ("From " line message)*            (split at every line starting "From ")
// Nesting is walked with an explicit stack limited to kMaxNesting levels; every part
// is a span of the input, so memory is the stack plus one decoded child at a time.
#include "scan/mime.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>

#include "fmt/format.h"

namespace avkey::scan {
namespace {

constexpr int kMaxNesting = 32;          // multipart / message/rfc822 levels
constexpr size_t kMaxParts = 100000;     // parts split per mail (each costs 24 bytes)
constexpr size_t kMaxHeaderLines = 4096; // per header block

using Bytes = std::span<const uint8_t>;

std::string_view View(Bytes b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

bool IStartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && IEquals(s.substr(0, prefix.size()), prefix);
}

std::string ToLower(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = Lower(c);
  return r;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

// One line of `text` starting at `pos`: [pos, end) without the EOL; *next after the EOL.
std::string_view Line(std::string_view text, size_t pos, size_t* next) {
  size_t nl = text.find('\n', pos);
  size_t end = nl == std::string_view::npos ? text.size() : nl;
  *next = nl == std::string_view::npos ? text.size() : nl + 1;
  std::string_view line = text.substr(pos, end - pos);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

bool IsHeaderName(std::string_view name) {
  if (name.empty() || name.size() > 76) return false;
  for (char c : name) {
    if (c <= ' ' || c > '~' || c == ':') return false;
  }
  return true;
}

struct Header {
  std::string name;  // lower case
  std::string value;
};

// Parses the header block at the start of `text`. *body_pos: where the body starts
// (after the blank line; text.size() if none). Returns false if the first line is not
// a header (then *body_pos == 0: the whole entity is body).
bool ParseHeaders(std::string_view text, std::vector<Header>* headers, size_t* body_pos) {
  headers->clear();
  *body_pos = 0;
  size_t pos = 0;
  size_t lines = 0;
  while (pos < text.size()) {
    size_t next;
    std::string_view line = Line(text, pos, &next);
    if (line.empty()) {
      *body_pos = next;
      return !headers->empty();
    }
    if ((line[0] == ' ' || line[0] == '\t')) {
      if (headers->empty()) return false;
      if (headers->back().value.size() < 16384) headers->back().value.append(" ").append(Trim(line));
    } else {
      size_t colon = line.find(':');
      if (colon == std::string_view::npos || !IsHeaderName(line.substr(0, colon))) {
        if (headers->empty()) return false;
        // A damaged header block: the body starts here.
        *body_pos = pos;
        return true;
      }
      if (++lines > kMaxHeaderLines) {
        *body_pos = pos;
        return true;
      }
      headers->push_back({ToLower(line.substr(0, colon)), std::string(Trim(line.substr(colon + 1)))});
    }
    pos = next;
  }
  *body_pos = text.size();
  return !headers->empty();
}

const std::string* Find(const std::vector<Header>& headers, std::string_view name) {
  for (const auto& h : headers) {
    if (h.name == name) return &h.value;
  }
  return nullptr;
}

// The value of parameter `name` in a structured header ("type/sub; name=value; ...").
std::string Param(std::string_view value, std::string_view name) {
  size_t pos = value.find(';');
  while (pos != std::string_view::npos && pos < value.size()) {
    ++pos;
    while (pos < value.size() && (value[pos] == ' ' || value[pos] == '\t')) ++pos;
    size_t eq = value.find('=', pos);
    if (eq == std::string_view::npos) return "";
    std::string_view key = Trim(value.substr(pos, eq - pos));
    size_t v = eq + 1;
    while (v < value.size() && (value[v] == ' ' || value[v] == '\t')) ++v;
    std::string result;
    size_t end;
    if (v < value.size() && value[v] == '"') {
      end = v + 1;
      while (end < value.size() && value[end] != '"') {
        if (value[end] == '\\' && end + 1 < value.size()) ++end;
        result += value[end++];
      }
      end = value.find(';', end);
    } else {
      end = value.find(';', v);
      result = std::string(Trim(value.substr(v, end == std::string_view::npos ? std::string_view::npos : end - v)));
    }
    if (IEquals(key, name)) return result;
    pos = end;
  }
  return "";
}

std::string MainType(std::string_view value) {
  size_t semi = value.find(';');
  return ToLower(Trim(value.substr(0, semi)));
}

constexpr std::string_view kMailHeaders[] = {"from",        "to",         "subject",
                                             "date",        "received",   "return-path",
                                             "message-id",  "mime-version", "content-type",
                                             "content-transfer-encoding", "delivered-to",
                                             "reply-to"};

int8_t B64Value(uint8_t c) {
  if (c >= 'A' && c <= 'Z') return static_cast<int8_t>(c - 'A');
  if (c >= 'a' && c <= 'z') return static_cast<int8_t>(c - 'a' + 26);
  if (c >= '0' && c <= '9') return static_cast<int8_t>(c - '0' + 52);
  if (c == '+' || c == '-') return 62;  // '-' and '_': the URL-safe alphabet
  if (c == '/' || c == '_') return 63;
  return -1;
}

int HexValue(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Splits a multipart body at "--boundary" lines. Returns the parts (possibly none).
void SplitMultipart(Bytes body, std::string_view boundary, std::vector<Bytes>* parts, size_t cap) {
  parts->clear();
  std::string_view text = View(body);
  std::string delim = "--" + std::string(boundary);
  size_t pos = 0;
  size_t part_start = std::string_view::npos;
  while (pos < text.size()) {
    size_t next;
    std::string_view line = Line(text, pos, &next);
    if (line.size() >= delim.size() && line.substr(0, delim.size()) == delim) {
      std::string_view rest = line.substr(delim.size());
      bool close = rest.size() >= 2 && rest.substr(0, 2) == "--";
      if (close || Trim(rest).empty()) {
        if (part_start != std::string_view::npos) {
          // The EOL before the delimiter belongs to the delimiter.
          size_t end = pos;
          if (end > part_start && text[end - 1] == '\n') --end;
          if (end > part_start && text[end - 1] == '\r') --end;
          if (parts->size() >= cap) return;
          parts->push_back(body.subspan(part_start, end - part_start));
        }
        if (close) return;
        part_start = next;
      }
    }
    pos = next;
  }
  // No closing delimiter: the last part runs to the end.
  if (part_start != std::string_view::npos && part_start < text.size() && parts->size() < cap) {
    parts->push_back(body.subspan(part_start));
  }
}

// Decodes `body` by `encoding` into sink.Buffer() and hands it over. Returns false to stop.
bool EmitDecoded(Bytes body, std::string_view encoding, std::string name, ChildSink& sink) {
  uint64_t room = sink.Room();
  std::vector<uint8_t>& out = sink.Buffer();
  out.clear();
  std::string enc = ToLower(Trim(encoding));
  bool fits = true;
  Bytes data = body;
  if (enc == "base64") {
    fits = DecodeBase64(body, &out, room);
    data = out;
  } else if (enc == "quoted-printable") {
    fits = DecodeQuotedPrintable(body, &out, room);
    data = out;
  } else if (enc == "x-uuencode" || enc == "x-uue" || enc == "uuencode") {
    // The body holds "begin MODE NAME" then the lines.
    std::string_view text = View(body);
    size_t begin = text.find("begin ");
    if (begin != std::string_view::npos) {
      size_t next;
      std::string_view line = Line(text, begin, &next);
      size_t sp = line.find(' ', 6);
      if (name.starts_with("part-") && sp != std::string_view::npos) {
        std::string_view n = Trim(line.substr(sp + 1));
        if (!n.empty()) name = std::string(n);
      }
      size_t consumed = 0;
      fits = DecodeUu(body.subspan(next), &out, room, &consumed);
      data = out;
    }
  } else if (body.size() > room) {
    fits = false;
  }
  if (!fits) {
    sink.Overflow();
    return false;
  }
  return sink.Child(std::move(name), data);
}

bool IsUuLine(std::string_view line) {
  if (line.empty()) return false;
  for (char c : line) {
    if (c < ' ' || c > '`') return false;
  }
  size_t n = static_cast<size_t>((line[0] - ' ') & 63);
  size_t need = (n + 2) / 3 * 4;  // characters after the length character
  // Encoders may drop trailing spaces; allow short lines but never longer than the count.
  return line.size() - 1 <= need + 2;
}

}  // namespace

bool DecodeBase64(Bytes in, std::vector<uint8_t>* out, uint64_t room) {
  uint32_t acc = 0;
  int bits = 0;
  for (uint8_t c : in) {
    if (c == '=') break;
    int8_t v = B64Value(c);
    if (v < 0) continue;  // line breaks, spaces, stray characters
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (!PushBounded(*out, static_cast<uint8_t>(acc >> bits), room)) return false;
      acc &= (1u << bits) - 1;
    }
  }
  return true;
}

bool DecodeQuotedPrintable(Bytes in, std::vector<uint8_t>* out, uint64_t room) {
  for (size_t i = 0; i < in.size(); ++i) {
    uint8_t c = in[i];
    if (c == '=') {
      if (i + 2 < in.size()) {
        int hi = HexValue(in[i + 1]), lo = HexValue(in[i + 2]);
        if (hi >= 0 && lo >= 0) {
          if (!PushBounded(*out, static_cast<uint8_t>(hi * 16 + lo), room)) return false;
          i += 2;
          continue;
        }
      }
      // Soft line break: "=" [spaces] EOL.
      size_t j = i + 1;
      while (j < in.size() && (in[j] == ' ' || in[j] == '\t')) ++j;
      if (j < in.size() && in[j] == '\r') ++j;
      if (j < in.size() && in[j] == '\n') {
        i = j;
        continue;
      }
      if (j == in.size()) break;
    }
    if (!PushBounded(*out, c, room)) return false;
  }
  return true;
}

bool DecodeUu(Bytes in, std::vector<uint8_t>* out, uint64_t room, size_t* consumed) {
  std::string_view text = View(in);
  size_t pos = 0;
  *consumed = 0;
  while (pos < text.size()) {
    size_t next;
    std::string_view line = Line(text, pos, &next);
    if (line == "end" || Trim(line) == "end") {
      *consumed = next;
      return true;
    }
    if (!IsUuLine(line)) break;
    size_t n = static_cast<size_t>((line[0] - ' ') & 63);
    if (n == 0) {  // the "`" line before "end"
      pos = next;
      *consumed = next;
      continue;
    }
    auto ch = [&](size_t k) -> uint32_t {
      return k < line.size() ? static_cast<uint32_t>((line[k] - ' ') & 63) : 0;
    };
    size_t produced = 0;
    for (size_t k = 1; produced < n; k += 4) {
      uint32_t v = (ch(k) << 18) | (ch(k + 1) << 12) | (ch(k + 2) << 6) | ch(k + 3);
      for (int s = 16; s >= 0 && produced < n; s -= 8, ++produced) {
        if (!PushBounded(*out, static_cast<uint8_t>(v >> s), room)) return false;
      }
    }
    pos = next;
    *consumed = next;
  }
  return true;
}

bool LooksLikeText(Bytes data) {
  Bytes head = data.first(std::min<size_t>(data.size(), 4096));
  if (head.empty()) return false;
  size_t odd = 0;
  for (uint8_t c : head) {
    if (c == 0) return false;
    if (c < 0x20 && c != '\n' && c != '\r' && c != '\t' && c != '\f') ++odd;
  }
  return odd * 20 < head.size();  // under 5% control characters
}

bool LooksLikeMail(Bytes data) {
  // Cheap test first (this runs on every layer): the first line is "From " or "Name:".
  std::string_view first = View(data.first(std::min<size_t>(data.size(), 80)));
  size_t colon = first.find(':');
  if (!first.starts_with("From ") && (colon == std::string_view::npos || !IsHeaderName(first.substr(0, colon)))) {
    return false;
  }
  if (!LooksLikeText(data)) return false;
  std::string_view text = View(data.first(std::min<size_t>(data.size(), 64 * 1024)));
  size_t start = 0;
  if (text.starts_with("From ")) Line(text, 0, &start);
  std::vector<Header> headers;
  size_t body_pos;
  if (!ParseHeaders(text.substr(start), &headers, &body_pos)) return false;
  for (const auto& h : headers) {
    for (std::string_view known : kMailHeaders) {
      if (h.name == known) return true;
    }
  }
  return false;
}

void ExtractMail(Bytes data, ChildSink& sink) {
  std::string_view text = View(data);
  // mbox: messages start at lines "From ..."; a lone message is one "message".
  std::vector<Bytes> messages;
  {
    size_t pos = 0, msg_start = 0;
    bool mbox = text.starts_with("From ");
    while (mbox && pos < text.size()) {
      size_t next;
      std::string_view line = Line(text, pos, &next);
      if (line.starts_with("From ")) {
        if (pos > msg_start) messages.push_back(data.subspan(msg_start, pos - msg_start));
        msg_start = next;  // the "From " line itself is not part of the message
        if (messages.size() >= kMaxParts) break;
      }
      pos = next;
    }
    if (msg_start < text.size()) messages.push_back(data.subspan(msg_start));
  }

  struct Work {
    Bytes data;
    int depth;
  };
  std::vector<Work> stack;
  for (auto it = messages.rbegin(); it != messages.rend(); ++it) stack.push_back({*it, 0});
  std::vector<Header> headers;
  std::vector<Bytes> parts;
  size_t split_parts = 0;
  unsigned part_no = 0;
  bool reported_depth = false;
  while (!stack.empty()) {
    Work w = stack.back();
    stack.pop_back();
    size_t body_pos = 0;
    std::string_view etext = View(w.data);
    if (!ParseHeaders(etext, &headers, &body_pos)) {
      headers.clear();
      // No headers: a part may start with its blank line.
      body_pos = etext.starts_with("\r\n") ? 2 : etext.starts_with("\n") ? 1 : 0;
    }
    Bytes body = w.data.subspan(std::min(body_pos, w.data.size()));
    const std::string* ct = Find(headers, "content-type");
    std::string type = ct ? MainType(*ct) : "text/plain";
    const std::string* cte = Find(headers, "content-transfer-encoding");
    std::string encoding = cte ? *cte : "7bit";

    bool container = false;
    if (type.starts_with("multipart/")) {
      std::string boundary = Param(*ct, "boundary");
      if (!boundary.empty() && boundary.size() <= 200) {
        if (w.depth >= kMaxNesting) {
          if (!reported_depth) {
            sink.Problem("limit-depth", fmt::format("MIME parts nested deeper than {} levels", kMaxNesting));
            reported_depth = true;
          }
          continue;
        }
        SplitMultipart(body, boundary, &parts, kMaxParts - split_parts);
        split_parts += parts.size();
        if (split_parts >= kMaxParts) {
          sink.Problem("limit-entries", fmt::format("more than {} MIME parts", kMaxParts));
          return;
        }
        if (!parts.empty()) {
          for (auto it = parts.rbegin(); it != parts.rend(); ++it) stack.push_back({*it, w.depth + 1});
          container = true;
        }
      }
    } else if (type == "message/rfc822") {
      std::string enc = ToLower(Trim(encoding));
      if (enc != "base64" && enc != "quoted-printable" && w.depth < kMaxNesting) {
        stack.push_back({body, w.depth + 1});
        container = true;
      }
    }
    if (container || body.empty()) continue;

    ++part_no;
    std::string name;
    if (const std::string* cd = Find(headers, "content-disposition")) name = Param(*cd, "filename");
    if (name.empty() && ct) name = Param(*ct, "name");
    if (name.empty()) name = fmt::format("part-{}", part_no);
    if (!EmitDecoded(body, encoding, std::move(name), sink)) return;
  }
}

void ExtractText(Bytes data, ChildSink& sink) {
  std::string_view text = View(data);
  unsigned data_no = 0;
  // uuencode blocks: "begin MODE NAME" at the start of a line.
  for (size_t pos = 0; pos < text.size();) {
    size_t found = text.find("begin", pos);
    if (found == std::string_view::npos) break;
    pos = found + 5;
    if (found > 0 && text[found - 1] != '\n') continue;
    size_t next;
    std::string_view line = Line(text, found, &next);
    bool b64 = line.starts_with("begin-base64 ");
    size_t p = b64 ? 13 : 6;
    if (!b64 && !line.starts_with("begin ")) continue;
    size_t digits = 0;
    while (p + digits < line.size() && line[p + digits] >= '0' && line[p + digits] <= '7') ++digits;
    if (digits < 3 || digits > 4 || p + digits >= line.size() || line[p + digits] != ' ') continue;
    std::string name(Trim(line.substr(p + digits + 1)));
    if (name.empty()) name = fmt::format("uu-{}", ++data_no);
    uint64_t room = sink.Room();
    std::vector<uint8_t>& out = sink.Buffer();
    out.clear();
    size_t consumed = 0;
    bool fits;
    if (b64) {
      size_t end = text.find("\n====", next);
      end = end == std::string_view::npos ? text.size() : end;
      fits = DecodeBase64(data.subspan(next, end - next), &out, room);
      consumed = end - next;
    } else {
      fits = DecodeUu(data.subspan(next), &out, room, &consumed);
    }
    if (!fits) {
      sink.Overflow();
      return;
    }
    pos = next + consumed;
    if (out.empty()) continue;
    if (!sink.Child(std::move(name), out)) return;
  }
  // data: URIs with base64 payloads (HTML, CSS, SVG).
  for (size_t pos = 0; pos < text.size();) {
    size_t found = text.find(";base64,", pos);
    if (found == std::string_view::npos) break;
    pos = found + 8;
    size_t from = found > 256 ? found - 256 : 0;
    size_t scheme = std::string_view::npos;
    for (size_t i = found; i-- > from;) {
      if (IStartsWith(text.substr(i), "data:")) {
        scheme = i;
        break;
      }
      char c = text[i];
      if (c == '"' || c == '\'' || c == '(' || c == ' ' || c == '\n' || c == '<' || c == '>') break;
    }
    if (scheme == std::string_view::npos) continue;
    size_t end = pos;
    while (end < text.size() && (B64Value(static_cast<uint8_t>(text[end])) >= 0 || text[end] == '=' ||
                                 text[end] == '\r' || text[end] == '\n')) {
      ++end;
    }
    if (end == pos) continue;
    uint64_t room = sink.Room();
    std::vector<uint8_t>& out = sink.Buffer();
    out.clear();
    if (!DecodeBase64(data.subspan(pos, end - pos), &out, room)) {
      sink.Overflow();
      return;
    }
    pos = end;
    if (!out.empty() && !sink.Child(fmt::format("data-{}", ++data_no), out)) return;
  }
}

}  // namespace avkey::scan
