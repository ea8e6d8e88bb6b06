#!/usr/bin/env python3
"""Every public item of the safe crate is used by a test.

Public items: `pub fn`, `pub struct`, `pub enum`, `pub trait`, `pub const`
and enum variants in bindings/rust/weft/src.  A test is a file under
bindings/rust/weft/tests or bindings/rust/interop/tests, or a doc example
(a ``` block in a doc comment).  An item counts as used when its name
appears there as a whole word.  (A name check, not line coverage: it catches
an API that no test touches at all.)

  python3 bindings/rust/tested.py      (run by scripts/sections/rust.sh)
"""
import glob, os, re, sys

here = os.path.dirname(os.path.abspath(__file__))
src_files = glob.glob(os.path.join(here, 'weft/src/*.rs'))
items = {}
for p in src_files:
    # items of private inline modules (sealed traits) are not public API
    text = re.sub(r'^(?:pub\(crate\) )?mod \w+ \{.*?^\}', '', open(p).read(), flags=re.M | re.S)
    for m in re.finditer(r'^\s*pub (?:unsafe )?(?:async )?(fn|struct|enum|trait|const|type) (\w+)', text, re.M):
        items.setdefault(m.group(2), os.path.basename(p))
    # variants of public enums
    for m in re.finditer(r'^pub enum \w+ \{(.*?)^\}', text, re.M | re.S):
        for v in re.findall(r'^\s{4}([A-Z]\w*)\b', m.group(1), re.M):
            items.setdefault(v, os.path.basename(p))
tests = ''.join(open(p).read() for p in glob.glob(os.path.join(here, 'weft/tests/*.rs')) +
                glob.glob(os.path.join(here, 'interop/tests/*.rs')))
docs = ''
for p in src_files:
    in_block = False
    for line in open(p):
        s = line.strip()
        if s.startswith('//!') or s.startswith('///'):
            body = s.lstrip('/!').strip()
            if body.startswith('```'):
                in_block = not in_block
                continue
            if in_block:
                docs += body + '\n'
        else:
            in_block = False
used_text = tests + docs
missing = sorted(n for n in items if not re.search(r'\b' + re.escape(n) + r'\b', used_text))
print(f'{len(items)} public items, {len(items) - len(missing)} used by tests or doc examples')
for n in missing:
    print(f'  {n} ({items[n]}): no test uses it')
sys.exit(1 if missing else 0)
