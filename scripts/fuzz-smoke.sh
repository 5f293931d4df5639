#!/usr/bin/env bash
# Short fuzzing pass for CI: builds the libFuzzer targets with clang (build-fuzz/), replays
# every saved reproducer in fuzz/regressions/<target>/, then fuzzes each target for a few
# seconds from its seeds (fuzz/seeds/<target>/). Exits non-zero on any crash, leak, sanitizer
# report or timeout.
#   scripts/fuzz-smoke.sh [SECONDS_PER_TARGET]     (default 20; targets run $(nproc) at a time)
#
# The seeds are only read: new corpus entries go to a temporary directory that is removed.
# Crash artefacts are kept under build-fuzz/smoke-crashes/<target>/ for the CI log.
# Longer runs: fuzz/run.sh N.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-20}
JOBS=${JOBS:-$(nproc)}
start=$(date +%s)

CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DAVKEY_FUZZ=ON -DAVKEY_STATIC=OFF -DAVKEY_BENCH=OFF >/dev/null
targets=()
for f in fuzz/*_fuzz.cpp; do targets+=("$(basename "${f%.cpp}")"); done
ninja -C build-fuzz "${targets[@]}"
built=$(date +%s)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

# 1. Regressions: each saved reproducer once (fast; a fixed bug must stay fixed).
failed=0
for t in "${targets[@]}"; do
  dir="fuzz/regressions/$t"
  [[ -d "$dir" ]] || continue
  mapfile -t files < <(find "$dir" -type f ! -name '*.md' | sort)
  ((${#files[@]})) || continue
  if ! "build-fuzz/fuzz/$t" -timeout=10 -rss_limit_mb=4096 "${files[@]}" >"$work/$t.regress.log" 2>&1; then
    echo "!! $t: a regression input fails again:" >&2
    grep -E "Running:|ERROR|SUMMARY|runtime error" "$work/$t.regress.log" | tail -8 >&2
    failed=1
  fi
done
regressed=$(date +%s)

# 2. Fuzz each target for SECS seconds, JOBS targets at a time.
run_one() {
  local t=$1
  mkdir -p "$work/corpus/$t" "build-fuzz/smoke-crashes/$t"
  local seeds=()
  [[ -d "fuzz/seeds/$t" ]] && seeds+=("fuzz/seeds/$t")
  [[ -d "fuzz/regressions/$t" ]] && seeds+=("fuzz/regressions/$t")
  if "build-fuzz/fuzz/$t" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=4096 \
      -artifact_prefix="build-fuzz/smoke-crashes/$t/" -print_final_stats=1 \
      "$work/corpus/$t" "${seeds[@]}" >"$work/$t.log" 2>&1; then
    echo "ok  $t: $(grep -E '^stat::number_of_executed_units' "$work/$t.log" | awk '{print $2}') execs"
  else
    echo "!!  $t crashed; artefacts in build-fuzz/smoke-crashes/$t/" >&2
    grep -E "ERROR|SUMMARY|runtime error|Test unit written" "$work/$t.log" | head -8 >&2
    return 1
  fi
}
for t in "${targets[@]}"; do
  while (($(jobs -rp | wc -l) >= JOBS)); do wait -n || true; done
  (run_one "$t" || touch "$work/$t.failed") &
done
wait
for t in "${targets[@]}"; do
  if [[ -e "$work/$t.failed" ]]; then failed=1; fi
done
end=$(date +%s)
echo "fuzz-smoke: build $((built - start)) s, regressions $((regressed - built)) s," \
  "fuzzing $((end - regressed)) s, total $((end - start)) s; ${#targets[@]} targets x ${SECS} s"
exit $failed
