// Reading signature and cache files. Internal to the engine.
#pragma once

#include <filesystem>
#include <string>

#include "engine/huge_pages.h"

namespace avkey::engine {

// Reads a regular file whole into *out, sized by fstat up front: one allocation and
// one copy. (An ifstream copied through a stringstream regrew and copied the data
// twice more; on the VMs avkey is measured on, first-touched memory costs ~3 ms per
// MiB, so that was most of a warm start.) Returns 0, or the errno of the failure
// (EINVAL for something that is not a regular file).
int ReadWholeFile(const std::filesystem::path& path, std::string* out);
// The same into huge pages where the kernel has them: for cache files of megabytes.
int ReadWholeFile(const std::filesystem::path& path, HugeString* out);

}  // namespace avkey::engine
