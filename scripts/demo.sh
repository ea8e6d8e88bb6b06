#!/usr/bin/env bash
# Installs what is missing, builds build/release, and runs every example of
# examples/c in name order.
#
#   bash scripts/demo.sh
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$WEFT_ROOT"

weft_banner "setup"
bash "$WEFT_ROOT/scripts/setup.sh"

weft_banner "build (build/release)"
weft_configure "$WEFT_RELEASE_DIR" "${WEFT_RELEASE_OPTS[@]}" >/dev/null
weft_build "$WEFT_RELEASE_DIR" --target weft_examples

shopt -s nullglob
examples=("$WEFT_RELEASE_DIR"/bin/example_*)
if [ "${#examples[@]}" -eq 0 ]; then
  echo "no examples yet"
  exit 0
fi

failed=()
for exe in "${examples[@]}"; do   # glob order is name order
  name=$(basename "$exe")
  weft_banner "$name (examples/c/${name#example_}.c)"
  rc=0
  "$exe" </dev/null || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "demo: $name exited with status $rc" >&2
    failed+=("$name")
  fi
done

if [ "${#failed[@]}" -ne 0 ]; then
  echo "demo: failed: ${failed[*]}" >&2
  exit 1
fi
