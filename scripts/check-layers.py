#!/usr/bin/env python3
"""Layer rule (issue #10): the folders of common/src/ are layers, and a folder may
include the headers of lower layers only; and no header includes itself through
others. docs/architecture.md draws the same layers.

Usage: check-layers.py [--root DIR]

An include of a public header (common/include/podstream/ps_x.h) counts as an include
of the folder that implements ps_x. Cycles are looked for among headers (public and
internal), whose include guards would otherwise hide them. Exits 1 and names each
offending include (file:line) or cycle."""
import argparse
import os
import re
import sys

# Lower number = lower layer. base and platform sit under everything and use each
# other (ps_platform.h returns ps_err; ps_log asks the platform for the time).
LAYER = {
    'base': 0, 'platform': 0,
    'config': 1,
    'event': 2, 'expr': 2,
    'store': 3, 'pipeline': 3, 'net': 3,
    'engine': 4, 'report': 4, 'output': 4,
    'loader': 5,
}

INCLUDE = re.compile(r'^\s*#\s*include\s*"(?:podstream/)?([\w/]+)\.h"')


def public_owner(src_root, inc_root):
    """Maps each public header's name (ps_store) to the folder whose sources
    implement it: the one holding ps_store.c, or else files named ps_store_*.c."""
    sources = {}
    for folder, _, files in os.walk(src_root):
        sub = os.path.relpath(folder, src_root).split(os.sep)[0]
        for f in files:
            if f.endswith('.c'):
                sources[os.path.splitext(f)[0]] = sub
    owner = {'ps_platform': 'platform', 'ps_compiler': 'base'}
    for h in os.listdir(inc_root):
        name = os.path.splitext(h)[0]
        if name in owner:
            continue
        if name in sources:
            owner[name] = sources[name]
        else:
            hits = {sub for src, sub in sources.items() if src.startswith(name + '_')}
            owner[name] = hits.pop() if len(hits) == 1 else '?'
    return owner


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--root', default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    args = ap.parse_args()
    src_root = os.path.join(args.root, 'common', 'src')
    inc_root = os.path.join(args.root, 'common', 'include', 'podstream')
    owner = public_owner(src_root, inc_root)
    problems = []
    edges = {}

    files = []
    for folder, _, names in os.walk(src_root):
        files += [os.path.join(folder, n) for n in names if n.endswith(('.c', '.h'))]
    files += [os.path.join(inc_root, n) for n in os.listdir(inc_root) if n.endswith('.h')]

    for path in sorted(files):
        rel = os.path.relpath(path, args.root)
        mod = os.path.splitext(os.path.basename(path))[0]
        if path.startswith(src_root):
            folder = os.path.relpath(path, src_root).split(os.sep)[0]
        else:
            folder = owner.get(mod, '?')
        if folder not in LAYER:
            problems.append('%s: folder %s has no layer in scripts/check-layers.py' % (rel, folder))
            continue
        with open(path, encoding='utf-8') as f:
            for lineno, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                target = m.group(1)
                tmod = os.path.basename(target)
                tfolder = target.split('/')[0] if '/' in target else owner.get(tmod, folder)
                # Cycles are looked for among headers: a .c file is never included.
                if path.endswith('.h') and tmod != mod:
                    edges.setdefault(mod, set()).add(tmod)
                if tfolder == folder or tfolder not in LAYER:
                    continue
                if LAYER[tfolder] > LAYER[folder] or (
                        LAYER[tfolder] == LAYER[folder] and LAYER[folder] > 0):
                    problems.append('%s:%d: %s/ includes %s (%s/), which is not a lower layer'
                                    % (rel, lineno, folder, target, tfolder))

    # Cycles between modules: depth-first search with colours.
    state = {}
    stack = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cyc = stack[stack.index(nxt):] + [nxt]
                problems.append('include cycle: ' + ' -> '.join(cyc))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)

    for p in problems:
        print(p)
    if problems:
        print('check-layers: %d problem(s); see docs/architecture.md "Layout"' % len(problems))
        return 1
    print('check-layers: %d files, no upward include, no header cycle' % len(files))
    return 0


if __name__ == '__main__':
    sys.exit(main())
