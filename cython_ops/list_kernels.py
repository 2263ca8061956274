"""Prints kernel sources for meson, one per line, grouped by the ISA flags they need.

A kernel's file name says its ISA (`*-avx2.c`, `*-neon.c`, `*-neondot.c`, anything else is
portable C), so the build picks per-file flags from the name; no -march=native anywhere.
Re-run meson (or `pip install` again) after adding a kernel file.
"""
import pathlib
import sys

group = sys.argv[1]
src = pathlib.Path(__file__).parent / "src"
for path in sorted(src.glob("*/*.c")):
    stem = path.stem
    isa = next((s for s in ("neondot", "avx512vnni", "avx2", "neon") if stem.endswith("-" + s)), "portable")
    if isa == group:
        print(path.relative_to(src.parent).as_posix())
