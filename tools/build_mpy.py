"""Cross-compile everything that goes onto the board for the RP2040.

Every .py under firmware/ and boards/ is compiled with
`mpy-cross -march=armv6m` (Cortex-M0+), so a viper or native function that
the ARMv6-M emitter cannot handle fails here, on the host, not on the board.
Output: build/mpy/<dir>/<name>.mpy, and a size table on stdout.

Each .mpy carries its source name as the board imports it (`app.py`,
`drivers/ads131m06.py`: the path under firmware/ or boards/), not the
build machine's absolute path: tracebacks on the board name the file a
reader finds in the repository, and the name is a shorter qstr in RAM.
"""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCES = ("firmware", "boards")


def mpy_cross():
    exe = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    return exe if os.path.exists(exe) else "mpy-cross"


def sources():
    for top in SOURCES:
        for dirpath, _dirs, files in os.walk(os.path.join(ROOT, top)):
            for f in sorted(files):
                if f.endswith(".py"):
                    yield os.path.join(dirpath, f)


def source_name(src):
    """The name a traceback shows: the path under its import root."""
    rel = os.path.relpath(src, ROOT).replace(os.sep, "/")
    return rel.split("/", 1)[1]


def build(out_dir=None, opt=0):
    """opt: mpy-cross -O level; 3 leaves out line numbers (docs/memory.md)."""
    out_dir = out_dir or os.path.join(ROOT, "build", "mpy")
    sizes = {}
    failures = 0
    for src in sources():
        rel = os.path.relpath(src, ROOT)
        dst = os.path.join(out_dir, rel[:-3] + ".mpy")
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        r = subprocess.run([mpy_cross(), "-march=armv6m", "-O%d" % opt, "-s", source_name(src), "-o", dst,
                            src],
                           capture_output=True, text=True)
        if r.returncode != 0:
            failures += 1
            print("mpy-cross FAILED:", rel, r.stderr.strip(), file=sys.stderr)
        else:
            sizes[rel] = os.path.getsize(dst)
    return sizes, failures


def main():
    sizes, failures = build()
    total = sum(sizes.values())
    print("mpy-cross -march=armv6m: %d files, %d bytes of .mpy, %d failures"
          % (len(sizes), total, failures))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
