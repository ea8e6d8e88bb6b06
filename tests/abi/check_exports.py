#!/usr/bin/env python3
"""abi_exports: what libweft exports == abi/weft.map == the WEFT_API headers.

Compares three sets of function names and prints a readable diff if they
differ:
  (a) the defined dynamic symbols of the library (nm -D --defined-only),
      minus the version node names of the map (e.g. WEFT_0.1);
  (b) the names listed in global: sections of abi/weft.map;
  (c) every function declared with WEFT_API in abi/weft.h + abi/weft/*.h.
Also fails if an exported symbol does not start with weft_ or starts with
weft__, and if the SONAME is not the expected one.

usage: check_exports.py --lib libweft.so --soname libweft.so.0 \
                        --map abi/weft.map --headers abi
       check_exports.py --map abi/weft.map --headers abi   (map vs headers only)
"""
import argparse
import glob
import os
import re
import subprocess
import sys


def strip_c_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def header_functions(abi):
    files = [os.path.join(abi, "weft.h")] + sorted(glob.glob(os.path.join(abi, "weft", "*.h")))
    names = {}
    for path in files:
        with open(path, encoding="utf-8") as fh:
            text = strip_c_comments(fh.read())
        # drop preprocessor directives, including their continuation lines
        text = re.sub(r"^[ \t]*#(?:[^\n]*\\\n)*[^\n]*", " ", text, flags=re.M)
        for m in re.finditer(r"\bWEFT_API\b([^;{]*?)\b([A-Za-z_]\w*)\s*\(", text):
            names[m.group(2)] = os.path.relpath(path, os.path.dirname(abi))
    return names


def map_symbols(path):
    with open(path, encoding="utf-8") as fh:
        text = strip_c_comments(fh.read())
    text = re.sub(r"#[^\n]*", " ", text)
    nodes, names = set(), set()
    for m in re.finditer(r"([A-Za-z_][\w.]*)?\s*\{(.*?)\}\s*([A-Za-z_][\w.]*)?\s*;", text, re.S):
        if m.group(1):
            nodes.add(m.group(1))
        section = None
        for tok in re.findall(r"global\s*:|local\s*:|[^\s;]+", m.group(2)):
            t = tok.replace(" ", "")
            if t in ("global:", "local:"):
                section = t
            elif section == "global:":
                names.add(t)
    return nodes, names


def tool(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit("FAIL: `%s` exited %d:\n%s" % (" ".join(cmd), p.returncode, p.stderr))
    return p.stdout


def exported_symbols(lib):
    syms = set()
    for line in tool(["nm", "-D", "--defined-only", lib]).splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        name = parts[-1].split("@")[0]
        syms.add(name)
    return syms


def soname(lib):
    m = re.search(r"\(SONAME\)\s+Library soname: \[([^\]]+)\]", tool(["readelf", "-d", lib]))
    return m.group(1) if m else None


def diff(title_a, a, title_b, b):
    out = []
    for name in sorted(a - b):
        out.append("  %-40s in %s, not in %s" % (name, title_a, title_b))
    for name in sorted(b - a):
        out.append("  %-40s in %s, not in %s" % (name, title_b, title_a))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib")
    ap.add_argument("--soname")
    ap.add_argument("--map", required=True)
    ap.add_argument("--headers", required=True)
    a = ap.parse_args()

    errors = []
    hdr = header_functions(a.headers)
    nodes, mapped = map_symbols(a.map)
    if not hdr:
        errors.append("no WEFT_API declarations found in %s" % a.headers)
    if not nodes:
        errors.append("no version node found in %s" % a.map)
    if "*" in mapped:
        errors.append("%s exports a wildcard in a global: section" % a.map)

    sets = [("headers", set(hdr)), ("weft.map", mapped)]
    if a.lib:
        exported = exported_symbols(a.lib) - nodes
        sets.insert(0, ("libweft.so", exported))
        for name in sorted(exported):
            if not name.startswith("weft_") or name.startswith("weft__"):
                errors.append("exported symbol %r is not public API (must be weft_*, not weft__*)"
                              % name)
        if a.soname:
            got = soname(a.lib)
            if got != a.soname:
                errors.append("SONAME of %s is %r, expected %r" % (a.lib, got, a.soname))

    for i in range(len(sets)):
        for j in range(i + 1, len(sets)):
            d = diff(sets[i][0], sets[i][1], sets[j][0], sets[j][1])
            if d:
                errors.append("%s and %s differ:\n%s" % (sets[i][0], sets[j][0], "\n".join(d)))

    if errors:
        print("FAIL:")
        for e in errors:
            print("- " + e)
        return 1
    print("ok: %s agree on %d functions%s" % (
        ", ".join(s[0] for s in sets), len(hdr),
        ("; SONAME " + a.soname) if a.lib and a.soname else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
