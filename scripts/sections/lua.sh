# shellcheck shell=bash
# Lua binding section of scripts/test.sh (sourced by it).
#
# The Lua tests and examples are ctests (labels lua, example), so the C
# sections' ctest runs already run them: under ASan + UBSan in build/asan
# (the sanitizer runtime preloaded into lua5.4) and plainly in build/release.
# This section adds what ctest does not: every Lua test script and example run
# under valgrind (memcheck, leaks included) against build/release.

section_lua() {
  weft_banner "Lua: tests and examples under valgrind (build/release)"
  local lua_dir="$WEFT_RELEASE_DIR/lua"
  if [ ! -f "$lua_dir/weft/core.so" ]; then
    configure_and_build lua-release "$WEFT_RELEASE_DIR" "${WEFT_RELEASE_OPTS[@]}" || return
  fi
  if [ ! -f "$lua_dir/weft/core.so" ]; then
    echo "test.sh: lua: $lua_dir/weft/core.so was not built" >&2
    record lua-valgrind 0 1
    return
  fi
  local passed=0 failed=0 script log
  local logdir="$WEFT_RELEASE_DIR/lua-valgrind"
  mkdir -p "$logdir"
  for script in "$WEFT_ROOT"/bindings/lua/tests/test_*.lua "$WEFT_ROOT"/examples/lua/*.lua; do
    [ -e "$script" ] || continue
    log="$logdir/$(basename "$(dirname "$script")")_$(basename "$script" .lua).log"
    if (cd "$(dirname "$script")" &&
        LUA_PATH="$lua_dir/?.lua;$lua_dir/?/init.lua;$WEFT_ROOT/bindings/lua/tests/?.lua;;" \
        LUA_CPATH="$lua_dir/?.so;;" WEFT_VALGRIND=1 \
        valgrind -q --error-exitcode=99 --leak-check=full --child-silent-after-fork=yes \
                 --errors-for-leak-kinds=definite,indirect,possible \
                 lua5.4 "$script") >"$log" 2>&1; then
      passed=$((passed + 1))
      echo "lua-valgrind: ok   ${script#"$WEFT_ROOT"/}"
    else
      failed=$((failed + 1))
      echo "lua-valgrind: FAIL ${script#"$WEFT_ROOT"/} (log: $log)"
      tail -n 40 "$log"
    fi
  done
  record lua-valgrind "$passed" "$failed"
}

SECTIONS+=(section_lua)
