#!/usr/bin/env bash
# Regenerates abi/weft.abi, the ABI baseline the abi_baseline test compares
# libweft.so with (libabigail's abidw: exported functions, their types and
# the public types reachable from them, as the public headers define them).
# Run it when a release fixes the ABI of a SONAME, or after bumping the
# SONAME for a deliberate break; never to silence the test.
#
#   bash scripts/abi-baseline.sh [build dir]   (default build/release; needs -g)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
dir=${1:-$WEFT_RELEASE_DIR}
if [ ! -f "$dir/CMakeCache.txt" ]; then
  weft_configure "$dir" "${WEFT_RELEASE_OPTS[@]}"
fi
weft_build "$dir" --target weft
lib=$(find "$dir/lib" -maxdepth 1 -name 'libweft.so.*.*.*' -type f | head -n 1)
[ -n "$lib" ] || { echo "abi-baseline: no libweft.so.X.Y.Z in $dir/lib" >&2; exit 1; }
abidw --headers-dir "$WEFT_ROOT/abi" --drop-private-types --drop-undefined-syms \
      --exported-interfaces-only --no-corpus-path --no-comp-dir-path --no-show-locs \
      --type-id-style hash --out-file "$WEFT_ROOT/abi/weft.abi" "$lib"
echo "abi-baseline: abi/weft.abi from $lib ($(grep -c '<elf-symbol ' "$WEFT_ROOT/abi/weft.abi") symbols)"
