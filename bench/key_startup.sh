#!/usr/bin/env bash
# Start-up of a scan run from a key, with the console's compiled patterns shipped in the
# signed generation vs. the same signatures published without them (the device compiles).
#   bench/key_startup.sh [SIGNATURE_DIR] [BUILD_DIR]
# SIGNATURE_DIR defaults to the suite's "mixed" set (bench/suite/run.sh generates it under
# /var/tmp/avkey-bench). Prints /usr/bin/time's wall time and peak RSS per run.
set -euo pipefail
S=${1:-/var/tmp/avkey-bench/sets-seed1/mixed}
B=$(cd "${2:-build}" && pwd)
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/dev" && echo clean > "$W/dev/a.txt"
C="$B/avkey-console --home $W/home"
$C init --scanner "$B/avkey" >/dev/null
/usr/bin/time -f "signatures add (compile once at the console): %e s, %M KiB" $C signatures add "$S" 2>&1 | tail -1
printf '[operator]\nasset_tag = "never"\n[inventory]\nenabled = false\n' > "$W/p.toml"
$C policy set "$W/p.toml" >/dev/null
$C key prepare "$W/k1" >/dev/null
for _ in 1 2 3; do
  /usr/bin/time -f "key scan, shipped patterns: %e s, %M KiB" "$W/k1/bin/linux-x86_64/avkey" scan -q "$W/dev" 2>&1 | tail -1
done
"$B/avkey" key init "$W/k2" --signer "$W/s2" --policy "$W/p.toml" --signatures "$S"/* >/dev/null
for _ in 1 2 3; do
  /usr/bin/time -f "key scan, device compiles:   %e s, %M KiB" "$W/k2/bin/linux-x86_64/avkey" scan -q "$W/dev" 2>&1 | tail -1
done
echo "journal: shipped $(grep -c '"compiled":"hit"' "$W/k1/journal/journal.jsonl") hits of 3"
