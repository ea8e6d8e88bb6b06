#!/usr/bin/env python3
"""abi_docs: every WEFT_API declaration in abi/ has a doc comment.

The line right above each `WEFT_API ...` declaration (blank lines skipped)
must end with `*/`.  Lists every undocumented function and fails.

usage: check_docs.py ABI_DIR
"""
import glob
import os
import re
import sys

DECL = re.compile(r"^\s*WEFT_API\b")
NAME = re.compile(r"\b(weft_\w+)\s*\(")


def headers(abi):
    files = [os.path.join(abi, "weft.h")] + sorted(glob.glob(os.path.join(abi, "weft", "*.h")))
    return [f for f in files if os.path.exists(f)]


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    abi = sys.argv[1]
    undocumented, count = [], 0
    for path in headers(abi):
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
        for i, line in enumerate(lines):
            if not DECL.match(line):
                continue
            count += 1
            # the name may be on a later line of a multi-line declaration
            text = " ".join(lines[i:i + 4])
            m = NAME.search(text)
            name = m.group(1) if m else line.strip()
            j = i - 1
            while j >= 0 and not lines[j].strip():
                j -= 1
            if j < 0 or not lines[j].rstrip().endswith("*/"):
                undocumented.append("%s:%d: %s" % (os.path.relpath(path, os.path.dirname(abi)),
                                                    i + 1, name))
    if count == 0:
        print("FAIL: no WEFT_API declarations found under %s" % abi)
        return 1
    if undocumented:
        print("FAIL: %d of %d WEFT_API declarations have no doc comment right above:"
              % (len(undocumented), count))
        for u in undocumented:
            print("  " + u)
        return 1
    print("ok: all %d WEFT_API declarations are documented" % count)
    return 0


if __name__ == "__main__":
    sys.exit(main())
