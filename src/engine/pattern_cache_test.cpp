// Tests of the compiled-pattern cache's CPU handling (internal API).
#include "engine/pattern_cache.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace avkey::engine {
namespace {

HsDatabasePtr CompileFor(const hs_platform_info_t& platform) {
  hs_database_t* db = nullptr;
  hs_compile_error_t* err = nullptr;
  EXPECT_EQ(hs_compile("ABCD", HS_FLAG_DOTALL, HS_MODE_BLOCK, &platform, &db, &err), HS_SUCCESS);
  if (err) hs_free_compile_error(err);
  return HsDatabasePtr(db);
}

// A build for features this CPU's runtime lacks, found under this CPU's name (a cache
// copied between machines), is refused; the portable build next to it is used instead.
TEST(PatternCache, BuildForAnotherCpuIsRefusedAndThePortableOneUsed) {
  const hs_platform_info_t native = NativePlatform();
  hs_platform_info_t other = native;
  other.cpu_features |= HS_CPU_FEATURES_AVX2 | HS_CPU_FEATURES_AVX512 | HS_CPU_FEATURES_AVX512VBMI;
  HsDatabasePtr foreign = CompileFor(other);
  ASSERT_TRUE(foreign);
  {
    char* bytes = nullptr;
    size_t len = 0;
    ASSERT_EQ(hs_serialize_database(foreign.get(), &bytes, &len), HS_SUCCESS);
    hs_database_t* back = nullptr;
    const hs_error_t e = hs_deserialize_database(bytes, len, &back);
    std::free(bytes);
    if (e == HS_SUCCESS) {
      hs_free_database(back);
      GTEST_SKIP() << "this CPU runs builds with every feature Vectorscan knows";
    }
  }
  auto dir = std::filesystem::temp_directory_path() / ("avkey-pcache-test-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  const std::string identity(64, 'a');
  ASSERT_TRUE(StoreCachedVectorscan(dir, "k", identity, foreign.get(), {}, native).ok());
  auto refused = LoadCachedVectorscan(dir, "k", identity, 0, nullptr);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), "rejected: compiled for another CPU");

  ASSERT_TRUE(StoreCachedVectorscan(dir, "k", identity, CompileFor(PortablePlatform()).get(), {},
                                    PortablePlatform()).ok());
  auto used = LoadCachedVectorscan(dir, "k", identity, 0, nullptr);
  ASSERT_TRUE(used) << used.error();
  EXPECT_EQ(used->portable, native.cpu_features != 0);
  if (used->portable) {
    EXPECT_EQ(used->State(), "hit (portable build: this CPU's was rejected: compiled for another CPU)");
  }
  std::filesystem::remove_all(dir);
}

TEST(PatternCache, NeitherBuildIsAMiss) {
  auto dir = std::filesystem::temp_directory_path() / ("avkey-pcache-miss-" + std::to_string(::getpid()));
  auto r = LoadCachedVectorscan(dir, "k", std::string(64, 'a'), 0, nullptr);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), "miss");
}

}  // namespace
}  // namespace avkey::engine
