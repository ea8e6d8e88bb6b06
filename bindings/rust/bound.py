#!/usr/bin/env python3
"""The binding-coverage check of the Rust binding.

Every weft_* function that libweft exports (abi/weft.map) must be called by
the safe crate (bindings/rust/weft/src, as `sys::weft_...`) or be listed in
sys-only.txt with a reason.  Listed functions must exist and must not be
called too (a stale entry fails, so the lists shrink as the binding grows).

  python3 bindings/rust/bound.py abi/weft.map     (run by scripts/sections/rust.sh)
"""
import glob, os, re, sys

here = os.path.dirname(os.path.abspath(__file__))
exported = sorted(set(re.findall(r'^\s*(weft_\w+);', open(sys.argv[1]).read(), re.M)))
src = ''.join(open(p).read() for p in glob.glob(os.path.join(here, 'weft/src/*.rs')))
used = set(re.findall(r'\bsys::(weft_\w+)\s*\(', src))

lists, section = {}, None
for line in open(os.path.join(here, 'sys-only.txt')):
    body = line.split('#', 1)[0].strip()
    if body.startswith('['):
        section = body.strip('[]')
    elif body:
        if '#' not in line:
            sys.exit(f'sys-only.txt: {body}: give a reason after #')
        lists[body] = section

bad = []
for fn in exported:
    if fn in used and fn in lists:
        bad.append(f'{fn}: bound now; remove it from [{lists[fn]}] in sys-only.txt')
    elif fn not in used and fn not in lists:
        bad.append(f'{fn}: not called by the safe crate: bind it, or append it to '
                   f'[not-yet-bound] in bindings/rust/sys-only.txt')
for fn in lists:
    if fn not in exported:
        bad.append(f'{fn}: listed in sys-only.txt but not exported by libweft')
print(f'{len(exported)} weft_* functions: {len(used & set(exported))} called by the safe crate, '
      f'{sum(1 for s in lists.values() if s == "sys-only")} left to weft-sys, '
      f'{sum(1 for s in lists.values() if s != "sys-only")} not yet bound')
for b in bad:
    print('  ' + b)
sys.exit(1 if bad else 0)
