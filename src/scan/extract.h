// Private to src/scan: the seam between the layer walker and avkey's own extractors
// (formats libarchive does not read: MIME mail, BinHex, PDF streams, OLE2, RTF, TNEF, SZDD).
//
// An extractor is a plain function `void ExtractFoo(std::span<const uint8_t>, ChildSink&)`:
// it parses untrusted bytes with loops and explicit bounds (never recursion on input-
// controlled depth) and hands every object it finds to the sink. The sink owns every
// budget: an extractor asks Room() before producing bytes and never allocates more
// than Room() + a small constant for one child; when a child would be larger it calls
// Overflow() and returns. Malformed input yields Problem("corrupt-archive", ...) or
// simply no children; it never throws on purpose (the walker still catches).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace avkey::scan {

class ChildSink {
 public:
  virtual ~ChildSink() = default;
  // Most bytes the next child may have (unpacked-bytes and ratio budgets).
  virtual uint64_t Room() const = 0;
  // A child would exceed Room(): the sink reports the budget by name. Stop extracting.
  virtual void Overflow() = 0;
  // Scans one extracted object, named `name` in the member chain. `data` need only live
  // for the call. Returns false when the extractor must stop (a budget, time, or the
  // user's interrupt); the sink has already reported why.
  virtual bool Child(std::string name, std::span<const uint8_t> data) = 0;
  // The container is damaged or uses something unsupported: code is an IncompleteItem
  // code ("corrupt-archive", "unsupported-format", "limit-depth"...). Extraction may go on.
  virtual void Problem(std::string code, std::string detail) = 0;
  // A reusable buffer for one child at a time (cleared by the extractor before use).
  virtual std::vector<uint8_t>& Buffer() = 0;
  // Base name of the container being unpacked (for formats that do not store one).
  virtual std::string ContainerName() const { return ""; }
};

// Appends `byte` to `out` unless out already holds `room` bytes. Returns false when full.
inline bool PushBounded(std::vector<uint8_t>& out, uint8_t byte, uint64_t room) {
  if (out.size() >= room) return false;
  out.push_back(byte);
  return true;
}

}  // namespace avkey::scan
