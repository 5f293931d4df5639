// avkey's own signatures, compiled into the binary so a scan works with no --db.
// Written by this project; each detects a harmless, well-known test artefact only.
#include "avkey/engine/engine.h"

namespace avkey::engine {
namespace {

// EICAR anti-malware test file (68 bytes at offset 0, trailing whitespace allowed,
// as the EICAR definition says), written as hex so this source is not itself EICAR.
constexpr char kBuiltinNdb[] =
    "avkey.Test.EICAR:0:0:58354f2150254041505b345c505a58353428505e2937434329377d2445494341"
    "522d5354414e444152442d414e544956495255532d544553542d46494c452124482b482a\n";

// ClamAV's harmless test executable clam.exe (Debian package clamav-testfiles),
// by SHA-256 and size: found in every layer that unpacks to it.
constexpr char kBuiltinHsb[] =
    "71e7b604d18aefd839e51a39c88df8383bb4c071dc31f87f00a2b5df580d4495:544:avkey.Test.ClamAV-Test-File\n";

// YARA rules for other test artefacts: GTUBE (the spam-filter test string) and the
// avkey self-test canary used by the integration tests.
constexpr char kBuiltinYara[] = R"yara(
rule avkey_Test_GTUBE {
  meta:
    description = "GTUBE anti-spam test string"
  strings:
    $gtube = { 58 4a 53 2a 43 34 4a 44 42 51 41 44 4e 31 2e 4e 53 42 4e 33 2a 32 49 44 4e 45 4e 2a
               47 54 55 42 45 2d 53 54 41 4e 44 41 52 44 2d 41 4e 54 49 2d 55 42 45 2d 54 45 53 54
               2d 45 4d 41 49 4c 2a 43 2e 33 34 58 }
  condition:
    $gtube
}
rule avkey_Test_Canary {
  meta:
    description = "avkey self-test canary (harmless)"
  strings:
    $canary = "AVKEY-SELF-TEST-CANARY-" ascii wide
  condition:
    $canary at 0
}
)yara";

}  // namespace

Status AddBuiltinSignatures(DatabaseBuilder* builder) {
  for (auto [name, text] : {std::pair{"builtin.ndb", kBuiltinNdb}, std::pair{"builtin.hsb", kBuiltinHsb},
                            std::pair{"builtin.yar", kBuiltinYara}}) {
    Status s = builder->AddSource(name, text, /*official=*/true);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace avkey::engine
