#!/usr/bin/env bash
# Runs weft's benchmarks (weft_tasks, weft_echo) in the same script as the peer kit, and
# prints the table.
#
#   bench/run.sh [BUILD_DIR]
#
# BUILD_DIR: a CMake build of this repo that has bin/weft_tasks and bin/weft_echo (built with
# -DCMAKE_BUILD_TYPE=Release for numbers worth quoting).  Without it, the script
# configures and builds ./build-bench (Release) itself.  If the build has the Lua
# binding (lua/weft/core.so), bench/lua runs in the kit too (impl lua5.4-weft, with
# the kit's lua5.4-coroutine switch before pingpong).
#
# Environment:
#   WEFT_PEERS_DIR   the peer kit (default: ../shared/bench/peers next to the repo)
#   WORKLOADS        regex of workloads (default: spawn|pingpong|sleepers|echo)
#   NO_INSTALL=1     do not apt-get install the peers' toolchains when they are missing
#   PEERS_IN_PLACE=1 run the kit where it is (it writes build/ there) instead of a copy
#   N_SPAWN, M_PINGPONG, K_SLEEPERS, ...   passed through to the kit (and to weft_tasks)
#
# The log (stdout of the kit's run_all.sh, weft's lines included) is saved as
# bench/results/<date>.log (git-ignored); the kit's build output goes to <log>.err.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
PEERS=${WEFT_PEERS_DIR:-$REPO/../shared/bench/peers}
WORKLOADS=${WORKLOADS:-spawn|pingpong|sleepers|echo}
BUILD=${1:-}

note() { echo "bench/run.sh: $*" >&2; }

[ -f "$PEERS/run_all.sh" ] || { note "no peer kit at $PEERS (set WEFT_PEERS_DIR)"; exit 1; }
PEERS=$(cd "$PEERS" && pwd)

# ---- weft_tasks -----------------------------------------------------------
find_bin() { # BUILD_DIR [NAME] -> path of NAME (default weft_tasks), or nothing
    local b n=${2:-weft_tasks}
    for b in "$1/bin/$n" "$1/bench/$n" "$1/$n"; do
        [ -x "$b" ] && { echo "$b"; return; }
    done
    return 0 # nothing found: empty (set -e must not end the script here)
}
if [ -n "$BUILD" ]; then
    WEFT_TASKS=$(find_bin "$BUILD")
    [ -n "$WEFT_TASKS" ] || { note "no weft_tasks under $BUILD"; exit 1; }
else
    BUILD=$REPO/build-bench
    if [ -f "$REPO/CMakeLists.txt" ]; then
        cmake -S "$REPO" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DWEFT_BUILD_TESTS=OFF \
            -DWEFT_BUILD_EXAMPLES=OFF >&2
        cmake --build "$BUILD" --target weft_tasks weft_echo -j"$(nproc)" >&2
        cmake --build "$BUILD" --target weft_lua -j"$(nproc)" >&2 2>/dev/null \
            || note "no Lua binding in $BUILD (swig, lua5.4, liblua5.4-dev): no lua5.4-weft rows"
        WEFT_TASKS=$(find_bin "$BUILD")
    else # no build system yet: compile library and benchmark in one go
        mkdir -p "$BUILD/bin"
        # shellcheck disable=SC2046
        gcc -std=c11 -O2 -DNDEBUG -I"$REPO/abi" -I"$REPO/impl" -I"$REPO/bench" \
            "$REPO"/impl/*.c "$REPO/bench/weft_tasks.c" -o "$BUILD/bin/weft_tasks" \
            $(pkg-config --cflags --libs libuv) -lpthread -lm
        # shellcheck disable=SC2046
        gcc -std=c11 -O2 -DNDEBUG -I"$REPO/abi" -I"$REPO/impl" -I"$REPO/bench" \
            "$REPO"/impl/*.c "$REPO/bench/weft_echo.c" -o "$BUILD/bin/weft_echo" \
            $(pkg-config --cflags --libs libuv) -lpthread -lm
        WEFT_TASKS=$BUILD/bin/weft_tasks
    fi
fi
WEFT_TASKS=$(cd "$(dirname "$WEFT_TASKS")" && pwd)/$(basename "$WEFT_TASKS")
note "weft benchmark: $WEFT_TASKS"
# The echo server (the kit's EXTRA_ECHO hook), next to weft_tasks.
WEFT_ECHO=$(find_bin "$(dirname "$WEFT_TASKS")/.." weft_echo)
[ -n "$WEFT_ECHO" ] || WEFT_ECHO=$(find_bin "$BUILD" weft_echo)
EXTRA_ECHO=
if [ -n "$WEFT_ECHO" ]; then
    WEFT_ECHO=$(cd "$(dirname "$WEFT_ECHO")" && pwd)/$(basename "$WEFT_ECHO")
    EXTRA_ECHO="weft=$(printf '%q' "$WEFT_ECHO")"
    note "weft echo server: $WEFT_ECHO"
else
    note "no weft_echo: the echo workload runs the peers only"
fi

# ---- the peers' toolchains (Debian packages only) -------------------------
missing=()
/usr/bin/python3 -c 'import uvloop' 2>/dev/null || missing+=(python3-uvloop)
ls -d /usr/share/cargo/registry/tokio-1.* >/dev/null 2>&1 || missing+=(librust-tokio-dev)
command -v luajit >/dev/null 2>&1 || missing+=(luajit)
command -v go >/dev/null 2>&1 || missing+=(golang-go)
command -v lua5.4 >/dev/null 2>&1 || missing+=(lua5.4)
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "${NO_INSTALL:-0}" = 1 ]; then
        note "missing (those peers will be skipped): ${missing[*]}"
    else
        SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
        note "installing ${missing[*]}"
        $SUDO apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >&2 \
            || note "apt-get install failed: the missing peers will be skipped"
    fi
fi
# rustup's cargo may not be on a non-login shell's PATH
command -v cargo >/dev/null 2>&1 || [ ! -x "$HOME/.cargo/bin/cargo" ] || export PATH="$HOME/.cargo/bin:$PATH"
command -v cargo >/dev/null 2>&1 || note "no cargo on PATH: the tokio peer (and weft-rust) will be skipped"

# ---- weft-rust: the Rust binding's benchmark (bench/rust), on the same libweft
EXTRA=$(printf '%q' "$WEFT_TASKS")
WEFT_LIBDIR=$(dirname "$(find "$(dirname "$WEFT_TASKS")/.." "$BUILD" -name 'libweft.so' 2>/dev/null | head -n 1)")
if command -v cargo >/dev/null 2>&1 && [ -f "$REPO/bindings/rust/Cargo.toml" ] && [ -f "$WEFT_LIBDIR/libweft.so" ]; then
    if WEFT_LIB_DIR=$WEFT_LIBDIR CARGO_TARGET_DIR=$BUILD/rust cargo build --offline --release -q \
        --manifest-path "$REPO/bindings/rust/Cargo.toml" -p weft-bench >&2; then
        EXTRA="$EXTRA;$(printf '%q' "$BUILD/rust/release/weft_rust_tasks")"
        note "weft-rust benchmark: $BUILD/rust/release/weft_rust_tasks (libweft in $WEFT_LIBDIR)"
    else
        note "bench/rust did not build: no weft-rust rows"
    fi
fi

# ---- lua5.4-weft: the Lua binding's benchmark (bench/lua), on the same build
LUA_DIR=
for d in "$(dirname "$WEFT_TASKS")/../lua" "$BUILD/lua"; do
    [ -f "$d/weft/core.so" ] && { LUA_DIR=$(cd "$d" && pwd); break; }
done

# ---- run the kit -----------------------------------------------------------
# run_all.sh builds into its own ./build (and cargo writes rust/Cargo.lock).  The
# kit in shared/ is meant to stay read-only (its mode says so, but root is not
# stopped by modes), so it runs from a temporary copy unless PEERS_IN_PLACE=1.
KIT=$PEERS
if [ "${PEERS_IN_PLACE:-0}" != 1 ]; then
    KIT=$(mktemp -d /tmp/weft-peers.XXXXXX)
    cp -r "$PEERS"/. "$KIT"/
    rm -rf "$KIT/build" "$KIT/rust/target" "$KIT/rust/Cargo.lock"
    chmod -R u+w "$KIT"
    trap 'rm -rf "$KIT"' EXIT
    note "running a copy of the peer kit in $KIT"
fi
if [ -n "$LUA_DIR" ] && command -v lua5.4 >/dev/null 2>&1; then
    EXTRA="$EXTRA;$(printf 'bash %q %q %q' "$REPO/bench/lua/kit.sh" "$LUA_DIR" "$KIT")"
    note "lua5.4-weft benchmark: bench/lua/tasks.lua (weft in $LUA_DIR)"
fi

mkdir -p "$REPO/bench/results"
LOG=$REPO/bench/results/$(date -u +%Y%m%dT%H%M%SZ).log
note "running $KIT/run_all.sh '$WORKLOADS' (several minutes); log: $LOG"
EXTRA_TASKS=$EXTRA EXTRA_ECHO=$EXTRA_ECHO "$KIT/run_all.sh" "$WORKLOADS" >"$LOG" 2>"$LOG.err" || {
    note "run_all.sh failed; see $LOG.err"; exit 1; }

# ---- table and the ratios the targets are stated in ------------------------
python3 "$KIT/summarize.py" "$LOG" --ratio-to c-uv-readyq
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
def ratio(a, b):
    return f"{a / b:.2f}x" if a is not None and b else "n/a"
sw, sr, st = med("spawn", "weft", "rate"), med("spawn", "c-uv-readyq", "rate"), med("spawn", "rust-tokio", "rate")
pw, pt = med("pingpong", "weft", "ns_per_hop"), med("pingpong", "rust-tokio", "ns_per_hop")
bw, bt = med("sleepers", "weft", "per_task_b"), med("sleepers", "rust-tokio", "per_task_b")
print("\n### weft against the targets\n")
print("| figure | weft | reference | ratio | target |")
print("|---|---|---|---|---|")
fmt = lambda v, d=0: "-" if v is None else f"{v:,.{d}f}"
print(f"| spawn tasks/s vs c-uv-readyq | {fmt(sw)} | {fmt(sr)} | {ratio(sw, sr)} | >= 0.6x |")
print(f"| spawn tasks/s vs rust-tokio | {fmt(sw)} | {fmt(st)} | {ratio(sw, st)} | |")
print(f"| pingpong ns/hop vs rust-tokio | {fmt(pw, 1)} | {fmt(pt, 1)} | {ratio(pw, pt)} | <= 0.5x |")
print(f"| sleepers B/pending task (tokio for reference) | {fmt(bw)} | {fmt(bt)} | {ratio(bw, bt)} | <= 256 B |")
rs, rp, rb = med("spawn", "weft-rust", "rate"), med("pingpong", "weft-rust", "ns_per_hop"), med("sleepers", "weft-rust", "per_task_b")
print(f"| weft-rust spawn tasks/s vs rust-tokio | {fmt(rs)} | {fmt(st)} | {ratio(rs, st)} | >= 1.0x |")
print(f"| weft-rust pingpong ns/hop vs rust-tokio | {fmt(rp, 1)} | {fmt(pt, 1)} | {ratio(rp, pt)} | <= 1.0x |")
print(f"| weft-rust sleepers B/pending task vs rust-tokio | {fmt(rb)} | {fmt(bt)} | {ratio(rb, bt)} | < 1.0x |")
ew = med("echo", "weft", "server_us_per_msg")
eu, et = med("echo", "c-uv-trywrite", "server_us_per_msg"), med("echo", "rust-tokio", "server_us_per_msg")
print(f"| echo server us/msg vs c-uv-trywrite | {fmt(ew, 2)} | {fmt(eu, 2)} | {ratio(ew, eu)} | <= 1.1x |")
print(f"| echo server us/msg vs rust-tokio | {fmt(ew, 2)} | {fmt(et, 2)} | {ratio(ew, et)} | <= 1.0x |")
# Lua: a pingpong hop against the bare resume/yield pair (2 switches) of the
# kit's lua5.4-coroutine, both as CPU time (os.clock, as coro.lua measures)
sw = med("ctxswitch", "lua5.4-coroutine", "ns_per_switch")
lh, lw = med("pingpong", "lua5.4-weft", "cpu_ns_per_hop"), med("pingpong", "lua5.4-weft", "ns_per_hop")
ls = med("spawn", "lua5.4-weft", "cpu_ns_per_task")
pair = 2 * sw if sw else None
print(f"| lua5.4-weft pingpong hop vs lua5.4-coroutine pair, CPU ns | {fmt(lh, 1)} ({fmt(lw, 1)} wall) | {fmt(pair, 1)} | {ratio(lh, pair)} | <= 4x |")
print(f"| lua5.4-weft spawn (one task) vs lua5.4-coroutine pair, CPU ns | {fmt(ls, 1)} | {fmt(pair, 1)} | {ratio(ls, pair)} | |")
PY
