"""The Pico's filesystem as a littlefs image, built on the host.

The emulator cannot erase or program flash, so what `make deploy` copies
with mpremote is put into an image here, laid out the way MicroPython
v1.28.0's rp2 port (RPI_PICO) formats its 1408 KB at flash offset 0xA0000:
littlefs v2, 352 blocks of 4096 bytes (extmod/vfs_lfs.c parameters).

    .venv/bin/python tools/emu/mkfs.py OUT.img STAGE_DIR
"""

import os
import sys

BLOCK_SIZE = 4096
BLOCK_COUNT = 352
IMAGE_BYTES = BLOCK_SIZE * BLOCK_COUNT


def build(tree, out):
    """Copy the directory `tree` to the root of a fresh filesystem image;
    returns the paths written."""
    from littlefs import LittleFS

    lfs = LittleFS(block_size=BLOCK_SIZE, block_count=BLOCK_COUNT, prog_size=256, read_size=32,
                   lookahead_size=32, name_max=255)
    written = []
    for top, dirs, files in os.walk(tree):
        dirs.sort()
        rel = os.path.relpath(top, tree).replace(os.sep, "/")
        if rel != ".":
            lfs.mkdir("/" + rel)
        for name in sorted(files):
            path = name if rel == "." else rel + "/" + name
            with open(os.path.join(top, name), "rb") as src, lfs.open("/" + path, "wb") as dst:
                dst.write(src.read())
            written.append("/" + path)
    image = bytes(lfs.context.buffer)
    if len(image) != IMAGE_BYTES:
        raise SystemExit("littlefs image is %d bytes, expected %d" % (len(image), IMAGE_BYTES))
    with open(out, "wb") as f:
        f.write(image)
    return written


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    files = build(sys.argv[2], sys.argv[1])
    print("%s: %d files" % (sys.argv[1], len(files)))
