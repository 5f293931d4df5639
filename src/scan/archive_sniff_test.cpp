// MayBeLibarchiveInput must be true for every input libarchive would open (layers.h:
// LibarchiveOpens is the oracle, with the very readers the scanner uses). Checked on
// archives libarchive writes in every format and filter it can write, on the same
// archives inside self-extractor-like executables, on ClamAV's test files, on real
// executables and text from /usr, and on mutations of all of these.
#include "scan/archive_sniff.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "scan/layers.h"

namespace avkey::scan {
namespace {

using Bytes = std::vector<uint8_t>;
namespace fs = std::filesystem;

std::span<const uint8_t> View(const Bytes& b) { return {b.data(), b.size()}; }

// One member archived by libarchive's writer in `format`, through `filter` ("" for none).
Bytes WriteArchive(const char* format, const char* filter, const std::string& content) {
  archive* a = archive_write_new();
  EXPECT_EQ(archive_write_set_format_by_name(a, format), ARCHIVE_OK) << format;
  if (*filter) {
    EXPECT_EQ(archive_write_add_filter_by_name(a, filter), ARCHIVE_OK) << filter;
  }
  Bytes out(content.size() + (1 << 20));
  size_t used = 0;
  EXPECT_EQ(archive_write_open_memory(a, out.data(), out.size(), &used), ARCHIVE_OK) << archive_error_string(a);
  archive_entry* e = archive_entry_new();
  archive_entry_set_pathname(e, "member.txt");
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, 0644);
  archive_entry_set_size(e, static_cast<la_int64_t>(content.size()));
  EXPECT_EQ(archive_write_header(a, e), ARCHIVE_OK) << format << " " << archive_error_string(a);
  EXPECT_EQ(archive_write_data(a, content.data(), content.size()), static_cast<la_ssize_t>(content.size()));
  archive_entry_free(e);
  EXPECT_EQ(archive_write_close(a), ARCHIVE_OK) << format << "/" << filter << " " << archive_error_string(a);
  archive_write_free(a);
  out.resize(used);
  return out;
}

Bytes ReadFile(const fs::path& p, size_t max = SIZE_MAX) {
  std::ifstream f(p, std::ios::binary);
  Bytes b;
  char chunk[65536];
  while (b.size() < max && f.read(chunk, sizeof chunk).gcount() > 0) {
    b.insert(b.end(), chunk, chunk + f.gcount());
  }
  if (b.size() > max) b.resize(max);
  return b;
}

// Every archive the writer makes, each of them opened by libarchive (else the oracle, not
// the sniff, would be wrong).
std::vector<std::pair<std::string, Bytes>> WrittenArchives() {
  const std::string content = "archive member body\n" + std::string(3000, 'x');
  std::vector<std::pair<std::string, Bytes>> out;
  for (const char* format : {"7zip", "ar", "arbsd", "cpio", "newc", "odc", "bin", "iso9660", "ustar", "gnutar",
                             "pax", "v7tar", "warc", "zip"}) {
    out.emplace_back(format, WriteArchive(format, "", content));
  }
  for (const char* filter : {"gzip", "bzip2", "xz", "lzma", "lzip", "zstd", "lz4", "compress", "uuencode"}) {
    out.emplace_back(std::string("ustar+") + filter, WriteArchive("ustar", filter, content));
    out.emplace_back(std::string("raw+") + filter, WriteArchive("raw", filter, content));
  }
  return out;
}

// `archive` placed at `offset` inside an executable-looking file (self-extractor shape).
Bytes InsideExecutable(std::string_view magic, const Bytes& archive, size_t offset) {
  Bytes b(offset, 0x90);
  std::copy(magic.begin(), magic.end(), b.begin());
  b.insert(b.end(), archive.begin(), archive.end());
  b.insert(b.end(), 4096, 0xcc);
  return b;
}

void ExpectSuperset(std::span<const uint8_t> data, const std::string& what) {
  if (LibarchiveOpens(data)) {
    EXPECT_TRUE(MayBeLibarchiveInput(data)) << what << ": libarchive opens it, the sniff would skip it";
  }
}

TEST(ArchiveSniff, WrittenArchivesAreCandidatesAndOpen) {
  for (const auto& [name, bytes] : WrittenArchives()) {
    ASSERT_FALSE(bytes.empty()) << name;
    EXPECT_TRUE(LibarchiveOpens(View(bytes))) << name;
    EXPECT_TRUE(MayBeLibarchiveInput(View(bytes))) << name;
  }
}

TEST(ArchiveSniff, SelfExtractorsInsideExecutables) {
  const std::string content = "self-extracting payload";
  for (const char* format : {"7zip", "zip"}) {
    Bytes a = WriteArchive(format, "", content);
    for (std::string_view magic : {std::string_view("MZ"), std::string_view("\x7f" "ELF", 4)}) {
      for (size_t offset : {size_t{0x400}, size_t{0x10000}, size_t{0x27000}, size_t{0x30010}, size_t{0x70000}}) {
        Bytes exe = InsideExecutable(magic, a, offset);
        ExpectSuperset(View(exe), std::string(format) + " at " + std::to_string(offset));
      }
    }
  }
  // The 7-Zip bidder finds a signature past 0x27000 in an ELF: the case that costs most.
  Bytes sfx7z = InsideExecutable({"\x7f" "ELF", 4}, WriteArchive("7zip", "", content), 0x30000);
  EXPECT_TRUE(LibarchiveOpens(View(sfx7z)));
  EXPECT_TRUE(MayBeLibarchiveInput(View(sfx7z)));
}

TEST(ArchiveSniff, PlainFilesAreSkipped) {
  const std::string text = "Just some text.\nWith lines, and a begin that is not uuencode.\nbegin here\n";
  EXPECT_FALSE(MayBeLibarchiveInput({reinterpret_cast<const uint8_t*>(text.data()), text.size()}));
  Bytes elf(200000, 0);
  std::memcpy(elf.data(), "\x7f" "ELF\x02\x01\x01", 7);
  for (size_t i = 7; i < elf.size(); ++i) elf[i] = static_cast<uint8_t>(i * 7 + 1);
  elf[148] = 'x';  // not a tar checksum field
  EXPECT_FALSE(MayBeLibarchiveInput(View(elf)));
  ExpectSuperset(View(elf), "synthetic ELF");
}

TEST(ArchiveSniff, UuencodeBeginLine) {
  const std::string uu = "some mail text\nbegin 644 x.bin\nM9&%T80``\n`\nend\n";
  Bytes b(uu.begin(), uu.end());
  EXPECT_TRUE(MayBeLibarchiveInput(View(b)));
  ExpectSuperset(View(b), "uuencoded");
  const std::string b64 = "begin-base64 600 y\nZGF0YQ==\n====\n";
  EXPECT_TRUE(MayBeLibarchiveInput({reinterpret_cast<const uint8_t*>(b64.data()), b64.size()}));
}

// libarchive's uu bidder gives up at the first byte that is not printable ASCII, CR or LF:
// a begin line counts only if every byte up to its mode's trailing space comes before such
// a byte. Every position of every kind of stopping byte, around a begin line at 40.
TEST(ArchiveSniff, UuencodeBeginLineOnlyBeforeTheFirstNonPrintable) {
  std::string text(100, 'a');
  for (size_t i = 9; i < text.size(); i += 10) text[i] = '\n';
  const std::string line = "begin 644 f\n";  // mode space at 49
  for (unsigned char stop : {0x00, 0x09, 0x0b, 0x1f, 0x7f, 0x80, 0xff}) {
    for (size_t at = 0; at < text.size(); ++at) {
      std::string t = text;
      t.replace(40, line.size(), line);
      t[at] = static_cast<char>(stop);
      const bool want = at > 49;  // before: it stops the bidder first, or breaks the line
      Bytes b(t.begin(), t.end());
      EXPECT_EQ(MayBeLibarchiveInput(View(b)), want) << "byte " << int(stop) << " at " << at;
      ExpectSuperset(View(b), "uu with a stop byte");
    }
  }
}

// Real files: ClamAV's test files (archives of many formats, self-extractors), and
// executables and documents from this machine.
TEST(ArchiveSniff, RealFiles) {
  std::vector<fs::path> files;
  for (const char* dir : {"/usr/share/clamav-testfiles", "/usr/bin", "/usr/share/doc/libarchive13"}) {
    std::error_code ec;
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      if (e.is_regular_file(ec) && !e.is_symlink(ec) && n++ < 400) files.push_back(e.path());
    }
  }
  ASSERT_GT(files.size(), 50u);
  size_t opened = 0, skipped = 0;
  for (const auto& p : files) {
    Bytes b = ReadFile(p, 64u << 20);
    if (LibarchiveOpens(View(b))) {
      ++opened;
      EXPECT_TRUE(MayBeLibarchiveInput(View(b))) << p << ": libarchive opens it, the sniff would skip it";
    }
    if (!MayBeLibarchiveInput(View(b))) ++skipped;
  }
  EXPECT_GT(opened, 10u);   // clamav-testfiles hold many archives
  EXPECT_GT(skipped, 50u);  // and most executables are not
}

// Mutations near the places bidders look at: the first bytes, offsets 2-6 (lha), the tar
// checksum, the end record, and truncation.
TEST(ArchiveSniff, MutationsKeepTheSuperset) {
  std::mt19937 rng(20261129);
  std::vector<Bytes> seeds;
  for (auto& [name, bytes] : WrittenArchives()) seeds.push_back(std::move(bytes));
  seeds.push_back(InsideExecutable("MZ", WriteArchive("zip", "", "x"), 0x2000));
  for (const Bytes& seed : seeds) {
    for (int round = 0; round < 150; ++round) {
      Bytes m = seed;
      const int edits = 1 + static_cast<int>(rng() % 3);
      for (int e = 0; e < edits; ++e) {
        const size_t zone = rng() % 4;
        size_t at = 0;
        if (zone == 0) at = rng() % std::min<size_t>(m.size(), 16);
        if (zone == 1) at = 148 + rng() % 8;
        if (zone == 2) at = m.size() - 1 - rng() % std::min<size_t>(m.size(), 64);
        if (zone == 3) at = rng() % m.size();
        if (at < m.size()) m[at] = static_cast<uint8_t>(rng());
      }
      if (rng() % 4 == 0) m.resize(rng() % m.size());
      ExpectSuperset(View(m), "mutant");
    }
  }
}

}  // namespace
}  // namespace avkey::scan
