#!/usr/bin/env python3
"""The source tree as a newcomer meets it: files and lines per folder, and the edges
between the CMake libraries (read from each folder's target_link_libraries).

  python3 tools/layout.py            # Markdown: the folder table and the library edges
  python3 tools/layout.py --check    # exit 1 when a library edge points up the layers

The layers are the README's graph, bottom first; a library may link only libraries of a
lower layer. A new library must be given a layer here, or --check names it.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOP = ["launcher", "worker", "comm", "kernels", "io", "jobs", "slurm", "tests", "tools"]
SOURCE = (".c", ".h", ".cu", ".cuh", ".py", ".sh", ".cmake", ".txt", ".yaml")
SKIP = {"data", "build", "__pycache__"}

LAYERS = [
    ["tlm_io_base"],
    ["tlm_io_model", "tlm_io_text", "tlm_io_data", "tlm_eval", "tlm_kernels_cuda"],
    ["tlm_io_ckpt", "tlm_io_convert", "tlm_kernels", "tlm_jobs"],
    ["tlm_comm"],
    ["tlm_worker_adapter"],
    ["tlm_worker_model"],
    ["tlm_worker_methods"],
    ["tlm_worker_loop"],
    ["tlm_worker", "tlm_report", "tlm_bench"],
    ["tlm"],
]


def folder_rows():
    rows = []
    for top in TOP:
        for d, subdirs, files in os.walk(os.path.join(ROOT, top)):
            subdirs[:] = sorted(s for s in subdirs if s not in SKIP)
            src = [f for f in files if f.endswith(SOURCE) or f == "CMakeLists.txt"]
            if not src:
                continue
            lines = sum(sum(1 for _ in open(os.path.join(d, f), errors="replace")) for f in src)
            rows.append((os.path.relpath(d, ROOT), len(src), lines))
    return rows


def library_edges():
    edges = []
    for d, subdirs, files in os.walk(ROOT):
        subdirs[:] = [s for s in subdirs if s not in SKIP and not s.startswith(".")
                      and s != "tests"]
        if "CMakeLists.txt" not in files:
            continue
        text = open(os.path.join(d, "CMakeLists.txt")).read()
        for m in re.finditer(r"target_link_libraries\(\s*(\w+)([^)]*)\)", text):
            for dep in re.findall(r"\btlm\w*", m.group(2)):
                edges.append((m.group(1), dep))
    return sorted(set(edges))


def layer_of(lib):
    for i, layer in enumerate(LAYERS):
        if lib in layer:
            return i
    return None


def check(edges):
    bad = []
    for lib, dep in edges:
        a, b = layer_of(lib), layer_of(dep)
        if a is None or b is None:
            bad.append(f"{lib if a is None else dep}: no layer in tools/layout.py")
        elif b >= a:
            bad.append(f"{lib} -> {dep} points up or sideways (layer {a} -> {b})")
    return bad


def main():
    edges = library_edges()
    if "--check" in sys.argv:
        bad = check(edges)
        for line in bad:
            print("layout:", line)
        print(f"layout: {len(edges)} library edges, {len(bad)} wrong")
        return 1 if bad else 0
    rows = folder_rows()
    print("| folder | files | lines |\n| --- | --- | --- |")
    for path, n, lines in rows:
        print(f"| `{path}/` | {n} | {lines} |")
    print(f"| total | {sum(r[1] for r in rows)} | {sum(r[2] for r in rows)} |\n")
    for lib in sorted({e[0] for e in edges}, key=lambda l: (layer_of(l) or 0, l)):
        print(f"    {lib} -> {', '.join(d for l, d in edges if l == lib)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
