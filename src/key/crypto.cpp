#include "avkey/key/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <cstring>

#include "avkey/engine/engine.h"

namespace avkey::key {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* p) const { EVP_CIPHER_CTX_free(p); }
};

std::string Domained(std::string_view domain, std::string_view message) {
  std::string m;
  m.reserve(domain.size() + 1 + message.size());
  m.append(domain);
  m.push_back('\0');
  m.append(message);
  return m;
}

}  // namespace

Sha256Digest Sha256(std::string_view data) {
  Sha256Digest d{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), d.data(), &len, EVP_sha256(), nullptr);
  return d;
}

std::string Sha256Hex(std::string_view data) { return ToHex(Sha256(data)); }

std::string HmacSha256Hex(std::string_view secret, std::string_view data) {
  uint8_t out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const uint8_t*>(data.data()), data.size(), out, &len);
  return ToHex({out, len});
}

struct Sha256Stream::Impl {
  MdCtxPtr ctx{EVP_MD_CTX_new()};
};
Sha256Stream::Sha256Stream() : impl_(std::make_unique<Impl>()) {
  EVP_DigestInit_ex(impl_->ctx.get(), EVP_sha256(), nullptr);
}
Sha256Stream::~Sha256Stream() = default;
void Sha256Stream::Update(std::string_view data) { EVP_DigestUpdate(impl_->ctx.get(), data.data(), data.size()); }
std::string Sha256Stream::FinishHex() {
  uint8_t out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(impl_->ctx.get(), out, &len);
  return ToHex({out, len});
}

std::string ToHex(std::span<const uint8_t> bytes) { return engine::HexString(bytes); }

Result<std::string> FromHex(std::string_view hex) {
  if (hex.size() % 2) return Fail("odd number of hex digits");
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return Fail("not a hex digit");
    out.push_back(static_cast<char>(hi << 4 | lo));
  }
  return out;
}

std::string Base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<uint8_t*>(out.data()), reinterpret_cast<const uint8_t*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

Result<std::string> Base64Decode(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  if (text.size() % 4) return Fail("base64 length is not a multiple of 4");
  for (char c : text) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '/' && c != '=') {
      return Fail("not base64");
    }
  }
  std::string out(text.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<uint8_t*>(out.data()), reinterpret_cast<const uint8_t*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return Fail("not base64");
  size_t pad = 0;
  if (!text.empty() && text.back() == '=') pad = text.size() >= 2 && text[text.size() - 2] == '=' ? 2 : 1;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

Result<std::string> RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<uint8_t*>(out.data()), static_cast<int>(n)) != 1) {
    return Fail("the random number generator failed");
  }
  return out;
}

bool SecureEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

struct SigningKey::Impl {
  PkeyPtr pkey;
};
SigningKey::SigningKey(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SigningKey::SigningKey(SigningKey&&) noexcept = default;
SigningKey& SigningKey::operator=(SigningKey&&) noexcept = default;
SigningKey::~SigningKey() = default;

Result<SigningKey> SigningKey::Generate() {
  EVP_PKEY* raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (!raw) return Fail("cannot generate an Ed25519 key");
  auto impl = std::make_unique<Impl>();
  impl->pkey.reset(raw);
  return SigningKey(std::move(impl));
}

Result<SigningKey> SigningKey::FromPem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Fail("out of memory");
  EVP_PKEY* raw = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (!raw) return Fail("not a PEM private key");
  PkeyPtr pkey(raw);
  if (EVP_PKEY_get_base_id(raw) != EVP_PKEY_ED25519) return Fail("not an Ed25519 key");
  auto impl = std::make_unique<Impl>();
  impl->pkey = std::move(pkey);
  return SigningKey(std::move(impl));
}

std::string SigningKey::ToPem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), impl_->pkey.get(), nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

std::string SigningKey::PublicKey() const {
  std::string out(32, '\0');
  size_t len = out.size();
  EVP_PKEY_get_raw_public_key(impl_->pkey.get(), reinterpret_cast<uint8_t*>(out.data()), &len);
  out.resize(len);
  return out;
}

Result<std::string> SigningKey::Sign(std::string_view domain, std::string_view message) const {
  std::string m = Domained(domain, message);
  MdCtxPtr ctx(EVP_MD_CTX_new());
  std::string sig(64, '\0');
  size_t len = sig.size();
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, impl_->pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<uint8_t*>(sig.data()), &len,
                     reinterpret_cast<const uint8_t*>(m.data()), m.size()) != 1) {
    return Fail("Ed25519 signing failed");
  }
  sig.resize(len);
  return sig;
}

bool VerifySignature(std::string_view public_key, std::string_view domain, std::string_view message,
                     std::string_view signature) {
  if (public_key.size() != 32 || signature.size() != 64) return false;
  PkeyPtr pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                           reinterpret_cast<const uint8_t*>(public_key.data()), 32));
  if (!pkey) return false;
  std::string m = Domained(domain, message);
  MdCtxPtr ctx(EVP_MD_CTX_new());
  return ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) == 1 &&
         EVP_DigestVerify(ctx.get(), reinterpret_cast<const uint8_t*>(signature.data()), 64,
                          reinterpret_cast<const uint8_t*>(m.data()), m.size()) == 1;
}

Status CtrXor(std::string_view key, uint64_t offset, std::span<uint8_t> data) {
  if (key.size() != 16) return Status::Error("AES-128 key must be 16 bytes");
  // The counter block for byte `offset` is offset/16 (big-endian, IV zero); the first
  // offset%16 keystream bytes of that block are skipped.
  uint8_t iv[16] = {};
  uint64_t block = offset / 16;
  for (int i = 0; i < 8; ++i) iv[15 - i] = static_cast<uint8_t>(block >> (8 * i));
  std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree> ctx(EVP_CIPHER_CTX_new());
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_128_ctr(), nullptr,
                                 reinterpret_cast<const uint8_t*>(key.data()), iv) != 1) {
    return Status::Error("AES-128-CTR setup failed");
  }
  int outl = 0;
  uint8_t skip[16];
  size_t skip_n = offset % 16;
  if (skip_n && EVP_EncryptUpdate(ctx.get(), skip, &outl, skip, static_cast<int>(skip_n)) != 1) {
    return Status::Error("AES-128-CTR failed");
  }
  size_t pos = 0;
  while (pos < data.size()) {
    int n = static_cast<int>(std::min<size_t>(data.size() - pos, 1 << 30));
    if (EVP_EncryptUpdate(ctx.get(), data.data() + pos, &outl, data.data() + pos, n) != 1) {
      return Status::Error("AES-128-CTR failed");
    }
    pos += static_cast<size_t>(n);
  }
  return Status::Ok();
}

}  // namespace avkey::key
