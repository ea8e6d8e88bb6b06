#!/usr/bin/env bash
# The Lua binding's benchmark: the peer kit's spawn, pingpong and sleepers
# workloads in Lua on weft (tasks.lua), next to the kit's own Lua coroutine
# switch (lua/coro.lua, impl lua5.4-coroutine), in one run on this machine.
#
#   bench/lua/run.sh [BUILD_DIR]       (default: configure and build ./build-bench, Release)
#
# Environment: WEFT_PEERS_DIR (the kit, default ../shared/bench/peers), RUNS
# (repetitions, default 3; the table shows medians), N_SPAWN, M_PINGPONG,
# K_SLEEPERS (sizes; defaults as the kit's C sizes).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
PEERS=${WEFT_PEERS_DIR:-$REPO/../shared/bench/peers}
BUILD=${1:-$REPO/build-bench}
RUNS=${RUNS:-3}

if [ -z "${1:-}" ]; then
  cmake -S "$REPO" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DWEFT_BUILD_TESTS=OFF \
        -DWEFT_BUILD_EXAMPLES=OFF -DWEFT_BUILD_LUA=ON >&2
  cmake --build "$BUILD" --target weft_lua -j2 >&2
fi
[ -f "$BUILD/lua/weft/core.so" ] || { echo "no $BUILD/lua/weft/core.so" >&2; exit 1; }
export LUA_PATH="$BUILD/lua/?.lua;$BUILD/lua/?/init.lua;;" LUA_CPATH="$BUILD/lua/?.so;;"

mkdir -p "$REPO/bench/results"
LOG=$REPO/bench/results/lua-$(date -u +%Y%m%dT%H%M%SZ).log
{
  echo "# $(date -u) $(uname -r) $(lua5.4 -v 2>&1) cpu=\"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)\""
  for _ in $(seq "$RUNS"); do
    lua5.4 "$PEERS/lua/coro.lua" lua5.4-coroutine "${S_CTX_FAST:-20000000}"
    lua5.4 "$REPO/bench/lua/tasks.lua" spawn "${N_SPAWN:-1000000}"
    lua5.4 "$REPO/bench/lua/tasks.lua" pingpong "${M_PINGPONG:-1000000}"
    lua5.4 "$REPO/bench/lua/tasks.lua" sleepers "${K_SLEEPERS:-100000}"
  done
} | tee "$LOG"

python3 - "$LOG" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    if line.startswith("workload="):
        kv = dict(t.split("=", 1) for t in line.split() if "=" in t)
        rows.setdefault((kv["workload"], kv["impl"]), []).append(kv)
def med(w, impl, key):
    vals = [float(r[key]) for r in rows.get((w, impl), []) if key in r]
    return statistics.median(vals) if vals else None
sw = med("ctxswitch", "lua5.4-coroutine", "ns_per_switch")   # CPU time (os.clock)
hop = med("pingpong", "lua5.4-weft", "cpu_ns_per_hop")
hop_wall = med("pingpong", "lua5.4-weft", "ns_per_hop")
print("\n(CPU time per operation, medians of the runs; wall time in parentheses)\n")
print("| figure | lua5.4-weft | lua5.4-coroutine | ratio |")
print("|---|---|---|---|")
if sw and hop:
    print(f"| pingpong: one hop vs one resume/yield pair (2 switches) | {hop:,.1f} ns ({hop_wall:,.1f}) | {2*sw:,.1f} ns | {hop/(2*sw):.2f}x (target <= 4x) |")
sp = med("spawn", "lua5.4-weft", "cpu_ns_per_task")
sp_rate = med("spawn", "lua5.4-weft", "rate")
if sp and sw:
    print(f"| spawn: one task (spawn, run, join) vs a pair | {sp:,.1f} ns ({sp_rate:,.0f} tasks/s wall) | {2*sw:,.1f} ns | {sp/(2*sw):.2f}x |")
sl = med("sleepers", "lua5.4-weft", "per_task_b")
if sl:
    print(f"| sleepers: bytes per pending task | {sl:,.0f} | | |")
PY
