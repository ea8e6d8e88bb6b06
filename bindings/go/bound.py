#!/usr/bin/env python3
"""The binding-coverage check of the Go binding.

Every weft_* function that libweft exports (abi/weft.map) must be reachable
from the Go API or be listed in c-only.txt, with a reason.  Reachable means:
a SWIG wrapper of internal/cweft (or its hand-written cgo) calls the C
function, and the package weft (bindings/go/*.go, tests excluded) calls that
Go wrapper.  Listed functions must exist and must not be reachable too (a
stale entry fails, so the lists shrink as bindings grow).

  python3 bound.py <abi/weft.map> <cweft_wrap.c> <cweft.go>   (run by scripts/sections/go.sh)
"""
import glob, os, re, sys

here = os.path.dirname(os.path.abspath(__file__))
weft_map, wrap_c, wrap_go = sys.argv[1:4]
exported = sorted(set(re.findall(r'^\s*(weft_\w+);', open(weft_map).read(), re.M)))

# every C function of the wrapper file -> the functions its body calls; then
# each _wrap_<x>_cweft_<hash> -> the weft_* functions it reaches (through
# SWIG's static helpers, e.g. new_weft_future -> weft_future_new)
def functions(src):
    """name -> body of every C function defined at the top level of src
    (braces counted, so one-line functions and nested blocks are fine)."""
    out = {}
    for m in re.finditer(r'^[A-Za-z_][\w \t\*]*?\b(\w+)\([^;{}]*?\)\s*\{', src, re.M):
        depth, i = 1, m.end()
        while depth and i < len(src):
            depth += {'{': 1, '}': -1}.get(src[i], 0)
            i += 1
        out.setdefault(m.group(1), src[m.end():i])
    return out


wrap_src = open(wrap_c).read()
body_calls = {name: set(re.findall(r'\b(\w+)\(', body)) for name, body in functions(wrap_src).items()}

# macros of weft.i that stand for a C function
macros = {'WEFT_SWIG_LOOP_DROP': 'weft_loop_unref'}
for name, fn in macros.items():
    body_calls.setdefault(name, {fn})


def reach(fn, seen):
    out = set()
    for callee in body_calls.get(fn, ()):
        if callee.startswith('weft_') and callee not in body_calls:
            out.add(callee)
        elif callee in body_calls and callee not in seen:
            seen.add(callee)
            out |= reach(callee, seen)
    return out

calls = {}
for fn in body_calls:
    m = re.match(r'(_wrap_\w+?)_cweft_\w+$', fn)
    if m:
        calls[m.group(1)] = reach(fn, {fn})
# Go wrapper name -> _wrap_ name
go_src = open(wrap_go).read()
go_name = {}
for m in re.finditer(r'^func (?:\(\w+ \w+\) )?(\w+)\(.*?^}', go_src, re.M | re.S):
    for w in re.findall(r'C\.(_wrap_\w+?)_cweft_\w+\(', m.group(0)):
        go_name.setdefault(w, set()).add(m.group(1))
# hand-written cgo in cweft: exported Go function -> weft_* it calls, through
# the static helpers of a cgo preamble or the functions of cweft's .c files
# (gw.c), or directly (C.weft_x)
csrc = ''.join(open(p).read() for p in glob.glob(os.path.join(here, 'internal/cweft/*.c')))
# calls, and helpers named as callbacks (gw_done_cb passed to weft)
cfuncs = {name: set(re.findall(r'\b(\w+)\b', body)) for name, body in functions(csrc).items()}


def creach(fn, seen):
    out = set()
    for callee in cfuncs.get(fn, ()):
        if callee.startswith('weft_') and callee not in cfuncs and not callee.endswith('_t'):
            out.add(callee)
        elif callee in cfuncs and callee not in seen:
            seen.add(callee)
            out |= creach(callee, seen)
    return out

def go_functions(src):
    """name -> text of every top-level Go function of src (gofmt layout: a
    body either ends on the signature's line or at the next line "}")."""
    out = {}
    for m in re.finditer(r'^func (?:\([^)]*\) )?(\w+)\(', src, re.M):
        eol = src.find('\n', m.start())
        eol = len(src) if eol < 0 else eol
        if src[m.start():eol].rstrip().endswith('{'):
            end = src.find('\n}', eol)
            end = len(src) if end < 0 else end + 2
        else:
            end = eol
        out.setdefault(m.group(1), src[m.start():end])
    return out


hand = {}
gosrc = {}
for p in glob.glob(os.path.join(here, 'internal/cweft/*.go')):
    src = open(p).read()
    pre = {m.group(1): set(re.findall(r'\b(weft_\w+)\(', m.group(2)))
           for m in re.finditer(r'//\s*static \w+ (\w+)\((.*?)\n//\s*}', src, re.S)}
    for name, body in go_functions(src).items():
        gosrc[name] = (body, pre)
# Go functions exported to C (weftGoWork, ...) count where a C function that
# calls them is reachable: their C calls join that function's.
for name, (body, pre) in gosrc.items():
    if re.search(r'^//export ' + name + r'$', ''.join(open(p).read() for p in
                 glob.glob(os.path.join(here, 'internal/cweft/*.go'))), re.M):
        cfuncs.setdefault(name, set()).update(
            c for c in re.findall(r'C\.(\w+)\(', body) if c.startswith('weft_') or c in cfuncs)
for name, (body, pre) in gosrc.items():
    for helper in re.findall(r'C\.(\w+)\(', body):
        fns = set(pre.get(helper, set()))
        if helper in cfuncs:
            fns |= creach(helper, {helper})
        elif helper.startswith('weft_'):
            fns.add(helper)
        hand.setdefault(name, set()).update(fns)

api = ''.join(open(p).read() for p in glob.glob(os.path.join(here, '*.go'))
              if not p.endswith('_test.go'))
used = set(re.findall(r'(?:\bc\.|\.)(\w+)\(', api))
used |= set(re.findall(r'\bc\.(\w+)', api))  # also passed as function values
reachable = set()
for w, fns in calls.items():
    if go_name.get(w, set()) & used:
        reachable |= fns
for name, fns in hand.items():
    if name in used:
        reachable |= fns

lists, section = {}, None
for line in open(os.path.join(here, 'c-only.txt')):
    body = line.split('#', 1)[0].strip()
    if body.startswith('['):
        section = body.strip('[]')
    elif body:
        if '#' not in line:
            sys.exit(f'c-only.txt: {body}: give a reason after #')
        lists[body] = section

bad = []
for fn in exported:
    if fn in reachable and fn in lists:
        bad.append(f'{fn}: bound now; remove it from [{lists[fn]}] in c-only.txt')
    elif fn not in reachable and fn not in lists:
        bad.append(f'{fn}: not reachable from the Go API: bind it, or append it to [not-yet-bound] in bindings/go/c-only.txt')
for fn in lists:
    if fn not in exported:
        bad.append(f'{fn}: listed in c-only.txt but not exported by libweft')
print(f'{len(exported)} weft_* functions: {len(reachable & set(exported))} reachable from Go, '
      f'{sum(1 for s in lists.values() if s == "c-only")} C-only, '
      f'{sum(1 for s in lists.values() if s != "c-only")} not yet bound')
for b in bad:
    print('  ' + b)
sys.exit(1 if bad else 0)
