#!/usr/bin/env python3
"""abi_baseline: libweft.so keeps the ABI recorded in abi/weft.abi.

abi/weft.abi is libabigail's description (abidw) of the library as released
under its SONAME: every exported function with its parameter and return
types, every public type reachable from them.  This runs abidiff between
that baseline and the library just built, with the public headers deciding
which types count, and fails on any change that breaks a program linked
against the baseline (a function removed, a parameter or return type
changed, an enum value or a struct used by value changed).  Functions added
since are compatible: they are listed, not failed.  When the ABI must
break, bump the SONAME (PROJECT_VERSION_MAJOR) and regenerate the baseline
with scripts/abi-baseline.sh.

Types are only compared where the library has debug information (Debug and
RelWithDebInfo builds); without it abidiff compares the exported symbols
alone, which still catches a removed function.

usage: check_abi_baseline.py --abidiff /usr/bin/abidiff --baseline abi/weft.abi \
                             --headers abi --lib build/lib/libweft.so
"""
import argparse
import subprocess
import sys

# abidiff's exit status is a bit set (libabigail's abidiff_status).
ERROR = 1
USAGE_ERROR = 2
ABI_CHANGE = 4
ABI_INCOMPATIBLE_CHANGE = 8


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--abidiff", required=True)
    ap.add_argument("--baseline", required=True)
    ap.add_argument("--headers", required=True)
    ap.add_argument("--lib", required=True)
    args = ap.parse_args()

    cmd = [args.abidiff, "--headers-dir2", args.headers, "--drop-private-types",
           "--no-show-locs", args.baseline, args.lib]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True)
    rc, report = proc.returncode, proc.stdout
    if rc & (ERROR | USAGE_ERROR):
        print("abi_baseline: abidiff could not compare (exit %d):\n%s" % (rc, report))
        print("command: " + " ".join(cmd))
        return 1
    if rc & ABI_INCOMPATIBLE_CHANGE:
        print("abi_baseline: libweft.so breaks the ABI recorded in %s:\n" % args.baseline)
        print(report)
        print("Restore the old declarations, or bump the SONAME and regenerate the "
              "baseline (scripts/abi-baseline.sh).")
        return 1
    if rc & ABI_CHANGE:
        print("abi_baseline: compatible changes since the baseline (additions):\n")
        print(report)
    else:
        print("abi_baseline: libweft.so matches %s" % args.baseline)
    return 0


if __name__ == "__main__":
    sys.exit(main())
