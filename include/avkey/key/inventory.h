// Device inventory: what the scanned device is (identity, OS, kernel, hardware, mounts,
// network) and, on request, which executables it holds with their SHA-256, so the console
// can tell devices apart and compare them over time.
//
// The device may be hostile. Nothing on it is executed; files are opened with
// O_NOFOLLOW|O_NOATIME and only if regular; symbolic links in fact files are resolved inside
// `root` (an absolute link never escapes to the host); the executable walk follows no link
// at all and stays out of kernel pseudo file systems. No NSS call is made (the scanner is
// linked statically), so there is no user/group name lookup. All functions are thread-safe
// and never throw.
//
// JSON produced by CollectInventory ("avkey-inventory/1"). Strings read from the device are
// made valid UTF-8 with scan::EscapeName (invalid bytes -> "\xNN", backslash -> "\\"), so
// the document always serialises. A fact that cannot be read is null (or an empty array) and
// is named in "unavailable".
//
//   {
//     "format":       "avkey-inventory/1",
//     "device_id":    "D-0123456789abcdef01234567",          // DeviceId(root)
//     "root":         "/",                                  // options.root as given
//     "collected_at": "2024-05-01T12:00:00Z",               // RFC 3339, UTC, seconds
//     "hostname":     "box" | null,      // proc/sys/kernel/hostname, else etc/hostname,
//                                        // else uname(2) nodename when root == "/"
//     "machine_id":   "<hex>" | null,    // etc/machine-id, else var/lib/dbus/machine-id
//     "os_release":   {"ID": "debian", "VERSION_ID": "12", "PRETTY_NAME": "..."} | null,
//                                        // etc/os-release, else usr/lib/os-release; keys
//                                        // absent from the file are absent here
//     "kernel":       {"sysname": "Linux", "release": "6.1.0", "version": "#1 SMP ...",
//                      "machine": "x86_64" | null} | null,
//                                        // uname(2) when root == "/", else
//                                        // proc/sys/kernel/{ostype,osrelease,version}
//                                        // (no source for "machine": null)
//     "cpu":          {"model": "..." | null, "logical_count": 8} | null,   // proc/cpuinfo
//     "memory_bytes": 16663691264 | null,                   // MemTotal of proc/meminfo
//     "disks":        [{"name": "sda", "size_bytes": 512110190592, "removable": false,
//                       "model": "..."}],                   // sys/block; "model" (and
//                                        // "vendor") only if sys/block/<d>/device has it
//     "mounts":       [{"device": "/dev/sda1", "mount_point": "/", "fs_type": "ext4",
//                       "options": "rw,relatime"}],         // proc/self/mounts, in file
//                                        // order, octal escapes (\040 ...) decoded
//     "network":      [{"name": "eth0", "mac": "52:54:00:12:34:56" | null,
//                       "ipv4": ["192.168.1.2/24"], "ipv6": ["fe80::1/64"]}],
//                                        // sys/class/net/<if>/address; addresses from
//                                        // getifaddrs(3) only when root == "/"
//     "unavailable":  [{"item": "memory_bytes", "reason": "proc/meminfo: No such file..."}],
//
//     // Only with options.file_hashes:
//     "files": [{"path": "/usr/bin/ls", "size": 138208, "mtime": "2023-01-01T00:00:00Z",
//                "mode": "0755", "kind": "elf" | "pe" | "script" | "other",
//                "sha256": "<64 hex>" | null,
//                "reason": "too-large" | "cannot open: ..." | "read failed: ..."}],
//                                        // "reason" only when sha256 is null; ordered by
//                                        // a depth-first walk, names sorted bytewise
//     "file_hashes_truncated":   false,  // true: max_hashed_files reached, walk stopped
//     "file_hashes_interrupted": false,  // true: options.stop was requested
//     "file_hashes_errors":      0       // entries that could not be examined; the first
//                                        // 100 are in "unavailable" as "files:<path>"
//   }
//
// Paths are as on the device: `root` is stripped ("/mnt/sda1/usr/bin/ls" -> "/usr/bin/ls").
#pragma once

#include <cstdint>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "avkey/engine/status.h"
#include "nlohmann/json.hpp"

namespace avkey::key {

struct InventoryOptions {
  // Host path of the device's file system root; fact files are read below it (tests point
  // it at a fake tree). Live facts (uname, getifaddrs) are used only when it is "/".
  std::string root = "/";
  // Also list executables: path, size, mtime, mode, sha256.
  bool file_hashes = false;
  // Where to look for executables: absolute host paths at or under `root`; a path not under
  // `root` is taken as relative to it ("/usr" with root "/mnt/sda1" -> "/mnt/sda1/usr").
  // A root that is itself a symbolic link is not followed (reported in "unavailable").
  std::vector<std::string> hash_roots;
  // Skipped paths: an entry matches a path equal to it or below it ("/usr/lib" skips
  // "/usr/lib/x" but not "/usr/lib64"), compared with both the host and the device path.
  std::vector<std::string> excludes;
  // Budget: when one more executable is found beyond it, the walk stops and
  // "file_hashes_truncated" is true.
  uint64_t max_hashed_files = 200000;
  // Larger executables are listed with sha256 null and reason "too-large" (0: no limit).
  uint64_t max_file_size = 256ull << 20;
  std::stop_token stop;
};

// Stable identifier of this device: "D-" + first 24 hex chars of
// SHA-256("avkey-device:" + id) where id is the first available of: <root>/etc/machine-id,
// <root>/var/lib/dbus/machine-id, <root>/sys/class/dmi/id/product_uuid, the host name
// (<root>/proc/sys/kernel/hostname, else <root>/etc/hostname, else uname(2) when root is
// "/"). Never fails: with none of them, id is "unknown".
std::string DeviceId(const std::string& root = "/");

// Describes the device (format in the comment at the top of this file). Never fails as a
// whole: each fact that cannot be read is named in "unavailable" (array of
// {"item":..., "reason":...}).
nlohmann::json CollectInventory(const InventoryOptions& options);

// RFC 1952 gzip of `data` (zlib, default level). Fails only if zlib does.
Result<std::string> GzipCompress(std::string_view data);

// Inverse of GzipCompress; concatenated members are accepted (RFC 1952 2.2). Error if the
// input is corrupt, truncated, followed by non-gzip bytes, or would inflate to more than
// `max_output` bytes (checked while inflating: a gzip bomb costs at most max_output).
Result<std::string> GzipDecompress(std::string_view data, uint64_t max_output);

}  // namespace avkey::key
