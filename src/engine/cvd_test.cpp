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
#include <openssl/rsa.h>

#include <unistd.h>

#include <filesystem>
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

// A 2048-bit key made for this run, standing in for Talos' .info key: it signs with
// OpenSSL's own RSASSA-PSS (SHA-256, MGF1-SHA-256, 32-byte salt), independently of the
// verifier under test, and writes the signature as ClamAV's base-64 number.
class TestInfoSigner {
 public:
  TestInfoSigner()
      : pkey_(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}), &EVP_PKEY_free) {
    BIGNUM *n = nullptr, *e = nullptr;
    if (!pkey_ || !EVP_PKEY_get_bn_param(pkey_.get(), OSSL_PKEY_PARAM_RSA_N, &n) ||
        !EVP_PKEY_get_bn_param(pkey_.get(), OSSL_PKEY_PARAM_RSA_E, &e))
      throw std::runtime_error("cannot make the test RSA key");
    modulus_ = Decimal(n);
    exponent_ = Decimal(e);
    BN_free(n);
    BN_free(e);
    key_ = {modulus_, exponent_, "the test .info key"};
  }
  const CvdKey& key() const { return key_; }

  // The DSIG value for `signed_text` (the .info lines before the DSIG line).
  std::string Sign(std::string_view signed_text) const {
    unsigned char digest[32];
    unsigned int len = 0;
    EVP_Digest(signed_text.data(), signed_text.size(), digest, &len, EVP_sha256(), nullptr);
    std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new(pkey_.get(), nullptr),
                                                                    &EVP_PKEY_CTX_free);
    unsigned char sig[256];
    size_t sig_len = sizeof sig;
    if (!ctx || EVP_PKEY_sign_init(ctx.get()) <= 0 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PSS_PADDING) <= 0 ||
        EVP_PKEY_CTX_set_signature_md(ctx.get(), EVP_sha256()) <= 0 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), EVP_sha256()) <= 0 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx.get(), 32) <= 0 ||
        EVP_PKEY_sign(ctx.get(), sig, &sig_len, digest, sizeof digest) <= 0)
      throw std::runtime_error("cannot sign with the test key");
    Bn c(BN_bin2bn(sig, static_cast<int>(sig_len), nullptr));
    static constexpr char kDigits[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/";
    std::string dsig;
    while (!BN_is_zero(c.get())) dsig += kDigits[BN_div_word(c.get(), 64)];  // least significant first
    return dsig;
  }

  // A .info for `files` under `header_line`, as sigtool writes one, signed by this key.
  std::string MakeInfo(std::string_view header_line, const Files& files) const {
    std::string text = std::string(header_line) + "\n";
    for (const auto& [name, content] : files) {
      unsigned char md[32];
      unsigned int len = 0;
      EVP_Digest(content.data(), content.size(), md, &len, EVP_sha256(), nullptr);
      text += fmt::format("{}:{}:{:02x}\n", name, content.size(), fmt::join(md, md + 32, ""));
    }
    return text + "DSIG:" + Sign(text) + "\n";
  }

 private:
  static std::string Decimal(const BIGNUM* b) {
    char* text = BN_bn2dec(b);
    std::string out(text);
    OPENSSL_free(text);
    return out;
  }
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey_;
  std::string modulus_, exponent_;
  CvdKey key_;
};

const TestInfoSigner& InfoSigner() {
  static const TestInfoSigner signer;  // 2048-bit keygen: well under a second, once per run
  return signer;
}

constexpr char kRebuiltHeader[] = "ClamAV-VDB:29 Nov 2026 10-00 +0000:7:2:216:X:X:avkey-test:1795860000";

// `files` plus a test.info listing them, behind kRebuiltHeader: a .cld as freshclam
// rebuilds it from .cdiff updates (plain tar; gzip'd when `gz`, for a .cvd).
std::string MakeRebuilt(const Files& files, bool gz, const Files& extra = {}) {
  Files all = files;
  all.insert(all.begin(), {"test.info", InfoSigner().MakeInfo(kRebuiltHeader, files)});
  all.insert(all.end(), extra.begin(), extra.end());
  std::string header = kRebuiltHeader;
  header.resize(512, ' ');
  return header + MakeBody(all, gz);
}

std::vector<std::string> Scan(const std::shared_ptr<const Database>& db, std::string_view data) {
  Scanner s(db);
  std::vector<Detection> out;
  EXPECT_TRUE(s.Scan({reinterpret_cast<const uint8_t*>(data.data()), data.size()}, {}, &out).ok());
  std::vector<std::string> names;
  for (auto& d : out) names.push_back(d.name);
  return names;
}

// Loads `bytes` as `name` beside a good .ndb: the container is refused with a reason
// holding `why`, and the .ndb still loads and detects (the container's own signatures,
// "ABC", "ABCD" or "EFGH", would fire on the same bytes had it loaded).
void ExpectRefusedBesideAGoodFile(const std::string& name, const std::string& bytes, std::string_view why) {
  DatabaseBuilder b;
  ASSERT_TRUE(b.AddSource(name, bytes, false).ok());
  ASSERT_TRUE(b.AddSource("ok.ndb", "B:0:*:444546\n", false).ok());
  auto db = b.Build();
  ASSERT_TRUE(db.has_value()) << db.error();
  const auto& problems = (*db)->report().problems;
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].file, name);
  EXPECT_NE(problems[0].reason.find(why), std::string::npos) << problems[0].reason;
  EXPECT_EQ(Scan(*db, "..ABCDEFGH.."), std::vector<std::string>{"B.UNOFFICIAL"});
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

// Genuine .info files signed with Talos' .info key: test.info of test-1.cvd and
// test-2.cvd in unit_tests/input/freshclam_testfiles of Cisco-Talos/clamav (1.4.3), the
// databases ClamAV's own freshclam tests update from .cdiff files. Data, not code; with
// the members of test-1.cvd they are listed in (its test.ndb and test.ldb).
constexpr char kTalosInfo1[] = R"(ClamAV-VDB:22 Jun 2021 14-58 -0400:1:0:81:X:X:micasnyd:1624388302
test.ndb:240:244a20e9da37de181ede6db64f85c97916381d91f65e1b39e4f9300cb0726be9
test.ldb:44:0748b843a1cea3242d70531083b84f877d8de398cfefe65509b5d3bb1e3bcb57
DSIG:TFd9RBeu6wZwfMrWGsGH9WOSs1j+3s+PD2fVTLwR8Qgv2QVF25EXnIfH4cKmKRDoqDCLE0P6Kk3KRROkvaSGv01aiGMNRzY3bHkGQlSUs2p6kXUoV4B+TLn1gZYR4x6XH7GuFPolfxgHuzK974zxoxXe7GhzHPVgxtUI6uODlzJNw2HfCXG/MqPnNmMSC1yquZjmzA3ak0+jrdqfmg8c27xSrvd7/6K6ItyYEa9q3HPL/9g7ANKQ0B+0TegXySdmIkZ+PYgf6u3uEx09db3RXLkesU8K3bvdVZSEyyRh0ir+GibrGM2Fef1GugtNAI8gUQAA9OtJmhuNUsbeWNdDV
)";
constexpr char kTalosInfo2[] = R"(ClamAV-VDB:22 Jun 2021 16-55 -0400:2:0:81:X:X:micasnyd:1624395301
test.ndb:240:244a20e9da37de181ede6db64f85c97916381d91f65e1b39e4f9300cb0726be9
test.ldb:44:0748b843a1cea3242d70531083b84f877d8de398cfefe65509b5d3bb1e3bcb57
DSIG:SIpZwpONrJhe9smcPtzwDgZcAV7ktFxrg+mulLKIvVvyIHFAdLP8WfH0EVWjxmkDXw0gh+/Um+KGcJAOED7wTERnBsjdNjkyra2Ni6YYQZe2WVPVu4kbcFQkMEBfdbk/m0wb8sqPtG0Nh6cr5qx0Jkj7hZJlBSuLF+kbtQZ2Bq2NgrdVKuoGPQI0K4KaMU8Yhzo2tsV9pApqP2HXf9RdrdeRSZ6FxgpylWtlekem9YxyixSWq0SW37FZo1vDOp0bMYoGEogCI/yVdwLl0kmx7incSh0gAGvU6TWuseuGk7d5wQiaGMRdUeh2wGnPOmTXNMLvo0cZFLQ3sI4RvN7WW
)";
constexpr char kTalosNdb1[] = R"(# There must always be one line in the file
Win.Trojan.EOL-1:0:*:This ClamAV version has reached End of Life! Please upgrade to version 0.95 or later. For more information see  www.clamav.net/eol-clamav-094 and www.clamav.net/download:0:38
)";
constexpr char kTalosLdb1[] = R"(# There must always be one line in the file
)";

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
  ExpectRefusedBesideAGoodFile("bad.cvd", WithHeader(body, md5, dsig), "dsig does not verify");
}

TEST(Cvd, OnlyTalosSignaturesAreTrustedByDefault) {
  ExpectRefusedBesideAGoodFile("test.cvd", Signer().MakeSigned(kMembers, true), "Talos");
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

TEST(Cvd, HeaderWithoutMd5NeedsAVerifiedInfo) {
  // freshclam's rebuilt .cld: the header is the .info's first line, "X" for MD5 and dsig;
  // kMembers' test.info is no signed .info.
  auto cld = ReadCvd(WithHeader(MakeBody(kMembers, false), "X", "X"));
  ASSERT_FALSE(cld.has_value());
  EXPECT_NE(cld.error().find("test.info"), std::string::npos) << cld.error();
  auto cud = ReadCvd(WithHeader(MakeBody(kMembers, false), "X", "X"), CvdKind::kUnsigned);
  ASSERT_FALSE(cud.has_value());
  EXPECT_NE(cud.error().find("no MD5"), std::string::npos) << cud.error();
}

TEST(CvdInfo, TalosKnownAnswers) {
  ASSERT_EQ(&TrustedInfoKey(), &TalosInfoKey());
  for (const char* text : {kTalosInfo1, kTalosInfo2}) {
    auto info = ReadCvdInfo(text);
    ASSERT_TRUE(info.has_value()) << info.error();
    EXPECT_EQ(info->header.builder, "micasnyd");
    EXPECT_EQ(info->header.md5, "X");
    ASSERT_EQ(info->entries.size(), 2u);
    EXPECT_EQ(info->entries[0].name, "test.ndb");
    EXPECT_EQ(info->entries[0].size, 240u);
    EXPECT_EQ(info->entries[1].sha256, "0748b843a1cea3242d70531083b84f877d8de398cfefe65509b5d3bb1e3bcb57");
  }
  auto first = ReadCvdInfo(kTalosInfo1);
  EXPECT_EQ(first->header.version, 1u);
  EXPECT_EQ(first->header.build_time, 1624388302u);
  // The same check through VerifyInfoDsig: the digest of every line before DSIG.
  const std::string_view text = kTalosInfo1;
  const size_t dsig = text.find("DSIG:");
  unsigned char digest[32];
  unsigned int len = 0;
  EVP_Digest(text.data(), dsig, digest, &len, EVP_sha256(), nullptr);
  const std::string_view sig = text.substr(dsig + 5, text.size() - dsig - 6);
  EXPECT_TRUE(VerifyInfoDsig(digest, sig).ok()) << VerifyInfoDsig(digest, sig).message();
  digest[31] ^= 1;
  EXPECT_FALSE(VerifyInfoDsig(digest, sig).ok());
  EXPECT_FALSE(VerifyInfoDsig(digest, sig, InfoSigner().key()).ok());
}

TEST(CvdInfo, TamperedTalosInfoIsRefused) {
  const std::string genuine = kTalosInfo1;
  auto refused = [](const std::string& text) {
    auto info = ReadCvdInfo(text);
    return info.has_value() ? std::string() : info.error();
  };
  std::string hash_changed = genuine;  // one digit of test.ndb's SHA-256
  hash_changed[genuine.find("244a20") + 3] = 'b';
  EXPECT_NE(refused(hash_changed).find("does not verify with Talos' .info key"), std::string::npos)
      << refused(hash_changed);
  std::string size_changed = genuine;
  size_changed.replace(genuine.find(":240:"), 5, ":241:");
  EXPECT_NE(refused(size_changed).find("does not verify"), std::string::npos);
  std::string header_changed = genuine;  // version 1 -> 9
  header_changed.replace(genuine.find(":1:0:81:"), 8, ":9:0:81:");
  EXPECT_NE(refused(header_changed).find("does not verify"), std::string::npos);
  std::string dsig_changed = genuine;
  const size_t d = genuine.find("DSIG:") + 20;
  dsig_changed[d] = dsig_changed[d] == 'a' ? 'b' : 'a';
  EXPECT_NE(refused(dsig_changed).find("does not verify"), std::string::npos);
  // The other genuine DSIG on this text.
  const std::string other = kTalosInfo2;
  std::string crossed = genuine.substr(0, genuine.find("DSIG:")) + other.substr(other.find("DSIG:"));
  EXPECT_NE(refused(crossed).find("does not verify"), std::string::npos);
  EXPECT_NE(refused(genuine.substr(0, genuine.find("DSIG:"))).find("no DSIG"), std::string::npos);
  EXPECT_NE(refused(genuine.substr(genuine.find('\n') + 1)).find("header line first"), std::string::npos);
  std::string blank_line = genuine;
  blank_line.insert(genuine.find("test.ldb"), "\n");
  EXPECT_NE(refused(blank_line).find("name:size:sha256"), std::string::npos);
  // Lines after the DSIG line are not signed and not read, as in ClamAV.
  EXPECT_TRUE(ReadCvdInfo(genuine + "anything\n").has_value());
}

TEST(CvdInfo, TestKeySignaturesVerifyOnlyWithThatKey) {
  const std::string info = InfoSigner().MakeInfo(kRebuiltHeader, {{"a.ndb", "A:0:*:414243\n"}});
  auto ok = ReadCvdInfo(info, InfoSigner().key());
  ASSERT_TRUE(ok.has_value()) << ok.error();
  EXPECT_EQ(ok->header.version, 7u);
  ASSERT_EQ(ok->entries.size(), 1u);
  EXPECT_EQ(ok->entries[0].size, 13u);
  auto talos = ReadCvdInfo(info);
  ASSERT_FALSE(talos.has_value());
  EXPECT_NE(talos.error().find("Talos' .info key"), std::string::npos);
  // A PSS signature of other text, and the Talos key's modulus is not the test key's.
  std::string other = info;
  other[other.find("a.ndb")] = 'b';
  EXPECT_FALSE(ReadCvdInfo(other, InfoSigner().key()).has_value());
  for (int i = 0; i < 8; ++i) {  // fresh salts each time: every one verifies
    const std::string again = InfoSigner().MakeInfo(kRebuiltHeader, {{"a.ndb", std::to_string(i)}});
    EXPECT_TRUE(ReadCvdInfo(again, InfoSigner().key()).has_value()) << i;
  }
}

TEST(Cvd, FreshclamRebuiltCldVerifiesThroughTalosInfo) {
  // test-1.cvd as freshclam would rebuild it into a .cld: the header is the .info's first
  // line, "X" for MD5 and dsig; Talos' .info DSIG is what vouches for it.
  const std::string info = kTalosInfo1;
  std::string header = info.substr(0, info.find('\n'));
  header.resize(512, ' ');
  const Files genuine = {
      {"COPYING", "GPL v2"}, {"test.info", info}, {"test.ndb", kTalosNdb1}, {"test.ldb", kTalosLdb1}};
  for (bool gz : {false, true}) {
    auto contents = ReadCvd(header + MakeBody(genuine, gz));
    ASSERT_TRUE(contents.has_value()) << contents.error();
    EXPECT_TRUE(contents->verified);
    EXPECT_TRUE(contents->verified_by_info);
    EXPECT_EQ(contents->files.size(), 4u);
  }
  auto with = [&](Files files) { return ReadCvd(header + MakeBody(files, false)); };
  Files changed = genuine;  // same size, other bytes
  changed[2].second[0] = '$';
  auto r = with(changed);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().find("member 'test.ndb' does not match its SHA-256 in test.info"), std::string::npos)
      << r.error();
  changed = genuine;
  changed[3].second += "Evil.Sig;Engine:51-255,Target:0;0;41424344\n";
  r = with(changed);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().find("member 'test.ldb' has 87 bytes, test.info lists 44"), std::string::npos) << r.error();
  changed = genuine;
  changed.push_back({"extra.ndb", "Evil:0:*:41424344\n"});
  r = with(changed);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().find("member 'extra.ndb' is not listed in test.info"), std::string::npos) << r.error();
  changed = genuine;
  changed.erase(changed.begin() + 1);
  r = with(changed);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().find("no .info"), std::string::npos) << r.error();
  // The header of another version than the .info's.
  std::string newer = header;
  newer.replace(newer.find(":1:0:81:"), 8, ":2:0:81:");
  r = ReadCvd(newer + MakeBody(genuine, false));
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().find("does not match the container's"), std::string::npos) << r.error();
  // A .cud is never vouched for by its .info: its header needs an MD5.
  EXPECT_FALSE(ReadCvd(header + MakeBody(genuine, false), CvdKind::kUnsigned).has_value());
}

TEST(Cvd, RebuiltCldLoadsWithOfficialNames) {
  const ScopedInfoKeyForTesting trust(InfoSigner().key());
  const Files members = {{"test.ign2", "Ignored.Sig\n"},
                         {"test.ndb", "Test.Body-1:0:*:41424344\nIgnored.Sig:0:*:45464748\n"}};
  for (const char* name : {"daily.cld", "daily.cvd"}) {
    DatabaseBuilder b;
    ASSERT_TRUE(b.AddSource(name, MakeRebuilt(members, std::string_view(name).ends_with("cvd"), {{"COPYING", "x"}}),
                            false)
                    .ok());
    auto db = b.Build();
    ASSERT_TRUE(db.has_value()) << db.error();
    EXPECT_TRUE((*db)->report().problems.empty()) << (*db)->report().problems[0].reason;
    EXPECT_EQ(Scan(*db, "..ABCDEFGH.."), std::vector<std::string>{"Test.Body-1"});
  }
}

TEST(Cvd, RebuiltCldWithAnUnlistedMemberIsReportedAndTheRestLoads) {
  const ScopedInfoKeyForTesting trust(InfoSigner().key());
  DatabaseBuilder b;
  const Files members = {{"test.ndb", "Test.Body-1:0:*:41424344\n"}};
  ExpectRefusedBesideAGoodFile("daily.cld", MakeRebuilt(members, false, {{"smuggled.ndb", "Evil:0:*:45464748\n"}}),
                               "'smuggled.ndb' is not listed");
}

TEST(Cvd, RebuiltCldIsTrustedOnlyThroughTalosInfoKeyByDefault) {
  ExpectRefusedBesideAGoodFile("daily.cld", MakeRebuilt({{"test.ndb", "Test.Body-1:0:*:41424344\n"}}, false),
                               "Talos' .info key");
}

TEST(Cvd, CorruptContainerIsReportedAndSkipped) {
  ExpectRefusedBesideAGoodFile("bad.cvd", MakeContainer({{"t.ndb", "A:0:*:414243\n"}}, true, true), "MD5");
  // Truncated body: MD5 mismatch too, never a crash.
  std::string cvd = MakeContainer({{"t.ndb", "A:0:*:414243\n"}}, true);
  EXPECT_FALSE(ReadCvd(cvd.substr(0, cvd.size() - 10)).has_value());
}

}  // namespace
}  // namespace avkey::engine

namespace avkey::engine {
namespace {

// Containers go through the parsed-signature cache like plain files (parsed_cache.h): the
// same names and problems from the cache, nothing cached for a container holding YARA
// rules, and nothing trusted from a cache written under other container keys.
TEST(Cvd, ContainersLoadFromTheParsedCache) {
  const auto dir = std::filesystem::temp_directory_path() / ("avkey-cvd-cache-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  struct Cleanup {
    std::filesystem::path d;
    ~Cleanup() { std::filesystem::remove_all(d); }
  } cleanup{dir};
  auto build = [&](const std::string& name, const std::string& content) {
    DatabaseBuilder b;
    b.SetCacheDirectory(dir);
    EXPECT_TRUE(b.AddSource(name, content, false).ok());
    auto db = b.Build();
    EXPECT_TRUE(db.has_value()) << (db ? "" : db.error());
    return *db;
  };
  const std::string cud = MakeContainer(kMembers, true);
  auto cold = build("test.cud", cud);
  EXPECT_EQ(cold->report().parsed_cache, "miss");
  auto warm = build("test.cud", cud);
  EXPECT_EQ(warm->report().parsed_cache, "hit");
  EXPECT_EQ(warm->report().files, cold->report().files);
  EXPECT_EQ(warm->report().files.size(), 3u);  // the container, test.ign2 and test.ndb
  EXPECT_EQ(warm->report().ignore, 1u);
  EXPECT_EQ(Scan(warm, "..ABCDEFGH.."), std::vector<std::string>{"Test.Body-1.UNOFFICIAL"});

  // YARA rules inside a container load only from a parse: nothing is written.
  const std::string with_yara =
      MakeContainer({{"test.ndb", "Test.Body-2:0:*:41424344\n"}, {"r.yar", "rule in_cud { strings: $a = \"yneedle\" condition: $a }\n"}}, true);
  for (int i = 0; i < 2; ++i) {
    auto db = build("yara.cud", with_yara);
    EXPECT_EQ(db->report().parsed_cache, "not written: a container holds YARA rules") << "build " << i;
    EXPECT_EQ(Scan(db, "a yneedle ABCD"), (std::vector<std::string>{"Test.Body-2.UNOFFICIAL", "YARA.in_cud.UNOFFICIAL"}));
  }

  // Loaded under a test key, the signed container is official; once that key is gone the
  // cache written under it is not used, and the container is refused as a parse would.
  const std::string cvd = Signer().MakeSigned(kMembers, true);
  {
    const ScopedCvdKeyForTesting trust(Signer().key());
    build("test.cvd", cvd);
    auto hit = build("test.cvd", cvd);
    EXPECT_EQ(hit->report().parsed_cache, "hit");
    EXPECT_EQ(Scan(hit, "..ABCDEFGH.."), std::vector<std::string>{"Test.Body-1"});
  }
  auto untrusted = build("test.cvd", cvd);
  EXPECT_EQ(untrusted->report().parsed_cache, "rejected: loaded under other container keys");
  EXPECT_TRUE(Scan(untrusted, "..ABCDEFGH..").empty());
  ASSERT_EQ(untrusted->report().problems.size(), 1u);
}

}  // namespace
}  // namespace avkey::engine
