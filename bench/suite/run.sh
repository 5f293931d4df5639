#!/usr/bin/env bash
# avkey benchmark suite: avkey beside clamscan and yara. See bench/README.md.
#   bench/suite/run.sh [--quick] [--build-dir DIR] [--work DIR] [--runs N] [--corpus-mib N] ...
set -euo pipefail
exec python3 "$(dirname "$0")/suite.py" "$@"
