#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for N seconds (default 60).
#   fuzz/run.sh [SECONDS] [TARGET...]
#   FUZZ_PARALLEL=2 fuzz/run.sh 600     # two targets at a time (one core each)
#   FUZZ_TIMEOUT=30 ...                 # per-input time limit in seconds (default 10); raise it
#                                       # on a loaded machine, where a starved run looks like a hang
# Crashes are kept under build-fuzz/crashes/<target>/; corpora under build-fuzz/corpus/<target>/
# (seeded from fuzz/seeds/<target>/ and fuzz/regressions/<target>/ when present; regenerate the
# seeds with fuzz/make_seeds.py). Each target's log is build-fuzz/<target>.log; the last line
# printed per target gives its run count. Exit status is non-zero if any target crashed.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-60}
shift || true
scripts/install-deps.sh
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DAVKEY_FUZZ=ON -DAVKEY_STATIC=OFF -DAVKEY_BENCH=OFF >/dev/null
targets=("$@")
if ((${#targets[@]} == 0)); then
  for f in fuzz/*_fuzz.cpp; do targets+=("$(basename "${f%.cpp}")"); done
fi
ninja -C build-fuzz "${targets[@]}"

run_one() {
  local t=$1 seeds=()
  mkdir -p "build-fuzz/corpus/$t" "build-fuzz/crashes/$t"
  [[ -d "fuzz/seeds/$t" ]] && seeds+=("fuzz/seeds/$t")
  [[ -d "fuzz/regressions/$t" ]] && seeds+=("fuzz/regressions/$t")
  echo "== $t: ${SECONDS_EACH}s (started $(date -u +%H:%M:%S))"
  local status=0
  "build-fuzz/fuzz/$t" -max_total_time="$SECONDS_EACH" -rss_limit_mb=4096 -timeout="${FUZZ_TIMEOUT:-10}" \
    -artifact_prefix="build-fuzz/crashes/$t/" "build-fuzz/corpus/$t" "${seeds[@]}" \
    2> "build-fuzz/$t.log" || status=$?
  echo "$t: $(grep -E '^#[0-9]+.*(DONE|pulse)' "build-fuzz/$t.log" | tail -1 || true)"
  if ((status != 0)); then
    echo "!! $t crashed: see build-fuzz/$t.log and build-fuzz/crashes/$t/"
    return 1
  fi
}
export -f run_one
export SECONDS_EACH
if printf '%s\n' "${targets[@]}" | xargs -P "${FUZZ_PARALLEL:-1}" -I{} bash -c 'run_one "$@"' _ {}; then
  exit 0
fi
exit 1
