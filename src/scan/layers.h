// Private to src/scan: scans one top-level file and every layer unpacked from it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <stop_token>
#include <string>
#include <vector>

#include "avkey/engine/engine.h"
#include "avkey/scan/scan.h"
#include "engine/huge_pages.h"
#include "scan/extract.h"

struct libdeflate_decompressor;

namespace avkey::scan {

// What one top-level file produced.
struct FileResults {
  std::vector<DetectionRecord> detections;
  std::vector<IncompleteItem> incomplete;
  uint64_t members = 0;  // container members scanned
  void clear() {
    detections.clear();
    incomplete.clear();
    members = 0;
  }
};

// One per worker thread: owns the engine::Scanner and one member buffer per container
// depth, reused from file to file. Not thread-safe.
class LayerScanner {
 public:
  LayerScanner(std::shared_ptr<const engine::Database> db, const ArchiveLimits& limits,
               std::stop_token stop);
  ~LayerScanner();
  LayerScanner(const LayerScanner&) = delete;
  LayerScanner& operator=(const LayerScanner&) = delete;

  // Scans `data` (the whole content of the file at `path`) with the engine, then unpacks
  // it if it is a container, recursively within the limits. Appends to *out.
  void ScanFile(const std::string& path, std::string_view owner, std::span<const uint8_t> data,
                FileResults* out);
  // How many gzip members ScanLoneGzip decoded (its tests: the same results either way).
  uint64_t lone_gzips() const { return lone_gzips_; }

 private:
  struct State;
  enum class Flow { kContinue, kAbortFile };
  // `scan_as`: "CL_TYPE_X" when the layer is the re-scan an .ldb HandlerType signature
  // asked for (the same bytes, one level deeper, typed X).
  Flow ScanLayer(State& st, std::span<const uint8_t> data, uint32_t depth, std::string_view scan_as = {});
  // What the HandlerType signatures that matched a layer do, as clamscan does it: the
  // first re-scans the layer as its type, one level deeper; any other, or one matching
  // the re-scan itself, is reported (libclamav re-scans only bytes whose hash differs
  // from those it last re-scanned).
  Flow HandleTypes(State& st, std::span<const uint8_t> data, uint32_t depth, std::string_view layer_type,
                   std::span<const engine::HandlerMatch> matches);
  // Unpacks `data` if it is a container (avkey's own extractors first for the formats
  // they sniff, then libarchive, then encoded blocks in text) and scans each member
  // with ScanLayer(depth + 1). Not a container: does nothing.
  // `type`: what the engine detected the data to be.
  Flow ScanContainer(State& st, std::span<const uint8_t> data, engine::TargetType type, uint32_t depth);
  // libarchive's part of ScanContainer. *handled: false if libarchive read nothing.
  Flow ScanArchive(State& st, std::span<const uint8_t> data, uint32_t depth, bool* handled);
  // A lone gzip member decoded by libdeflate in one call, scanned as ScanArchive would
  // scan it; false (nothing done) for anything it leaves to libarchive.
  bool ScanLoneGzip(State& st, std::span<const uint8_t> data, uint32_t depth, Flow* flow);
  // Runs one of avkey's extractors (extract.h) on `data` with every budget applied.
  class Sink;
  Flow RunExtractor(State& st, std::span<const uint8_t> data, uint32_t depth,
                    void (*extract)(std::span<const uint8_t>, ChildSink&));

  engine::Scanner scanner_;
  ArchiveLimits limits_;
  std::stop_token stop_;
  std::vector<engine::Detection> hits_;
  std::vector<std::vector<uint8_t>> buffers_;  // [depth]: the member an own extractor unpacks at depth
  // [depth]: the libarchive member being unpacked at depth, in transparent huge pages once
  // past 1 MiB (engine/huge_pages.h): fresh 4 KiB pages cost ~14 us each to fault in on the
  // VMs avkey is measured on, and members are read into fresh memory as they grow.
  std::vector<engine::HugeVector<uint8_t>> archive_buffers_;
  struct DeflateDeleter {
    void operator()(libdeflate_decompressor* d) const;
  };
  std::unique_ptr<libdeflate_decompressor, DeflateDeleter> gunzip_;  // ScanLoneGzip's, made on first use
  uint64_t lone_gzips_ = 0;
};

// What libarchive alone makes of `data`, with the readers ScanArchive sets up: true if the
// archive reader opens it or the raw reader finds a compression filter. The oracle for
// MayBeLibarchiveInput (archive_sniff.h), which must be true whenever this is.
bool LibarchiveOpens(std::span<const uint8_t> data);

// Hex SHA-256 of `data`.
std::string Sha256Hex(std::span<const uint8_t> data);

}  // namespace avkey::scan
