#!/usr/bin/env bash
# The main job: installs dependencies, builds, then scans PATH... (default: Debian's
# clamav-testfiles, real test malware material) with avkey's built-in signatures.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh >/dev/null
(($#)) || set -- /usr/share/clamav-testfiles
exec "${BUILD_DIR:-build}/avkey" scan "$@"
