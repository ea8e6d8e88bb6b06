#!/usr/bin/env bash
# Installs what weft needs on Debian 12, and nothing when it is all there.
# Idempotent; works as root or through sudo.  Run from anywhere:
#   bash scripts/setup.sh
set -euo pipefail

# Debian packages.  The core's are here; every other part (a binding, say)
# lists its own in scripts/packages/<part>.list (names separated by white
# space, `#` starts a comment).
WEFT_PACKAGES=(
  # core: compiler, build, libuv, CUnit, test and consumer scripts, abidiff
  # (the abi_baseline test)
  build-essential cmake pkg-config libuv1-dev libcunit1-dev python3 git abigail-tools
)
for list in "$(dirname "${BASH_SOURCE[0]}")"/packages/*.list; do
  [ -e "$list" ] || continue
  # shellcheck disable=SC2207
  WEFT_PACKAGES+=($(sed 's/#.*//' "$list"))
done

missing=()
for pkg in "${WEFT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "setup: all ${#WEFT_PACKAGES[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
as_root=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
  else
    echo "setup: need root or sudo to install: ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -q --no-install-recommends "${missing[@]}"
