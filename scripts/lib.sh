# Shared by scripts/test.sh and scripts/demo.sh (sourced, not run).

WEFT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Parallel jobs for builds and ctest (2 cores on the reference machine).
WEFT_JOBS=${WEFT_JOBS:-2}

# The two build trees.  demo.sh and test.sh use the same options for
# build/release, so neither forces the other to reconfigure and rebuild.
WEFT_ASAN_DIR="$WEFT_ROOT/build/asan"
WEFT_ASAN_OPTS=(-DCMAKE_BUILD_TYPE=Debug -DWEFT_WERROR=ON
                -DWEFT_SANITIZE=address,undefined -DWEFT_ABI_CHECK=ON)
WEFT_RELEASE_DIR="$WEFT_ROOT/build/release"
WEFT_RELEASE_OPTS=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEFT_WERROR=ON
                   -DWEFT_SANITIZE= -DWEFT_ABI_CHECK=ON)

# weft_banner <text>: a visible section header.
weft_banner() {
  printf '\n==== %s ====\n' "$*"
}

# weft_configure <build dir> <cmake options...>
weft_configure() {
  local dir=$1
  shift
  cmake -S "$WEFT_ROOT" -B "$dir" "$@"
}

# weft_build <build dir> [cmake --build options...]
weft_build() {
  local dir=$1
  shift
  cmake --build "$dir" -j "$WEFT_JOBS" "$@"
}
