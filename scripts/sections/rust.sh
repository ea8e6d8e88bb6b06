# shellcheck shell=bash
# Rust binding (bindings/rust): the generated FFI is what bindgen makes of
# abi/weft.h today, the binding-coverage check (every weft_* function called
# by the safe crate or listed), every public item used by a test, `cargo test
# --offline` (unit, integration, cross-language and doc tests, and
# examples/rust: every lesson run and its output compared), clippy with -D warnings, rustfmt, a valgrind run of the task
# tests, and a consumer crate outside the tree that depends on the crates by
# path.  Standard library only; offline.  Sourced by scripts/test.sh.

# rust_cargo: finds cargo (rustup installs it in ~/.cargo/bin, which a
# non-login shell may not have on PATH).
rust_cargo() {
  local dir
  command -v cargo >/dev/null 2>&1 && return 0
  for dir in "${CARGO_HOME:-}/bin" "$HOME/.cargo/bin" /root/.cargo/bin; do
    if [ -x "$dir/cargo" ]; then
      export PATH="$dir:$PATH"
      return 0
    fi
  done
  return 1
}

# rust_env: the environment every cargo command here runs in.
rust_env() {
  export CARGO_TARGET_DIR="$WEFT_ROOT/build/rust" CARGO_NET_OFFLINE=true
  export PKG_CONFIG_PATH="$WEFT_RELEASE_DIR/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
  mkdir -p "$CARGO_TARGET_DIR"
}

# rust_step <name> <command...>: runs one check, counted as one test.
rust_step() {
  local name=$1
  shift
  echo "-- rust: $name"
  if "$@"; then
    RUST_PASSED=$((RUST_PASSED + 1))
  else
    echo "rust.sh: FAILED: $name" >&2
    RUST_FAILED=$((RUST_FAILED + 1))
  fi
}

# rust_tests: cargo test over the workspace, each test counted (the
# "test result: ok. N passed; M failed" lines of every binary and doctest).
rust_tests() {
  local log rc passed failed
  log="$CARGO_TARGET_DIR/test.log"
  (cd "$WEFT_ROOT/bindings/rust" && cargo test --offline --workspace --all-targets &&
    cargo test --offline --workspace --doc) >"$log" 2>&1
  rc=$?
  grep -E '^(test result|error|warning: unused)|FAILED|panicked' "$log"
  passed=$(grep -oE 'test result: [A-Za-z]+\. [0-9]+ passed' "$log" | awk '{s += $4} END {print s + 0}')
  failed=$(grep -oE '; [0-9]+ failed' "$log" | awk '{s += $2} END {print s + 0}')
  if [ "$rc" -ne 0 ]; then
    tail -n 60 "$log"
    [ "$failed" -eq 0 ] && failed=1
  fi
  RUST_PASSED=$((RUST_PASSED + passed))
  RUST_FAILED=$((RUST_FAILED + failed))
}

rust_clippy() {
  (cd "$WEFT_ROOT/bindings/rust" && cargo clippy --offline --workspace --all-targets -- -D warnings)
}

rust_fmt() {
  (cd "$WEFT_ROOT/bindings/rust" && cargo fmt --all -- --check)
}

# rust_valgrind: the task, future, toolbox, stream and soundness tests (pending futures
# and reads dropped, tasks cancelled at close, wakers from threads, owned
# writes released) under memcheck, leaks included.
rust_valgrind() {
  local bin t ok=0
  for t in tasks futures taskgroup sync queue wait executor net soundness; do
    bin=$(find "$CARGO_TARGET_DIR/debug/deps" -maxdepth 1 -type f -executable -name "${t}-*" | head -n 1)
    [ -n "$bin" ] || { echo "no test binary for $t"; return 1; }
    LD_LIBRARY_PATH="$WEFT_RELEASE_DIR/lib" valgrind -q --error-exitcode=99 --leak-check=full \
      --errors-for-leak-kinds=definite,indirect "$bin" --test-threads=1 -q >"$CARGO_TARGET_DIR/valgrind-$t.log" 2>&1 ||
      { tail -n 40 "$CARGO_TARGET_DIR/valgrind-$t.log"; ok=1; }
  done
  return $ok
}

# rust_consumer: a crate in a temporary directory outside the repository
# that depends on weft by path, built and run offline.
rust_consumer() {
  local dir rc
  dir=$(mktemp -d) || return 1
  mkdir -p "$dir/src"
  cat >"$dir/Cargo.toml" <<EOF2
[package]
name = "consumer"
version = "0.1.0"
edition = "2021"

[dependencies]
weft = { path = "$WEFT_ROOT/bindings/rust/weft" }
EOF2
  cat >"$dir/src/main.rs" <<'EOF2'
fn main() {
    let v = weft::run(async {
        let t = weft::spawn(async {
            weft::sleep(0.001).await?;
            Ok::<i64, weft::Error>(41)
        });
        Ok::<i64, weft::Error>(t.await? + 1)
    });
    assert_eq!(v, Ok(Ok(42)));
    println!("consumer: ok");
}
EOF2
  (cd "$dir" && CARGO_TARGET_DIR="$dir/target" cargo run --offline -q)
  rc=$?
  rm -rf "$dir"
  return $rc
}

section_rust() {
  weft_banner "Rust binding (bindings/rust)"
  RUST_PASSED=0
  RUST_FAILED=0
  if ! rust_cargo; then
    echo "rust.sh: no cargo on PATH or in ~/.cargo/bin: install a Rust toolchain" >&2
    record rust 0 1
    return
  fi
  if [ ! -f "$WEFT_RELEASE_DIR/pkgconfig/weft-uninstalled.pc" ]; then
    echo "rust.sh: no build/release (the release section failed?)" >&2
    record rust 0 1
    return
  fi
  mkdir -p "$WEFT_ROOT/build/rust"
  rm -f "$WEFT_ROOT/build/rust/counts"
  (
    rust_env
    cargo --version
    rust_step "src/ffi.rs is what bindgen generates from abi/weft.h" \
      bash "$WEFT_ROOT/bindings/rust/weft-sys/generate.sh" --check
    rust_step "every weft_* function bound or listed (bound.py)" \
      python3 "$WEFT_ROOT/bindings/rust/bound.py" "$WEFT_ROOT/abi/weft.map"
    rust_step "every public item used by a test (tested.py)" \
      python3 "$WEFT_ROOT/bindings/rust/tested.py"
    rust_tests
    if cargo clippy --version >/dev/null 2>&1; then
      rust_step "clippy -D warnings" rust_clippy
    else
      echo "rust.sh: SKIPPED clippy: cargo clippy is not installed (rustup component add clippy)"
    fi
    if cargo fmt --version >/dev/null 2>&1; then
      rust_step "rustfmt --check" rust_fmt
    else
      echo "rust.sh: SKIPPED rustfmt: cargo fmt is not installed"
    fi
    rust_step "valgrind: task, future, toolbox, stream and soundness tests leak nothing" rust_valgrind
    rust_step "a consumer crate outside the tree (path dependency, offline)" rust_consumer
    echo "$RUST_PASSED $RUST_FAILED" >"$WEFT_ROOT/build/rust/counts"
  )
  read -r RUST_PASSED RUST_FAILED <"$WEFT_ROOT/build/rust/counts" || RUST_FAILED=1
  record rust "$RUST_PASSED" "$RUST_FAILED"
}

SECTIONS+=(section_rust)
