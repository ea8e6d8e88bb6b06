#!/usr/bin/env bash
# Builds weft with ThreadSanitizer (Debug) and runs the C suites, the
# examples and the OOM sweeps under it, with tests/tsan.supp.  Not part of
# scripts/test.sh or CI: too slow for the 2-core budget.  Ends with one line
# "tsan: PASS ..." or "tsan: FAIL ..." and exits non-zero on failure.
#
#   bash scripts/tsan.sh                      # build/tsan, every suite once
#   TSAN_REPEAT=5 bash scripts/tsan.sh        # each run repeated (races are timing-dependent)
#   TSAN_TESTS=threadsafe bash scripts/tsan.sh   # a ctest -R regex
#
# A failing test prints its TSan reports (ctest --output-on-failure).  libuv
# is not instrumented: see tests/tsan.supp for why it needs no entry, and
# what each entry is.
set -uo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$WEFT_ROOT" || exit 1

dir=${WEFT_TSAN_DIR:-$WEFT_ROOT/build/tsan}
repeat=${TSAN_REPEAT:-1}
regex=${TSAN_TESTS:-}

weft_banner "ThreadSanitizer build ($dir)"
if ! weft_configure "$dir" -DCMAKE_BUILD_TYPE=Debug -DWEFT_WERROR=ON -DWEFT_SANITIZE=thread \
    -DWEFT_BUILD_BENCH=OFF -DWEFT_BUILD_LUA=OFF -DWEFT_ABI_CHECK=OFF >/dev/null ||
  ! weft_build "$dir"; then
  echo "tsan: FAIL (build)"
  exit 1
fi

# history_size=7: the most history TSan keeps, so the earlier access of a
# race keeps its stack (a suppression needs it).  exitcode: a report fails
# the test even when the suite's own checks passed.
export TSAN_OPTIONS="suppressions=$WEFT_ROOT/tests/tsan.supp history_size=7 second_deadlock_stack=1 exitcode=66 ${TSAN_OPTIONS:-}"

filter=(-L 'unit|example|oom')
[ -n "$regex" ] && filter+=(-R "$regex")
weft_banner "ctest under TSan (${repeat}x)"
log=$(mktemp)
ctest --test-dir "$dir" "${filter[@]}" -j "$WEFT_JOBS" --timeout 600 --output-on-failure \
  --repeat "until-fail:$repeat" 2>&1 | tee "$log"
line=$(grep -E '^[0-9]+% tests passed' "$log" | tail -1)
rm -f "$log"
if [ -z "$line" ]; then
  echo "tsan: FAIL (ctest did not report)"
  exit 1
fi
failed=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$line")
total=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\2/' <<<"$line")
if [ "$failed" = 0 ]; then
  echo "tsan: PASS $((total - failed)) passed, 0 failed (x$repeat)"
  exit 0
fi
echo "tsan: FAIL $((total - failed)) passed, $failed failed (x$repeat)"
exit 1
