#!/usr/bin/env bash
# Builds the unit tests with ASan+UBSan into build-asan/ and runs them; exits non-zero on any
# failing test or sanitizer report.
#   scripts/sanitize-test.sh [CTEST_ARGS...]      e.g. scripts/sanitize-test.sh -R Ldb
#
# Unit tests only (every src/**/*_test.cpp, registered by gtest_discover_tests). The
# integration.* and differential_clamscan_* tests drive the avkey/engine_scan binaries
# through Python and are left to the normal build (tests carry no ctest labels, so they are
# excluded by name). Only the test executables are built, not the apps.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=build-asan
JOBS=${JOBS:-$(nproc)}
start=$(date +%s)

cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DAVKEY_SANITIZE=ON -DAVKEY_BENCH=OFF -DAVKEY_STATIC=OFF >/dev/null

# gtest_discover_tests runs each test binary once at build time to list its tests, so the
# sanitizer options must already be set for the build.
# halt_on_error: the first report fails the test (UBSan only prints by default).
# detect_leaks: LeakSanitizer at exit. abort_on_error=0 keeps exit codes (not SIGABRT core dumps).
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=0:detect_leaks=1:detect_stack_use_after_return=1:strict_init_order=1:check_initialization_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-}

mapfile -t tests < <(find src -name '*_test.cpp' -printf '%f\n' | sed 's/\.cpp$//' | sort)
if ((${#tests[@]} == 0)); then
  echo "sanitize-test: no unit tests found under src/" >&2
  exit 1
fi
ninja -C "$BUILD" "${tests[@]}"
built=$(date +%s)

status=0
ctest --test-dir "$BUILD" -E '^(integration\.|differential_)' -j "$JOBS" --output-on-failure \
  --timeout 600 "$@" || status=$?

# A report inside a test that still exits 0 (a child process, a swallowed abort) must fail too.
log="$BUILD/Testing/Temporary/LastTest.log"
if [[ -f "$log" ]] && grep -En "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (Address|Undefined|Leak)" "$log" | head -20; then
  echo "sanitize-test: sanitizer report(s) in $log" >&2
  status=1
fi
end=$(date +%s)
echo "sanitize-test: build $((built - start)) s, tests $((end - built)) s, total $((end - start)) s, status $status"
exit $status
