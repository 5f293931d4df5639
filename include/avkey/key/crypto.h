// The few cryptographic primitives the key needs, over OpenSSL's EVP interface.
// Ed25519 for what the console signs (policy, signature generations), HMAC-SHA-256 for
// the journal's per-record MACs, SHA-256 for chains and manifests, AES-128-CTR to make
// quarantined files inert. All functions are thread-safe and never throw.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "avkey/engine/status.h"

namespace avkey::key {

using Sha256Digest = std::array<uint8_t, 32>;

Sha256Digest Sha256(std::string_view data);
std::string Sha256Hex(std::string_view data);
std::string HmacSha256Hex(std::string_view secret, std::string_view data);

// Incremental SHA-256 for streams (quarantine copies).
class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(const Sha256Stream&) = delete;
  Sha256Stream& operator=(const Sha256Stream&) = delete;
  void Update(std::string_view data);
  std::string FinishHex();  // once

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string ToHex(std::span<const uint8_t> bytes);
// Lower- or upper-case hex of even length; anything else is an error.
Result<std::string> FromHex(std::string_view hex);
std::string Base64Encode(std::string_view bytes);
// Strict: standard alphabet, padding required, surrounding white space ignored.
Result<std::string> Base64Decode(std::string_view text);

// `n` bytes from the OS's CSPRNG.
Result<std::string> RandomBytes(size_t n);

// Constant-time equality of two equal-length strings (MAC comparison).
bool SecureEquals(std::string_view a, std::string_view b);

// An Ed25519 key pair (the console's signing key). The private half never goes on a key.
class SigningKey {
 public:
  static Result<SigningKey> Generate();
  // PKCS#8 PEM as written by ToPem().
  static Result<SigningKey> FromPem(std::string_view pem);
  std::string ToPem() const;
  std::string PublicKey() const;  // raw 32 bytes
  // Ed25519 over domain NUL message (docs/key-format.md, "Signatures"); 64 bytes.
  Result<std::string> Sign(std::string_view domain, std::string_view message) const;

  SigningKey(SigningKey&&) noexcept;
  SigningKey& operator=(SigningKey&&) noexcept;
  ~SigningKey();

 private:
  struct Impl;
  explicit SigningKey(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// True only if `signature` (64 raw bytes) is a valid Ed25519 signature by `public_key`
// (32 raw bytes) of domain NUL message.
bool VerifySignature(std::string_view public_key, std::string_view domain, std::string_view message,
                     std::string_view signature);

// AES-128-CTR keystream XOR, starting at byte `offset` of the stream: encodes and decodes.
// `key` is 16 bytes.
Status CtrXor(std::string_view key, uint64_t offset, std::span<uint8_t> data);

}  // namespace avkey::key
