#!/usr/bin/env python3
"""tools/file_cycles.py -- which source files call each other, from the built objects.

Reads every object file under BUILD_DIR (default: build) except the tests', links each
undefined symbol to the object that defines it, and prints every cycle between files
(strongly connected components of the file call graph, pairs first). Exit 0 when there is
none, 1 otherwise. Needs binutils' nm; static functions are invisible (they cannot form a
cycle across files). Usage: python3 tools/file_cycles.py [BUILD_DIR] [--under DIR]...
(--under worker/loop keeps only cycles with a file under that source folder).
"""
import collections
import glob
import subprocess
import sys


def symbols(obj):
    out = subprocess.run(["nm", obj], capture_output=True, text=True, check=True).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TDBR":
            defined.add(parts[2])
        elif len(parts) == 2 and parts[0] == "U":
            undefined.add(parts[1])
    return defined, undefined


def source_of(rel):
    # worker/loop/CMakeFiles/tlm_worker_loop.dir/ttl.c.o -> worker/loop/ttl.c
    head, tail = rel.split("CMakeFiles/", 1)
    return head + tail.split(".dir/", 1)[1][: -len(".o")]


def components(graph, nodes):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(100000)
    for v in nodes:
        if v not in index:
            visit(v)
    return out


def main(argv):
    build, under = "build", []
    args = iter(argv)
    for a in args:
        if a == "--under":
            under.append(next(args).rstrip("/") + "/")
        else:
            build = a
    objs = [o for o in glob.glob(build + "/**/*.o", recursive=True)
            if "/tests/" not in o and ".dir/" in o]
    if not objs:
        print(f"no object files under {build}/ (build first)")
        return 1
    owner, needs = {}, {}
    for o in objs:
        src = source_of(o[len(build) + 1:])
        defined, undefined = symbols(o)
        needs[src] = undefined
        for s in defined:
            owner[s] = src
    graph = collections.defaultdict(set)
    for src, undefined in needs.items():
        for s in undefined:
            if s in owner and owner[s] != src:
                graph[src].add(owner[s])
    cycles = [c for c in components(graph, sorted(needs))
              if not under or any(f.startswith(u) for f in c for u in under)]
    if under and not any(f.startswith(u) for f in needs for u in under):
        print("no object file under " + ", ".join(under))
        return 1
    for c in cycles:
        print("cycle: " + " <-> ".join(c))
    print(f"{len(needs)} files, {len(cycles)} cycle(s)")
    return 1 if cycles else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
