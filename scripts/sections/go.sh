# shellcheck shell=bash
# Go binding: vet, `go test -race` (bindings/go and examples/go), the check
# that every exported Go function is exercised by the tests, the binding
# coverage check (every weft_* function bound or listed), and a consumer
# module outside the tree that uses the binding through a replace directive.
# Offline: GOFLAGS=-mod=mod GOPROXY=off.  Sourced by scripts/test.sh.

# go_env: the environment every go command here runs in.  The Go build cache
# does not notice a changed weft-uninstalled.pc or changed headers (the SWIG
# step reads them), so the cache is cleared whenever they change.
go_env() {
  export GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local GO111MODULE=on
  export GOCACHE="$WEFT_ROOT/build/go/cache" GOPATH="$WEFT_ROOT/build/go/path"
  export PKG_CONFIG_PATH="$WEFT_RELEASE_DIR/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
  mkdir -p "$GOCACHE" "$GOPATH"
  local stamp="$WEFT_ROOT/build/go/inputs.sha" sum
  sum=$(cat "$WEFT_RELEASE_DIR/pkgconfig/weft-uninstalled.pc" "$WEFT_ROOT"/abi/*.h \
            "$WEFT_ROOT"/abi/weft/*.h "$WEFT_ROOT"/bindings/swig/*.i \
            "$WEFT_ROOT"/bindings/go/internal/cweft/*.i 2>/dev/null | sha256sum)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$sum" ]; then
    go clean -cache
    echo "$sum" >"$stamp"
  fi
}

# go_step <name> <command...>: runs one check, counted as one test.
go_step() {
  local name=$1
  shift
  echo "-- go: $name"
  if "$@"; then
    GO_PASSED=$((GO_PASSED + 1))
  else
    echo "go.sh: FAILED: $name" >&2
    GO_FAILED=$((GO_FAILED + 1))
  fi
}

# go_generate: cweft's SWIG output only exists inside `go build`, so it is
# generated into a copy of the module ($GO_COPY), for vet and bound.py.
go_generate() {
  GO_COPY=$(mktemp -d) || return 1
  cp -r "$WEFT_ROOT/bindings/go/." "$GO_COPY/"
  # shellcheck disable=SC2046
  (cd "$WEFT_ROOT/bindings/go/internal/cweft" &&
    swig -go -cgo -intgosize 64 -module cweft $(pkg-config --cflags-only-I weft) \
      -o "$GO_COPY/internal/cweft/cweft_wrap.c" -outdir "$GO_COPY/internal/cweft" cweft.swig) &&
    rm "$GO_COPY/internal/cweft/cweft.swig"
}

# go_vet: every package, and gofmt; cweft on the generated copy, without the
# unsafeptr check, which flags SWIG's own string-copy helper.
go_vet() {
  (cd "$WEFT_ROOT/bindings/go" && go vet $(go list ./... | grep -v /internal/cweft)) || return 1
  (cd "$GO_COPY" && go vet -unsafeptr=false ./internal/cweft) || return 1
  local unformatted
  unformatted=$(cd "$WEFT_ROOT" && gofmt -l bindings/go examples/go bench/go 2>/dev/null)
  [ -z "$unformatted" ] || { echo "gofmt: $unformatted"; return 1; }
}

# go_bound: every weft_* function reachable from Go or listed (c-only.txt).
go_bound() {
  python3 "$WEFT_ROOT/bindings/go/bound.py" "$WEFT_ROOT/abi/weft.map" \
    "$GO_COPY/internal/cweft/cweft_wrap.c" "$GO_COPY/internal/cweft/cweft.go"
}

# go_tests <dir>: go test -race -v, each test counted.
go_tests() {
  local dir=$1 log passed failed rc
  log=$(mktemp)
  (cd "$dir" && go test -race -count=1 -v -timeout 300s ./...) >"$log" 2>&1
  rc=$?
  grep -E -- '^(--- FAIL|FAIL|ok|panic:)' "$log"
  passed=$(grep -c -- '^--- PASS' "$log")
  failed=$(grep -c -- '^--- FAIL' "$log")
  if [ "$rc" -ne 0 ]; then
    grep -v -- '^=== \|^--- PASS' "$log" | tail -n 60
    [ "$failed" -eq 0 ] && failed=1
  fi
  rm -f "$log"
  GO_PASSED=$((GO_PASSED + passed))
  GO_FAILED=$((GO_FAILED + failed))
}

# go_exported_covered: every exported function and method of package weft
# runs in the tests (coverage above 0%).
go_exported_covered() {
  local prof missing
  prof=$(mktemp)
  (cd "$WEFT_ROOT/bindings/go" && go test -count=1 -coverprofile="$prof" . >"$prof.log" 2>&1) || { tail -n 40 "$prof.log"; rm -f "$prof" "$prof.log"; return 1; }
  rm -f "$prof.log"
  missing=$(cd "$WEFT_ROOT/bindings/go" && go tool cover -func="$prof" |
    awk '$NF == "0.0%" && $2 ~ /^[A-Z]/ {print $1, $2}')
  rm -f "$prof"
  [ -z "$missing" ] || { echo "exported but never run by a test:"; echo "$missing"; return 1; }
}

# go_consumer: a module in a temporary directory outside the repository that
# requires weft.local/weft and replaces it with this checkout.
go_consumer() {
  local dir rc
  dir=$(mktemp -d) || return 1
  cat >"$dir/go.mod" <<EOF2
module consumer

go 1.19

require weft.local/weft v0.0.0

replace weft.local/weft => $WEFT_ROOT/bindings/go
EOF2
  cat >"$dir/main.go" <<'EOF2'
package main

import (
	"context"
	"fmt"
	"os"

	"weft.local/weft"
)

func main() {
	v, err := weft.Run(func(ctx context.Context, l *weft.Loop) (int, error) {
		t := weft.Spawn(l, func(ctx context.Context) (int, error) { return 41, nil })
		n, err := t.Await(ctx)
		return n + 1, err
	})
	if v != 42 || err != nil {
		fmt.Println("consumer: got", v, err)
		os.Exit(1)
	}
	fmt.Println("consumer: ok")
}
EOF2
  (cd "$dir" && go vet . && go run .)
  rc=$?
  rm -rf "$dir"
  return $rc
}

section_go() {
  weft_banner "Go binding (bindings/go)"
  GO_PASSED=0
  GO_FAILED=0
  if ! command -v go >/dev/null || [ ! -f "$WEFT_RELEASE_DIR/pkgconfig/weft-uninstalled.pc" ]; then
    echo "go.sh: no go, or no build/release (the release section failed?)" >&2
    record go 0 1
    return
  fi
  rm -f "$WEFT_ROOT/build/go/counts"
  (
    go_env
    go_step "generate cweft (SWIG) for the checks" go_generate
    go_step "vet + gofmt" go_vet
    go_step "every weft_* function bound or listed (bound.py)" go_bound
    go_tests "$WEFT_ROOT/bindings/go"
    go_step "every exported function is tested" go_exported_covered
    go_tests "$WEFT_ROOT/examples/go"
    go_step "a consumer module outside the tree (replace directive, offline)" go_consumer
    [ -n "${GO_COPY:-}" ] && rm -rf "$GO_COPY"
    echo "$GO_PASSED $GO_FAILED" >"$WEFT_ROOT/build/go/counts"
  )
  read -r GO_PASSED GO_FAILED <"$WEFT_ROOT/build/go/counts" || GO_FAILED=1
  record go "$GO_PASSED" "$GO_FAILED"
}

SECTIONS+=(section_go)
