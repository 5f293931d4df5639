#include "avkey/key/crypto.h"

#include <gtest/gtest.h>

namespace avkey::key {
namespace {

TEST(Crypto, Sha256KnownAnswer) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256Stream s;
  s.Update("a");
  s.Update("bc");
  EXPECT_EQ(s.FinishHex(), Sha256Hex("abc"));
}

TEST(Crypto, HmacKnownAnswer) {
  // RFC 4231 test case 2.
  EXPECT_EQ(HmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Crypto, HexAndBase64RoundTripAndRejectGarbage) {
  std::string bytes("\x00\x01\xfe\xff", 4);
  auto hex = ToHex({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
  EXPECT_EQ(hex, "0001feff");
  EXPECT_EQ(*FromHex(hex), bytes);
  EXPECT_FALSE(FromHex("abc").has_value());
  EXPECT_FALSE(FromHex("zz").has_value());
  for (std::string s : {std::string(), std::string("f"), std::string("fo"), std::string("foo"), bytes}) {
    auto d = Base64Decode(Base64Encode(s));
    ASSERT_TRUE(d.has_value()) << s;
    EXPECT_EQ(*d, s);
  }
  EXPECT_FALSE(Base64Decode("abc").has_value());
  EXPECT_FALSE(Base64Decode("ab!=").has_value());
}

TEST(Crypto, SignVerifyAndEveryTamperFails) {
  auto k = SigningKey::Generate();
  ASSERT_TRUE(k.has_value());
  auto sig = k->Sign("dom", "message");
  ASSERT_TRUE(sig.has_value());
  EXPECT_EQ(sig->size(), 64u);
  std::string pub = k->PublicKey();
  EXPECT_TRUE(VerifySignature(pub, "dom", "message", *sig));
  EXPECT_FALSE(VerifySignature(pub, "dom", "messagE", *sig));
  EXPECT_FALSE(VerifySignature(pub, "other", "message", *sig)) << "domain separation";
  std::string bad = *sig;
  bad[10] ^= 1;
  EXPECT_FALSE(VerifySignature(pub, "dom", "message", bad));
  auto other = SigningKey::Generate();
  EXPECT_FALSE(VerifySignature(other->PublicKey(), "dom", "message", *sig));
  EXPECT_FALSE(VerifySignature(pub.substr(1), "dom", "message", *sig));

  auto again = SigningKey::FromPem(k->ToPem());
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->PublicKey(), pub);
  EXPECT_FALSE(SigningKey::FromPem("not a pem").has_value());
}

TEST(Crypto, CtrIsItsOwnInverseAndSeekable) {
  std::string key(16, 'k');
  std::string plain(1000, '\0');
  for (size_t i = 0; i < plain.size(); ++i) plain[i] = static_cast<char>(i * 7);
  std::string whole = plain;
  ASSERT_TRUE(CtrXor(key, 0, {reinterpret_cast<uint8_t*>(whole.data()), whole.size()}).ok());
  EXPECT_NE(whole, plain);
  // Encoding in odd-sized pieces at their offsets gives the same bytes.
  std::string pieces = plain;
  for (size_t off = 0; off < pieces.size(); off += 37) {
    size_t n = std::min<size_t>(37, pieces.size() - off);
    ASSERT_TRUE(CtrXor(key, off, {reinterpret_cast<uint8_t*>(pieces.data() + off), n}).ok());
  }
  EXPECT_EQ(pieces, whole);
  ASSERT_TRUE(CtrXor(key, 0, {reinterpret_cast<uint8_t*>(whole.data()), whole.size()}).ok());
  EXPECT_EQ(whole, plain);
  EXPECT_FALSE(CtrXor("short", 0, {}).ok());
}

}  // namespace
}  // namespace avkey::key
