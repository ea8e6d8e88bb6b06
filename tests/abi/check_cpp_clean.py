#!/usr/bin/env python3
"""abi_cpp_clean: the public header survives `cpp -P -nostdinc`.

FFI consumers (LuaJIT ffi.cdef, ctypes generators, bindgen) preprocess
abi/weft.h with only tiny stand-ins for <stddef.h>/<stdint.h>.  The output
must be plain declarations: no line may start with '#' (no leftover
directives, no line markers), and it must declare the handle types.

usage: check_cpp_clean.py [--cpp CC] --fake-libc DIR abi/weft.h
"""
import argparse
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cpp", default="cc", help="C compiler used as `CC -E` (default cc)")
    ap.add_argument("--fake-libc", required=True)
    ap.add_argument("header")
    a = ap.parse_args()

    cmd = [a.cpp, "-E", "-P", "-nostdinc", "-I", a.fake_libc, a.header]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        print("FAIL: %s exited %d\n%s" % (" ".join(cmd), p.returncode, p.stderr))
        return 1
    if p.stderr.strip():
        print("FAIL: the preprocessor warned:\n" + p.stderr)
        return 1
    out = p.stdout
    bad = [(i + 1, l) for i, l in enumerate(out.splitlines()) if l.lstrip().startswith("#")]
    if bad:
        print("FAIL: %d line(s) starting with '#' in `%s`:" % (len(bad), " ".join(cmd)))
        for n, l in bad[:20]:
            print("  %5d: %s" % (n, l))
        return 1
    for needed in ("weft_loop_t", "weft_future_t", "weft_task_t", "weft_loop_new",
                   "WEFT_ECANCELED"):
        if needed not in out:
            print("FAIL: %r missing from the preprocessed header" % needed)
            return 1
    print("ok: %d lines of declarations, no '#' lines" % len(out.splitlines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
