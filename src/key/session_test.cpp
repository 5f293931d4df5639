// KeySession pieces that need no scan: the "auto" targets.
#include "avkey/key/session.h"

#include <gtest/gtest.h>

#include <map>

#include "key_test_util.h"

namespace avkey::key {
namespace {

TEST(AutoTargets, LocalFixedFileSystemsOncePerDeviceNotTheKey) {
  testing::TempDir sys;
  testing::WriteFile(sys / "sys/block/sda/removable", "0\n");
  testing::WriteFile(sys / "sys/block/sdb/removable", "1\n");
  testing::WriteFile(sys / "sys/block/nvme0n1/removable", "0\n");
  std::string mounts =
      "/dev/nvme0n1p2 / ext4 rw,relatime 0 0\n"
      "proc /proc proc rw 0 0\n"
      "sysfs /sys sysfs rw 0 0\n"
      "devtmpfs /dev devtmpfs rw 0 0\n"
      "tmpfs /dev/shm tmpfs rw 0 0\n"
      "/dev/sda1 /data xfs rw 0 0\n"
      "/dev/sda1 /srv/bind xfs rw 0 0\n"          // bind mount of /data: same device
      "/dev/sdb1 /media/usb vfat rw 0 0\n"        // removable media
      "/dev/sdc1 /media/avkey vfat rw 0 0\n"      // the key itself (not flagged removable)
      "server:/export /mnt/nfs nfs4 rw 0 0\n"
      "/dev/sda2 /mnt/with\\040space ext4 rw 0 0\n";
  std::map<std::string, dev_t> devs = {{"/", 1},         {"/dev/shm", 2},    {"/data", 3},
                                       {"/srv/bind", 3}, {"/media/usb", 4},  {"/media/avkey", 5},
                                       {"/mnt/nfs", 6},  {"/mnt/with space", 7}};
  auto dev_of = [&](const std::string& p, dev_t* d) {
    auto it = devs.find(p);
    if (it == devs.end()) return false;
    *d = it->second;
    return true;
  };
  auto t = AutoTargets(mounts, sys.path(), /*key_dev=*/5, dev_of);
  EXPECT_EQ(t, (std::vector<std::string>{"/", "/dev/shm", "/data", "/mnt/with space"}));
}

TEST(AutoTargets, RootIsAlwaysScanned) {
  testing::TempDir sys;
  testing::WriteFile(sys / "sys/block/sda/removable", "1\n");  // an appliance booting from flash
  auto dev_of = [](const std::string& p, dev_t* d) {
    *d = p == "/" ? 1 : 2;
    return true;
  };
  // The key is a directory on the root file system (dev 1): / is still scanned.
  auto t = AutoTargets("/dev/sda1 / ext4 rw 0 0\n/dev/sdb1 /media/k vfat rw 0 0\n", sys.path(), 1, dev_of);
  EXPECT_EQ(t, (std::vector<std::string>{"/", "/media/k"}));
}

TEST(AutoTargets, UnreachableMountPointsAreSkipped) {
  auto none = [](const std::string&, dev_t*) { return false; };
  EXPECT_TRUE(AutoTargets("/dev/sda1 / ext4 rw 0 0\n", "/nonexistent", 0, none).empty());
}

}  // namespace
}  // namespace avkey::key
