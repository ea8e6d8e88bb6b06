#!/usr/bin/env bash
# Regenerates src/ffi.rs from abi/weft.h with Debian's bindgen CLI (0.60),
# or, with --check, regenerates into a temporary file and fails if it differs
# from the committed one (scripts/sections/rust.sh runs the check).
#
#   bash bindings/rust/weft-sys/generate.sh           # after changing abi/
#   bash bindings/rust/weft-sys/generate.sh --check
#
# The output is committed so that building the crate needs neither bindgen
# nor libclang.  Allowlists keep glibc's typedefs out; named C enums become
# modules of constants (weft_errno::WEFT_ECANCELED); size_t is usize.  Doc
# comments are left out: the safe crate documents the API, and a reworded
# header comment should not make the check fail.  lib.rs keeps cargo fmt
# away from the file (#[rustfmt::skip]).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
out=$here/src/ffi.rs
check=0
[ "${1:-}" = --check ] && check=1

command -v bindgen >/dev/null || { echo "generate.sh: bindgen not found (apt-get install bindgen)" >&2; exit 1; }
# bindgen formats its output with rustfmt (default settings, not
# bindings/rust/rustfmt.toml); rustup puts rustfmt in ~/.cargo/bin
command -v rustfmt >/dev/null || PATH="$HOME/.cargo/bin:/root/.cargo/bin:$PATH"
command -v rustfmt >/dev/null || { echo "generate.sh: rustfmt not found (rustup component add rustfmt)" >&2; exit 1; }
tmp=$(mktemp)
trap 'rm -f "$tmp" "$tmp.rs"' EXIT
bindgen "$root/abi/weft.h" \
  --allowlist-function 'weft_.*' --allowlist-type 'weft_.*' --allowlist-var 'WEFT_.*' \
  --default-enum-style moduleconsts --size_t-is-usize --no-layout-tests \
  --no-doc-comments --rust-target 1.47 \
  -o "$tmp.rs" -- -I"$root/abi" -DWEFT_API= 2>"$tmp"
if [ -s "$tmp" ]; then
  cat "$tmp" >&2
fi
if [ "$check" = 1 ]; then
  if ! diff -u "$out" "$tmp.rs"; then
    echo "generate.sh: bindings/rust/weft-sys/src/ffi.rs is stale: run bash bindings/rust/weft-sys/generate.sh and commit it" >&2
    exit 1
  fi
  echo "generate.sh: src/ffi.rs is up to date"
else
  mv "$tmp.rs" "$out"
  echo "generate.sh: wrote $out"
fi
