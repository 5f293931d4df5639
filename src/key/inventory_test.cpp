// Tests of the device inventory (inventory.h) against a fake root tree, plus one run on
// the real "/" and the gzip helpers.
#include "avkey/key/inventory.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace avkey::key {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string Sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) {
    char b[3];
    std::snprintf(b, sizeof b, "%02x", md[i]);
    hex += b;
  }
  return hex;
}

std::string ExpectedId(const std::string& id) {
  return "D-" + Sha256Hex("avkey-device:" + id).substr(0, 24);
}

// The "unavailable" entry for `item`, or null.
// True if `s` has the shape of `pattern`, where '9' stands for a decimal digit and 'h' for a
// lower-case hex digit (std::regex trips a GCC 12 -Wmaybe-uninitialized under sanitizers).
bool Shaped(std::string_view s, std::string_view pattern) {
  if (s.size() != pattern.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = pattern[i] == '9'   ? (c >= '0' && c <= '9')
              : pattern[i] == 'h' ? ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))
                                  : c == pattern[i];
    if (!ok) return false;
  }
  return true;
}
constexpr std::string_view kRfc3339Shape = "9999-99-99T99:99:99Z";
constexpr std::string_view kDeviceIdShape = "D-hhhhhhhhhhhhhhhhhhhhhhhh";

json FindUnavailable(const json& doc, std::string_view item) {
  for (const json& u : doc.at("unavailable")) {
    if (u.at("item") == item) return u;
  }
  return nullptr;
}

json FindFile(const json& doc, std::string_view path) {
  for (const json& f : doc.at("files")) {
    if (f.at("path") == path) return f;
  }
  return nullptr;
}

class FakeRoot : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "avkey-inventory-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  // Writes `content` at device path `rel` ("etc/machine-id"), creating directories.
  void Write(const std::string& rel, std::string_view content, fs::perms mode = fs::perms(0644)) {
    fs::path p = fs::path(root_) / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary).write(content.data(), static_cast<std::streamsize>(content.size()));
    fs::permissions(p, mode);
  }

  // A plausible small Linux system.
  void WriteSystem() {
    Write("etc/machine-id", "0123456789abcdef0123456789abcdef\n");
    Write("etc/os-release",
          "# comment\nNAME=\"Debian GNU/Linux\"\nID=debian\nVERSION_ID=\"12\"\n"
          "PRETTY_NAME=\"Debian \\\"bookworm\\\" 12\"\n");
    Write("proc/sys/kernel/hostname", "fakehost\n");
    Write("proc/sys/kernel/ostype", "Linux\n");
    Write("proc/sys/kernel/osrelease", "6.1.0-18-amd64\n");
    Write("proc/sys/kernel/version", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1\n");
    Write("proc/meminfo", "MemTotal:        2048000 kB\nMemFree:          100 kB\n");
    Write("proc/cpuinfo",
          "processor\t: 0\nmodel name\t: Fake CPU @ 2.00GHz\n\n"
          "processor\t: 1\nmodel name\t: Fake CPU @ 2.00GHz\n\n");
    Write("proc/self/mounts",
          "/dev/sda1 / ext4 rw,relatime 0 0\n"
          "proc /proc proc rw,nosuid 0 0\n"
          "/dev/sdb1 /media/My\\040Disk vfat ro,noexec 0 0\n"
          "/dev/sdc1 /mnt/bad\\377name ext4 rw 0 0\n");
    Write("sys/block/sda/size", "1000\n");
    Write("sys/block/sda/removable", "0\n");
    Write("sys/block/sda/device/model", "FAKE DISK       \n");
    Write("sys/block/sdb/size", "64\n");
    Write("sys/block/sdb/removable", "1\n");
    Write("sys/class/net/eth0/address", "52:54:00:12:34:56\n");
    Write("sys/class/net/lo/address", "00:00:00:00:00:00\n");
    Write("sys/class/net/bonding_masters", "\n");
  }

  std::string root_;
};

TEST_F(FakeRoot, ParsesEveryFact) {
  WriteSystem();
  InventoryOptions opt;
  opt.root = root_;
  json doc = CollectInventory(opt);
  EXPECT_NO_THROW(doc.dump());

  EXPECT_EQ(doc["format"], "avkey-inventory/1");
  EXPECT_EQ(doc["root"], root_);
  EXPECT_EQ(doc["device_id"], ExpectedId("0123456789abcdef0123456789abcdef"));
  EXPECT_EQ(doc["hostname"], "fakehost");
  EXPECT_EQ(doc["machine_id"], "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(doc["os_release"],
            (json{{"ID", "debian"}, {"VERSION_ID", "12"}, {"PRETTY_NAME", "Debian \"bookworm\" 12"}}));
  EXPECT_EQ(doc["kernel"], (json{{"sysname", "Linux"},
                                 {"release", "6.1.0-18-amd64"},
                                 {"version", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1"},
                                 {"machine", nullptr}}));
  EXPECT_EQ(doc["cpu"], (json{{"model", "Fake CPU @ 2.00GHz"}, {"logical_count", 2}}));
  EXPECT_EQ(doc["memory_bytes"], 2048000ull * 1024);

  ASSERT_EQ(doc["disks"].size(), 2u);
  EXPECT_EQ(doc["disks"][0],
            (json{{"name", "sda"}, {"size_bytes", 512000}, {"removable", false}, {"model", "FAKE DISK"}}));
  EXPECT_EQ(doc["disks"][1], (json{{"name", "sdb"}, {"size_bytes", 32768}, {"removable", true}}));

  ASSERT_EQ(doc["mounts"].size(), 4u);
  EXPECT_EQ(doc["mounts"][0], (json{{"device", "/dev/sda1"},
                                    {"mount_point", "/"},
                                    {"fs_type", "ext4"},
                                    {"options", "rw,relatime"}}));
  EXPECT_EQ(doc["mounts"][2]["mount_point"], "/media/My Disk");
  EXPECT_EQ(doc["mounts"][2]["options"], "ro,noexec");
  EXPECT_EQ(doc["mounts"][3]["mount_point"], "/mnt/bad\\xFFname");  // \377: not UTF-8

  ASSERT_EQ(doc["network"].size(), 2u);  // bonding_masters is not an interface
  EXPECT_EQ(doc["network"][0],
            (json{{"name", "eth0"}, {"mac", "52:54:00:12:34:56"}, {"ipv4", json::array()}, {"ipv6", json::array()}}));
  EXPECT_EQ(doc["network"][1]["name"], "lo");

  EXPECT_TRUE(Shaped(doc["collected_at"].get<std::string>(), kRfc3339Shape)) << doc["collected_at"];
  EXPECT_FALSE(doc.contains("files"));
  EXPECT_TRUE(doc["unavailable"].empty()) << doc["unavailable"].dump();
}

TEST_F(FakeRoot, MissingFactsAreNamed) {
  InventoryOptions opt;
  opt.root = root_;  // empty tree
  json doc = CollectInventory(opt);
  EXPECT_NO_THROW(doc.dump());
  for (const char* item : {"hostname", "machine_id", "os_release", "kernel", "cpu", "memory_bytes",
                           "disks", "mounts", "network"}) {
    EXPECT_FALSE(FindUnavailable(doc, item).is_null()) << item;
  }
  EXPECT_TRUE(doc["hostname"].is_null());
  EXPECT_TRUE(doc["kernel"].is_null());
  EXPECT_EQ(doc["disks"], json::array());
  EXPECT_EQ(doc["device_id"], ExpectedId("unknown"));
  EXPECT_NE(FindUnavailable(doc, "memory_bytes")["reason"].get<std::string>().find("/proc/meminfo"),
            std::string::npos);
}

TEST_F(FakeRoot, MissingRootDoesNotFail) {
  InventoryOptions opt;
  opt.root = root_ + "/does-not-exist";
  json doc = CollectInventory(opt);
  EXPECT_EQ(doc["format"], "avkey-inventory/1");
  EXPECT_FALSE(FindUnavailable(doc, "kernel").is_null());
}

// A hostile disk's absolute link must resolve inside root, never on the host.
TEST_F(FakeRoot, LinksResolveInsideRoot) {
  Write("usr/lib/os-release", "ID=inside\n");
  fs::create_directories(fs::path(root_) / "etc");
  fs::create_symlink("/usr/lib/os-release", fs::path(root_) / "etc/os-release");
  fs::create_symlink("../../../../../../../../../etc/hostname", fs::path(root_) / "etc/hostname");
  InventoryOptions opt;
  opt.root = root_;
  json doc = CollectInventory(opt);
  EXPECT_EQ(doc["os_release"], (json{{"ID", "inside"}}));
  // etc/hostname -> (clamped at root) /etc/hostname -> itself: a loop, not the host's file.
  EXPECT_TRUE(doc["hostname"].is_null());
}

TEST_F(FakeRoot, DeviceIdIsStableAndFallsBackInOrder) {
  WriteSystem();
  Write("var/lib/dbus/machine-id", "dbusid\n");
  Write("sys/class/dmi/id/product_uuid", "4c4c4544-0042-3510-8051-b7c04f4e3432\n");
  std::string first = DeviceId(root_);
  EXPECT_EQ(first, DeviceId(root_));
  EXPECT_TRUE(Shaped(first, kDeviceIdShape)) << first;
  EXPECT_EQ(first, ExpectedId("0123456789abcdef0123456789abcdef"));

  Write("etc/machine-id", "uninitialized\n");  // first boot not complete: no id
  EXPECT_EQ(DeviceId(root_), ExpectedId("dbusid"));
  fs::remove(fs::path(root_) / "etc/machine-id");
  EXPECT_EQ(DeviceId(root_), ExpectedId("dbusid"));
  fs::remove(fs::path(root_) / "var/lib/dbus/machine-id");
  EXPECT_EQ(DeviceId(root_), ExpectedId("4c4c4544-0042-3510-8051-b7c04f4e3432"));
  Write("sys/class/dmi/id/product_uuid", "00000000-0000-0000-0000-000000000000\n");  // unset
  EXPECT_EQ(DeviceId(root_), ExpectedId("fakehost"));
  fs::remove(fs::path(root_) / "proc/sys/kernel/hostname");
  EXPECT_EQ(DeviceId(root_), ExpectedId("unknown"));
}

class FileHashes : public FakeRoot {
 protected:
  void SetUp() override {
    FakeRoot::SetUp();
    Write("usr/bin/tool", "abc", fs::perms(0755));
    Write("usr/lib/libx.so", std::string("\x7f" "ELF\x02\x01\x01", 7));
    Write("usr/lib/setup.dll", std::string("MZ\x90\x00", 4));
    Write("usr/lib/data.txt", "just text");
    Write("usr/lib/script.sh", "#!/bin/sh\n", fs::perms(0700));
    Write("usr/share/big.bin", std::string(5000, 'x'), fs::perms(0755));
    Write("usr/skip/hidden", "abc", fs::perms(0755));
    Write("usr/bin/bad\xff" "name", "abc", fs::perms(0755));
    fs::create_symlink("tool", fs::path(root_) / "usr/bin/link-to-tool");
    fs::create_symlink("/", fs::path(root_) / "usr/rootlink");  // would escape to the host
    ASSERT_EQ(::mkfifo((fs::path(root_) / "usr/bin/fifo").c_str(), 0755), 0);
    struct timespec times[2] = {{1700000000, 0}, {1700000000, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, (fs::path(root_) / "usr/bin/tool").c_str(), times, 0), 0);
    opt_.root = root_;
    opt_.file_hashes = true;
    opt_.hash_roots = {root_ + "/usr"};
    opt_.excludes = {"/usr/skip"};
    opt_.max_file_size = 4096;
  }
  InventoryOptions opt_;
};

TEST_F(FileHashes, FindsExecutablesAndSkipsLinks) {
  json doc = CollectInventory(opt_);
  ASSERT_NO_THROW(doc.dump());
  EXPECT_EQ(doc["file_hashes_truncated"], false);
  EXPECT_EQ(doc["file_hashes_interrupted"], false);
  EXPECT_EQ(doc["file_hashes_errors"], 0);

  std::vector<std::string> paths;
  for (const json& f : doc["files"]) paths.push_back(f["path"]);
  // Depth-first, names in byte order; no link, FIFO, text file or excluded directory.
  EXPECT_EQ(paths, (std::vector<std::string>{"/usr/bin/bad\\xFFname", "/usr/bin/tool", "/usr/lib/libx.so",
                                             "/usr/lib/script.sh", "/usr/lib/setup.dll",
                                             "/usr/share/big.bin"}));

  json tool = FindFile(doc, "/usr/bin/tool");
  EXPECT_EQ(tool, (json{{"path", "/usr/bin/tool"},
                        {"size", 3},
                        {"mtime", "2023-11-14T22:13:20Z"},
                        {"mode", "0755"},
                        {"kind", "other"},
                        {"sha256", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}}));
  json elf = FindFile(doc, "/usr/lib/libx.so");
  EXPECT_EQ(elf["kind"], "elf");
  EXPECT_EQ(elf["mode"], "0644");
  EXPECT_EQ(elf["sha256"], "ced1af6d51438341a0335cc00e1c2867fb718a537c1173cf210070a6b1cdf40a");
  json pe = FindFile(doc, "/usr/lib/setup.dll");
  EXPECT_EQ(pe["kind"], "pe");
  EXPECT_EQ(pe["sha256"], "9f2981a7cc4d40a2a409dc895de64253acd819d7c0011c8e80b86fe899464e31");
  EXPECT_EQ(FindFile(doc, "/usr/lib/script.sh")["kind"], "script");
  json big = FindFile(doc, "/usr/share/big.bin");
  EXPECT_TRUE(big["sha256"].is_null());
  EXPECT_EQ(big["reason"], "too-large");
  EXPECT_EQ(big["size"], 5000);
}

TEST_F(FileHashes, DevicePathHashRootAndWholeRoot) {
  opt_.hash_roots = {"/usr/lib"};  // not under root: taken as a device path
  json doc = CollectInventory(opt_);
  EXPECT_EQ(doc["files"].size(), 3u);
  EXPECT_FALSE(FindFile(doc, "/usr/lib/libx.so").is_null());

  opt_.hash_roots = {root_, root_ + "/usr/bin"};  // nested roots: each file once
  doc = CollectInventory(opt_);
  EXPECT_EQ(doc["files"].size(), 6u);
}

TEST_F(FileHashes, BudgetTruncates) {
  opt_.max_hashed_files = 2;
  json doc = CollectInventory(opt_);
  EXPECT_EQ(doc["files"].size(), 2u);
  EXPECT_EQ(doc["file_hashes_truncated"], true);
}

TEST_F(FileHashes, StopRequestInterrupts) {
  std::stop_source source;
  source.request_stop();
  opt_.stop = source.get_token();
  json doc = CollectInventory(opt_);
  EXPECT_EQ(doc["file_hashes_interrupted"], true);
  EXPECT_TRUE(doc["files"].empty());
}

TEST_F(FileHashes, LinkedHashRootIsNotFollowed) {
  opt_.hash_roots = {"/usr/rootlink"};
  json doc = CollectInventory(opt_);
  EXPECT_TRUE(doc["files"].empty());
  EXPECT_FALSE(FindUnavailable(doc, "files:/usr/rootlink").is_null()) << doc["unavailable"].dump();
}

TEST(RealRoot, DescribesThisMachine) {
  InventoryOptions opt;  // root "/", no file hashes
  json doc = CollectInventory(opt);
  ASSERT_NO_THROW(doc.dump());
  ASSERT_TRUE(doc["hostname"].is_string()) << doc["unavailable"].dump();
  EXPECT_FALSE(doc["hostname"].get<std::string>().empty());
  ASSERT_TRUE(doc["kernel"].is_object());
  EXPECT_EQ(doc["kernel"]["sysname"], "Linux");
  EXPECT_TRUE(doc["kernel"]["machine"].is_string());
  EXPECT_TRUE(doc["mounts"].is_array());
  EXPECT_FALSE(doc["mounts"].empty());
  EXPECT_TRUE(Shaped(doc["device_id"].get<std::string>(), kDeviceIdShape)) << doc["device_id"];
  EXPECT_EQ(doc["device_id"], DeviceId());
}

TEST(Gzip, RoundTrip) {
  std::string big;
  for (int i = 0; i < 200000; ++i) big += std::to_string(i * 7919 % 10007);
  for (const std::string& data : {std::string(), std::string("hello"), big}) {
    Result<std::string> z = GzipCompress(data);
    ASSERT_TRUE(z.has_value()) << z.error();
    ASSERT_GE(z->size(), 18u);
    EXPECT_EQ(static_cast<unsigned char>((*z)[0]), 0x1f);  // RFC 1952 magic
    EXPECT_EQ(static_cast<unsigned char>((*z)[1]), 0x8b);
    Result<std::string> back = GzipDecompress(*z, data.size());
    ASSERT_TRUE(back.has_value()) << back.error();
    EXPECT_EQ(*back, data);
  }
}

TEST(Gzip, ConcatenatedMembers) {
  std::string z = *GzipCompress("one ") + *GzipCompress("two");
  Result<std::string> back = GzipDecompress(z, 100);
  ASSERT_TRUE(back.has_value()) << back.error();
  EXPECT_EQ(*back, "one two");
}

TEST(Gzip, CorruptInputIsAnError) {
  std::string z = *GzipCompress(std::string(10000, 'a') + "tail");
  EXPECT_FALSE(GzipDecompress("", 100).has_value());
  EXPECT_FALSE(GzipDecompress("not gzip at all", 100).has_value());
  EXPECT_FALSE(GzipDecompress(z.substr(0, z.size() - 6), 1 << 20).has_value());  // truncated
  std::string flipped = z;
  flipped[z.size() - 5] ^= 0x55;  // CRC-32/ISIZE trailer no longer matches
  EXPECT_FALSE(GzipDecompress(flipped, 1 << 20).has_value());
  std::string garbage = z + "xyz";
  Result<std::string> r = GzipDecompress(garbage, 1 << 20);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().find("trailing"), std::string::npos) << r.error();
}

TEST(Gzip, MaxOutputEnforced) {
  std::string z = *GzipCompress(std::string(1 << 20, '\0'));  // ~1 KiB inflating to 1 MiB
  EXPECT_TRUE(GzipDecompress(z, 1 << 20).has_value());
  Result<std::string> r = GzipDecompress(z, (1 << 20) - 1);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().find("larger than"), std::string::npos) << r.error();
  EXPECT_FALSE(GzipDecompress(z, 0).has_value());
}

}  // namespace
}  // namespace avkey::key
