#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test:
#   1. build/asan     Debug + AddressSanitizer + UBSan: the C suites and the ABI checks
#   2. build/release  RelWithDebInfo: ABI checks, consumer tests (pkg-config,
#                     find_package, ctypes, build tree) and the examples
# Warnings are errors.  Ends with one line "N passed, N failed" (totals over
# every section) and exits non-zero if anything failed.
#
#   bash scripts/test.sh
#   WEFT_JOBS=4 bash scripts/test.sh        # more parallelism
#
# Each section is a function.  The C sections live here; every other part
# (a binding, say) adds one file scripts/sections/<part>.sh that defines its
# function, appends it to SECTIONS and records its counts with `record`.
set -uo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$WEFT_ROOT" || exit 1

SECTIONS=(section_c_asan section_c_release)

TOTAL_PASSED=0
TOTAL_FAILED=0
SUMMARY=()

# record <section> <passed> <failed>
record() {
  TOTAL_PASSED=$((TOTAL_PASSED + $2))
  TOTAL_FAILED=$((TOTAL_FAILED + $3))
  SUMMARY+=("$(printf '%-18s %4d passed, %d failed' "$1" "$2" "$3")")
}

# configure_and_build <section> <dir> <cmake options...>: a failed configure
# fails the section (returns 1); a failed build counts as one failed test,
# and the build keeps going past the error so that ctest still runs what was
# built (tests whose executable is missing then fail on their own).
configure_and_build() {
  local section=$1 dir=$2 keep_going=()
  shift 2
  if ! weft_configure "$dir" "$@"; then
    echo "test.sh: $section: cmake configure failed" >&2
    record "$section" 0 1
    return 1
  fi
  if [ -f "$dir/build.ninja" ]; then
    keep_going=(-- -k 0)
  elif [ -f "$dir/Makefile" ]; then
    keep_going=(-- -k)
  fi
  if ! weft_build "$dir" "${keep_going[@]}"; then
    echo "test.sh: $section: BUILD FAILED (counted as one failure)" >&2
    record "$section-build" 0 1
  fi
}

# run_ctest <section> <dir> [ctest options...]: runs ctest and records the
# counts from its "NN% tests passed, F tests failed out of M" line.
run_ctest() {
  local section=$1 dir=$2 log line total failed rc
  shift 2
  log="$dir/ctest-summary.log"
  ctest --test-dir "$dir" --output-on-failure --no-tests=error \
        -j "$WEFT_JOBS" "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  line=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)
  if [ -z "$line" ]; then
    echo "test.sh: $section: ctest gave no summary (exit $rc)" >&2
    record "$section" 0 1
    return 1
  fi
  total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$line")
  failed=$(sed -E 's/.*passed, ([0-9]+) tests? failed.*/\1/' <<<"$line")
  record "$section" $((total - failed)) "$failed"
  if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
    echo "test.sh: $section: ctest exited $rc" >&2
    record "$section" 0 1
  fi
}

# ---- sections -------------------------------------------------------------

section_c_asan() {
  weft_banner "C: Debug, ASan + UBSan (build/asan)"
  configure_and_build c-asan "$WEFT_ASAN_DIR" "${WEFT_ASAN_OPTS[@]}" || return
  # consumer tests are not registered in a sanitized build; the examples run
  # in the release section
  run_ctest c-asan "$WEFT_ASAN_DIR" -LE 'example|consumer'
}

section_c_release() {
  weft_banner "C: RelWithDebInfo (build/release)"
  configure_and_build c-release "$WEFT_RELEASE_DIR" "${WEFT_RELEASE_OPTS[@]}" || return
  # the C suites already ran under the sanitizers
  run_ctest c-release "$WEFT_RELEASE_DIR" -LE unit
}

# sections of the other parts, in file-name order
for part in "$WEFT_ROOT"/scripts/sections/*.sh; do
  [ -e "$part" ] || continue
  # shellcheck source=/dev/null
  source "$part"
done

# ---- main -----------------------------------------------------------------

weft_banner "setup"
if ! bash "$WEFT_ROOT/scripts/setup.sh"; then
  echo "test.sh: setup failed" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

start=$SECONDS
for section in "${SECTIONS[@]}"; do
  "$section"
done

weft_banner "summary ($((SECONDS - start)) s)"
printf '%s\n' "${SUMMARY[@]}"
echo "$TOTAL_PASSED passed, $TOTAL_FAILED failed"
[ "$TOTAL_FAILED" -eq 0 ]
