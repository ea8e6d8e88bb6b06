#!/usr/bin/env python3
"""readme_example: the C example in README.md compiles, runs and does what it says.

Extracts the first ```c block of README.md, compiles it against the build
tree (-Werror) and runs it: three workers that each sleep 1 s must finish
together, in about 1 s, and print their results.

usage: readme_example.py --cc CC --readme README.md --include abi --lib libweft.so --out DIR
"""
import argparse
import os
import re
import subprocess
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cc", default="cc")
    ap.add_argument("--readme", required=True)
    ap.add_argument("--include", required=True)
    ap.add_argument("--lib", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    with open(a.readme, encoding="utf-8") as fh:
        m = re.search(r"^```c\n(.*?)^```", fh.read(), re.S | re.M)
    if not m:
        print("FAIL: no ```c block in " + a.readme)
        return 1
    os.makedirs(a.out, exist_ok=True)
    src = os.path.join(a.out, "readme_example.c")
    exe = os.path.join(a.out, "readme_example")
    with open(src, "w", encoding="utf-8") as fh:
        fh.write(m.group(1))
    libdir = os.path.dirname(os.path.abspath(a.lib))
    cmd = [a.cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-I", a.include, "-o", exe, src,
           "-L", libdir, "-Wl,-rpath," + libdir, "-lweft"]
    print("+ " + " ".join(cmd))
    if subprocess.run(cmd).returncode != 0:
        print("FAIL: the README example does not compile")
        return 1
    t0 = time.monotonic()
    p = subprocess.run([exe], capture_output=True, text=True, timeout=30)
    dt = time.monotonic() - t0
    print(p.stdout, end="")
    print(p.stderr, end="", file=sys.stderr)
    want = "".join("worker %d returned %d\n" % (i, i * 10) for i in range(3))
    if p.returncode != 0 or p.stdout != want:
        print("FAIL: exit %d; expected output:\n%s" % (p.returncode, want))
        return 1
    if not 0.9 <= dt < 2.5:
        print("FAIL: took %.2f s, expected about 1 s (the workers sleep concurrently)" % dt)
        return 1
    print("ok: README example ran in %.2f s" % dt)
    return 0


if __name__ == "__main__":
    sys.exit(main())
