#!/usr/bin/env bash
# The Lua binding in the peer kit's run (bench/run.sh passes this to the
# kit's EXTRA_TASKS hook, which appends the workload and its size):
#
#   bench/lua/kit.sh LUA_DIR KIT_DIR spawn|pingpong|sleepers N
#
# LUA_DIR is a build's lua/ directory (weft/core.so, weft/init.lua); KIT_DIR
# the kit.  Prints tasks.lua's line (impl=lua5.4-weft).  Before pingpong it
# also runs the kit's own Lua coroutine switch (lua/coro.lua, impl
# lua5.4-coroutine, as the kit's ctxswitch workload does), so the hop and
# the bare resume/yield pair it is judged against come from the same run.
set -euo pipefail
LUA_DIR=$1 KIT=$2 WORKLOAD=$3 N=$4
HERE=$(cd "$(dirname "$0")" && pwd)
command -v lua5.4 >/dev/null 2>&1 || { echo "bench/lua/kit.sh: no lua5.4: skipped" >&2; exit 0; }
export LUA_PATH="$LUA_DIR/?.lua;$LUA_DIR/?/init.lua;;" LUA_CPATH="$LUA_DIR/?.so;;"
if [ "$WORKLOAD" = pingpong ]; then
  lua5.4 "$KIT/lua/coro.lua" lua5.4-coroutine "${S_CTX_FAST:-20000000}"
fi
lua5.4 "$HERE/tasks.lua" "$WORKLOAD" "$N"
