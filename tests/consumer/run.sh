#!/bin/sh
# Consumer tests (registered by tests/CMakeLists.txt; ctest sets the env).
#
#   run.sh pkgconfig|cmake|ctypes|uninstalled <tests/consumer dir>
#
# Env: WEFT_PREFIX (installed tree), WEFT_LIBDIR (its lib dir), WEFT_BUILD
# (scratch dir), WEFT_UNINSTALLED_PC (${build}/pkgconfig), CC, CMAKE, PYTHON.
set -eu

mode=$1
src=$2
: "${CC:=cc}" "${CMAKE:=cmake}" "${PYTHON:=python3}"
expected="weft consumer: 0.1.0 result=42"
out="$WEFT_BUILD/$mode"
rm -rf "$out"
mkdir -p "$out"

fail() { echo "FAIL: $*" >&2; exit 1; }

# run_and_check <program> [env assignments...]: run it, require the line.
run_and_check() {
  prog=$1
  shift
  echo "+ $* $prog"
  got=$(env "$@" "$prog") || fail "$prog exited $?"
  echo "$got"
  [ "$got" = "$expected" ] || fail "expected '$expected'"
}

case $mode in
pkgconfig)
  # Only the installed weft.pc (never the uninstalled one) is visible.
  export PKG_CONFIG_PATH="$WEFT_LIBDIR/pkgconfig"
  unset PKG_CONFIG_LIBDIR || true
  prefix=$(pkg-config --variable=prefix weft) || fail "pkg-config cannot find weft.pc"
  [ "$prefix" = "$WEFT_PREFIX" ] || fail "weft.pc prefix is '$prefix', expected '$WEFT_PREFIX'"
  [ "$(pkg-config --modversion weft)" = "0.1.0" ] || fail "weft.pc version"
  flags=$(pkg-config --cflags --libs weft)
  echo "pkg-config --cflags --libs weft: $flags"
  # shellcheck disable=SC2086  # word splitting of the flags is intended
  "$CC" -std=c11 -Wall -Wextra -Werror -o "$out/consumer" "$src/consumer.c" $flags
  run_and_check "$out/consumer" "LD_LIBRARY_PATH=$WEFT_LIBDIR"
  ;;
cmake)
  "$CMAKE" -S "$src/cmake" -B "$out" -DCMAKE_C_COMPILER="$CC" \
    -DCMAKE_PREFIX_PATH="$WEFT_PREFIX" -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON \
    -DWEFT_EXPECTED_PREFIX="$WEFT_PREFIX"
  "$CMAKE" --build "$out"
  # CMake puts the imported library's directory in the build rpath.
  run_and_check "$out/consumer"
  ;;
ctypes)
  echo "+ $PYTHON ctypes_consumer.py $WEFT_LIBDIR/libweft.so.0"
  "$PYTHON" "$src/ctypes_consumer.py" "$WEFT_LIBDIR/libweft.so.0"
  ;;
uninstalled)
  # The build tree, as cgo and build.rs will use it: weft-uninstalled.pc wins.
  export PKG_CONFIG_PATH="$WEFT_UNINSTALLED_PC"
  unset PKG_CONFIG_LIBDIR PKG_CONFIG_DISABLE_UNINSTALLED || true
  flags=$(pkg-config --cflags --libs weft) || fail "pkg-config cannot find weft-uninstalled.pc"
  echo "pkg-config --cflags --libs weft: $flags"
  case $flags in
  *-Wl,-rpath,*) ;;
  *) fail "weft-uninstalled.pc was not picked (no rpath in '$flags')" ;;
  esac
  # shellcheck disable=SC2086
  "$CC" -std=c11 -Wall -Wextra -Werror -o "$out/consumer" "$src/consumer.c" $flags
  run_and_check "$out/consumer"
  ;;
*)
  fail "unknown mode '$mode'"
  ;;
esac
echo "ok: consumer_$mode"
