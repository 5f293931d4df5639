#!/usr/bin/env bash
# Installs every Debian 12 package avkey needs to build, test and benchmark.
# Idempotent: packages already present are left alone. Needs root (or sudo).
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git python3 file
  clang libclang-rt-14-dev
  libvectorscan-dev libyara-dev libarchive-dev libssl-dev libsqlite3-dev
  nlohmann-json3-dev libcli11-dev libtomlplusplus-dev libfmt-dev libpcre2-dev libxxhash-dev libdeflate-dev

  libacl1-dev libzstd-dev liblz4-dev libmagic-dev libjansson-dev libicu-dev
  libbz2-dev liblzma-dev zlib1g-dev libxml2-dev nettle-dev

  libgtest-dev libgmock-dev libbenchmark-dev
  clamav clamav-testfiles yara
  chromium
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  echo "install-deps: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
