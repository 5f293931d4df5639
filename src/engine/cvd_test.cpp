// Tests of .cvd/.cld/.cud containers: built here with libarchive, loaded through the builder.
// Nobody outside Talos can sign with its key, so the real key is proven with ClamAV's
// own known-answer vectors, and whole containers are signed with a key made per run.
#include "engine/cvd.h"

#include <archive.h>
#include <archive_entry.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "avkey/engine/engine.h"

namespace avkey::engine {
namespace {

using Files = std::vector<std::pair<std::string, std::string>>;

// A tar (gzip'd when `gz`) holding `files`.
std::string MakeBody(const Files& files, bool gz) {
  std::vector<char> buf(1 << 20);
  size_t used = 0;
  archive* a = archive_write_new();
  archive_write_set_format_ustar(a);
  if (gz) archive_write_add_filter_gzip(a);
  archive_write_open_memory(a, buf.data(), buf.size(), &used);
  for (const auto& [name, content] : files) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_size(e, static_cast<la_int64_t>(content.size()));
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_write_header(a, e);
    archive_write_data(a, content.data(), content.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  return std::string(buf.data(), used);
}

std::string Md5Hex(std::string_view body) {
  unsigned char md[16];
  unsigned int len = 0;
  EVP_Digest(body.data(), body.size(), md, &len, EVP_md5(), nullptr);
  return fmt::format("{:02x}", fmt::join(md, md + 16, ""));
}

// `body` behind a 512-byte ClamAV-VDB header carrying `md5` and `dsig`.
std::string WithHeader(std::string_view body, std::string_view md5, std::string_view dsig) {
  std::string header = fmt::format("ClamAV-VDB:29 Nov 2026 10-00 +0000:7:2:216:{}:{}:avkey-test:1795860000", md5, dsig);
  header.resize(512, ' ');
  return header.append(body);
}

// An unsigned container (dsig "X"), as `sigtool --unsigned` writes a .cud.
std::string MakeContainer(const Files& files, bool gz, bool break_md5 = false) {
  std::string body = MakeBody(files, gz);
  std::string md5 = Md5Hex(body);
  if (break_md5) md5[0] = md5[0] == '0' ? '1' : '0';
  return WithHeader(body, md5, "X");
}

struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
using Bn = std::unique_ptr<BIGNUM, BnFree>;

// An RSA key made for this run, standing in for Talos' private key: it signs the way
// Talos' signing service does (textbook RSA over the 16 MD5 bytes, written as a
// little-endian base-64 number), independently of the verifier under test.
class TestSigner {
 public:
  TestSigner() {
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{1024}),
                                                             &EVP_PKEY_free);
    BIGNUM *n = nullptr, *e = nullptr, *d = nullptr;
    if (!pkey || !EVP_PKEY_get_bn_param(pkey.get(), OSSL_PKEY_PARAM_RSA_N, &n) ||
        !EVP_PKEY_get_bn_param(pkey.get(), OSSL_PKEY_PARAM_RSA_E, &e) ||
        !EVP_PKEY_get_bn_param(pkey.get(), OSSL_PKEY_PARAM_RSA_D, &d))
      throw std::runtime_error("cannot make the test RSA key");
    n_.reset(n);
    d_.reset(d);
    modulus_ = Decimal(n);
    exponent_ = Decimal(e);
    BN_free(e);
    key_ = {modulus_, exponent_, "the test key"};
  }
  const CvdKey& key() const { return key_; }

  // The dsig of `md5_hex`; with `plus_modulus`, the same value mod n written as s + n.
  std::string Sign(std::string_view md5_hex, bool plus_modulus = false) const {
    uint8_t md[16];
    for (size_t i = 0; i < 16; ++i)
      md[i] = static_cast<uint8_t>(std::stoi(std::string(md5_hex.substr(2 * i, 2)), nullptr, 16));
    Bn m(BN_bin2bn(md, sizeof md, nullptr)), c(BN_new());
    std::unique_ptr<BN_CTX, decltype(&BN_CTX_free)> ctx(BN_CTX_new(), &BN_CTX_free);
    BN_mod_exp(c.get(), m.get(), d_.get(), n_.get(), ctx.get());
    if (plus_modulus) BN_add(c.get(), c.get(), n_.get());
    static constexpr char kDigits[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/";
    std::string dsig;
    while (!BN_is_zero(c.get())) dsig += kDigits[BN_div_word(c.get(), 64)];  // least significant first
    return dsig;
  }

  // `files` in a container whose header this key signed.
  std::string MakeSigned(const Files& files, bool gz) const {
    std::string body = MakeBody(files, gz);
    const std::string md5 = Md5Hex(body);
    return WithHeader(body, md5, Sign(md5));
  }

 private:
  static std::string Decimal(const BIGNUM* b) {
    char* text = BN_bn2dec(b);
    std::string out(text);
    OPENSSL_free(text);
    return out;
  }
  Bn n_, d_;
  std::string modulus_, exponent_;
  CvdKey key_;
};

const TestSigner& Signer() {
  static const TestSigner signer;  // 1024-bit keygen: tens of ms, once per run
  return signer;
}

std::vector<std::string> Scan(const std::shared_ptr<const Database>& db, std::string_view data) {
  Scanner s(db);
  std::vector<Detection> out;
  EXPECT_TRUE(s.Scan({reinterpret_cast<const uint8_t*>(data.data()), data.size()}, {}, &out).ok());
  std::vector<std::string> names;
  for (auto& d : out) names.push_back(d.name);
  return names;
}

TEST(Cvd, HeaderFields) {
  auto h = ParseCvdHeader(MakeContainer({{"x.ndb", "A:0:*:414243\n"}}, true));
  ASSERT_TRUE(h.has_value()) << h.error();
  EXPECT_EQ(h->version, 7u);
  EXPECT_EQ(h->signatures, 2u);
  EXPECT_EQ(h->min_flevel, 216u);
  EXPECT_EQ(h->builder, "avkey-test");
  EXPECT_EQ(h->build_time, 1795860000u);
  EXPECT_FALSE(ParseCvdHeader("ClamAV-VDB:short").has_value());
  EXPECT_FALSE(ParseCvdHeader(std::string(600, 'x')).has_value());
}

// ClamAV's known answers for Talos' key (dsig_tests in unit_tests/check_clamav.c of
// Cisco-Talos/clamav): two genuine signatures, then the pairs crossed and altered.
struct DsigVector {
  const char* md5;
  const char* dsig;
  bool ok;
};
constexpr char kSigA[] =
    "60uhCFmiN48J8r6c7coBv9Q1mehAWEGh6GPYA+60VhQcuXfb0iV1O+sCEyMiRXt/iYF6vXtPXHVd6DiuZ4Gfrry7sVQqNTt3o1/"
    "KwU1rc0l5FHgX/nC99fdr/fjaFtinMtRnUXHLeu0j8e6HK+7JLBpD37fZ60GC9YY86EclYGe";
constexpr char kSigB[] =
    "Zh5gmf09Zfj6V4gmRKu/NURzhFiE9VloI7w1G33BgDdGSs0Xhscx6sjPUpFSCPsjOalyS4L8q7RS+NdGvNCsLymiIH6RYItlOZsygFhcGuH4"
    "jt15KAaAkvEg2TwmqR8z41nUaMlZ0c8q1MXYCLvQJyFARsfzIxS3PAoN2Y3HPoe";
constexpr char kMd5A[] = "ae307614434715274c60854c931a26de";
constexpr char kMd5B[] = "96b7feb3b2a863846438809fe481906f";
const DsigVector kTalosVectors[] = {
    {kMd5A, kSigA, true},
    {kMd5B, kSigB, true},
    {kMd5A, kSigB, false},
    {kMd5B, kSigA, false},
    {"ae307614434715274060854c931a26de", kSigA, false},  // one MD5 digit changed
    {kMd5A,  // one dsig digit changed ("FtinMt" -> "atinMt")
     "60uhCFmiN48J8r6c7coBv9Q1mehAWEGh6GPYA+60VhQcuXfb0iV1O+sCEyMiRXt/iYF6vXtPXHVd6DiuZ4Gfrry7sVQqNTt3o1/"
     "KwU1rc0l5FHgX/nC99fdr/fjaatinMtRnUXHLeu0j8e6HK+7JLBpD37fZ60GC9YY86EclYGe",
     false},
    {kMd5B,  // one dsig digit changed ("MXYC" -> "MYYC")
     "Zh5gmf09Zfj6V4gmRKu/NURzhFiE9VloI7w1G33BgDdGSs0Xhscx6sjPUpFSCPsjOalyS4L8q7RS+NdGvNCsLymiIH6RYItlOZsygFhcGuH4"
     "jt15KAaAkvEg2TwmqR8z41nUaMlZ0c8q1MYYCLvQJyFARsfzIxS3PAoN2Y3HPoe",
     false},
    {"ge307614434715274c60854c931a26dee", kSigA, false},  // 33 characters, not hex
    {kMd5A,                                               // one digit too many
     "60uhCFmiN48J8r6c7coBv9Q1mehAWEGh6GPYA+60VhQcuXfb0iV1O+sCEyMiRXt/iYF6vXtPXHVd6DiuZ4Gfrry7sVQqNTt3o1/"
     "KwU1rc0l5FHgX/nC99fdr/fjaFtinMtRnUXHLeu0j8e6HK+7JLBpD37fZ60GC9YY86EclYGee",
     false},
    {kMd5A, "60uhCFmiN48J8r6c7coBv9Q1mehAWEGh6GPYA+", false},  // truncated
};

const Files kMembers = {{"COPYING", "text"},
                        {"test.info", "ClamAV-VDB:...\n"},
                        {"test.ign2", "Ignored.Sig\n"},
                        {"test.ndb", "Test.Body-1:0:*:41424344\nIgnored.Sig:0:*:45464748\n"}};

TEST(CvdDsig, TalosKnownAnswers) {
  ASSERT_EQ(&TrustedCvdKey(), &TalosCvdKey());
  for (const DsigVector& v : kTalosVectors) {
    Status s = VerifyCvdDsig(v.md5, v.dsig);
    EXPECT_EQ(s.ok(), v.ok) << v.md5 << " " << v.dsig << ": " << s.message();
  }
  EXPECT_NE(VerifyCvdDsig(kMd5A, kSigB).message().find("Talos"), std::string::npos);
}

TEST(CvdDsig, MalformedSignaturesAreRefusedWithAReason) {
  EXPECT_NE(VerifyCvdDsig(kMd5A, "").message().find("empty"), std::string::npos);
  EXPECT_NE(VerifyCvdDsig(kMd5A, "X").message().find("unsigned"), std::string::npos);
  EXPECT_NE(VerifyCvdDsig(kMd5A, "60uh-CFmi").message().find("alphabet"), std::string::npos);
  EXPECT_FALSE(VerifyCvdDsig(kMd5A, std::string(400, '/')).ok());  // far above the modulus
  // clamscan compares lower-case hex: an upper-case MD5 never verifies.
  EXPECT_FALSE(VerifyCvdDsig("AE307614434715274C60854C931A26DE", kSigA).ok());
  EXPECT_NE(VerifyCvdDsig(kMd5A, kSigA, CvdKey{"12x", "3", "a broken key"}).message().find("broken key"),
            std::string::npos);
}

TEST(CvdDsig, TestKeySignaturesVerifyOnlyWithThatKey) {
  const std::string md5 = Md5Hex("payload");
  const std::string dsig = Signer().Sign(md5);
  EXPECT_TRUE(VerifyCvdDsig(md5, dsig, Signer().key()).ok()) << VerifyCvdDsig(md5, dsig, Signer().key()).message();
  EXPECT_FALSE(VerifyCvdDsig(md5, dsig).ok());  // not Talos'
  EXPECT_FALSE(VerifyCvdDsig(Md5Hex("payload2"), dsig, Signer().key()).ok());
  // The same value plus the modulus: ClamAV reduces it and accepts, avkey refuses.
  EXPECT_FALSE(VerifyCvdDsig(md5, Signer().Sign(md5, true), Signer().key()).ok());
  // An MD5 with leading zero bytes decodes to a shorter number: it must still match.
  std::string zeros;
  for (int i = 0; zeros.empty() || !zeros.starts_with("00"); ++i) zeros = Md5Hex(std::to_string(i));
  EXPECT_TRUE(VerifyCvdDsig(zeros, Signer().Sign(zeros), Signer().key()).ok()) << zeros;
}

TEST(Cvd, SignedContainersLoadWithOfficialNames) {
  const ScopedCvdKeyForTesting trust(Signer().key());
  for (bool gz : {true, false}) {
    const std::string cvd = Signer().MakeSigned(kMembers, gz);
    auto contents = ReadCvd(cvd, CvdKind::kSigned, Signer().key());
    ASSERT_TRUE(contents.has_value()) << contents.error();
    EXPECT_TRUE(contents->verified);
    DatabaseBuilder b;
    ASSERT_TRUE(b.AddSource(gz ? "test.cvd" : "test.cld", cvd, false).ok());
    auto db = b.Build();
    ASSERT_TRUE(db.has_value()) << db.error();
    EXPECT_TRUE((*db)->report().problems.empty()) << (*db)->report().problems[0].reason;
    EXPECT_EQ((*db)->report().body, 1u);
    EXPECT_EQ(Scan(*db, "..ABCDEFGH.."), std::vector<std::string>{"Test.Body-1"});
  }
}

TEST(Cvd, TamperedSignatureIsReportedAndTheRestLoads) {
  const ScopedCvdKeyForTesting trust(Signer().key());
  const std::string body = MakeBody({{"t.ndb", "A:0:*:414243\n"}}, true);
  const std::string md5 = Md5Hex(body);
  std::string dsig = Signer().Sign(md5);
  dsig[10] = dsig[10] == 'a' ? 'b' : 'a';
  DatabaseBuilder b;
  ASSERT_TRUE(b.AddSource("bad.cvd", WithHeader(body, md5, dsig), false).ok());
  ASSERT_TRUE(b.AddSource("ok.ndb", "B:0:*:444546\n", false).ok());
  auto db = b.Build();
  ASSERT_TRUE(db.has_value()) << db.error();
  ASSERT_EQ((*db)->report().problems.size(), 1u);
  EXPECT_EQ((*db)->report().problems[0].file, "bad.cvd");
  EXPECT_NE((*db)->report().problems[0].reason.find("dsig does not verify"), std::string::npos)
      << (*db)->report().problems[0].reason;
  EXPECT_EQ(Scan(*db, "..ABCDEF.."), std::vector<std::string>{"B.UNOFFICIAL"});
}

TEST(Cvd, OnlyTalosSignaturesAreTrustedByDefault) {
  DatabaseBuilder b;
  ASSERT_TRUE(b.AddSource("test.cvd", Signer().MakeSigned(kMembers, true), false).ok());
  auto db = b.Build();
  ASSERT_TRUE(db.has_value()) << db.error();
  ASSERT_EQ((*db)->report().problems.size(), 1u);
  EXPECT_NE((*db)->report().problems[0].reason.find("Talos"), std::string::npos);
  EXPECT_TRUE(Scan(*db, "..ABCDEFGH..").empty());
}

TEST(Cvd, TamperedMd5IsRefused) {
  // A genuine Talos (MD5, dsig) pair copied onto another body: the dsig is fine, the MD5 is not.
  auto forged = ReadCvd(WithHeader(MakeBody(kMembers, true), kMd5A, kSigA));
  ASSERT_FALSE(forged.has_value());
  EXPECT_NE(forged.error().find("MD5"), std::string::npos);
  // The header's MD5 changed but the dsig left alone, and a body changed after signing.
  const std::string body = MakeBody(kMembers, true);
  const std::string md5 = Md5Hex(body);
  EXPECT_FALSE(ReadCvd(WithHeader(body, Md5Hex("other"), Signer().Sign(md5)), CvdKind::kSigned, Signer().key()));
  std::string changed = body;
  changed[changed.size() / 2] ^= 1;
  EXPECT_FALSE(ReadCvd(WithHeader(changed, md5, Signer().Sign(md5)), CvdKind::kSigned, Signer().key()));
  ASSERT_TRUE(ReadCvd(WithHeader(body, md5, Signer().Sign(md5)), CvdKind::kSigned, Signer().key()));
}

TEST(Cvd, UnsignedCudLoadsWithUnofficialNames) {
  const std::string cud = MakeContainer(kMembers, true);
  auto contents = ReadCvd(cud, CvdKind::kUnsigned);
  ASSERT_TRUE(contents.has_value()) << contents.error();
  EXPECT_FALSE(contents->verified);
  DatabaseBuilder b;
  ASSERT_TRUE(b.AddSource("test.cud", cud, false).ok());
  auto db = b.Build();
  ASSERT_TRUE(db.has_value()) << db.error();
  EXPECT_TRUE((*db)->report().problems.empty()) << (*db)->report().problems[0].reason;
  EXPECT_EQ(Scan(*db, "..ABCDEFGH.."), std::vector<std::string>{"Test.Body-1.UNOFFICIAL"});
  // Even with a valid signature a .cud is not official (clamscan does not look at its dsig)...
  DatabaseBuilder signed_cud;
  ASSERT_TRUE(signed_cud.AddSource("test.cud", Signer().MakeSigned(kMembers, true), false).ok());
  EXPECT_EQ(Scan(*signed_cud.Build(), "..ABCDEFGH.."), std::vector<std::string>{"Test.Body-1.UNOFFICIAL"});
  // ...and the unsigned bytes named .cvd are refused, as clamscan does.
  DatabaseBuilder renamed;
  ASSERT_TRUE(renamed.AddSource("test.cvd", cud, false).ok());
  auto refused = renamed.Build();
  ASSERT_TRUE(refused.has_value());
  ASSERT_EQ((*refused)->report().problems.size(), 1u);
  EXPECT_NE((*refused)->report().problems[0].reason.find("unsigned"), std::string::npos);
}

TEST(Cvd, HeaderWithoutMd5IsRefusedWithAReason) {
  // freshclam's rebuilt .cld: the header is the .info's first line, "X" for MD5 and dsig.
  auto cld = ReadCvd(WithHeader(MakeBody(kMembers, false), "X", "X"));
  ASSERT_FALSE(cld.has_value());
  EXPECT_NE(cld.error().find("freshclam"), std::string::npos);
}

TEST(Cvd, CorruptContainerIsReportedAndSkipped) {
  DatabaseBuilder b;
  ASSERT_TRUE(b.AddSource("bad.cvd", MakeContainer({{"t.ndb", "A:0:*:414243\n"}}, true, true), false).ok());
  ASSERT_TRUE(b.AddSource("ok.ndb", "B:0:*:444546\n", false).ok());
  auto db = b.Build();
  ASSERT_TRUE(db.has_value());
  ASSERT_EQ((*db)->report().problems.size(), 1u);
  EXPECT_EQ((*db)->report().problems[0].file, "bad.cvd");
  EXPECT_NE((*db)->report().problems[0].reason.find("MD5"), std::string::npos);
  EXPECT_EQ(Scan(*db, "..ABCDEF.."), std::vector<std::string>{"B.UNOFFICIAL"});
  // Truncated body: MD5 mismatch too, never a crash.
  std::string cvd = MakeContainer({{"t.ndb", "A:0:*:414243\n"}}, true);
  EXPECT_FALSE(ReadCvd(cvd.substr(0, cvd.size() - 10)).has_value());
}

}  // namespace
}  // namespace avkey::engine
