"""The ADS131M06 acquisition (PIO + DMA) on the emulated Pico, with the
deploy stage's modules: DRDY edges vs frames clocked, the CPU per
exception, read_block's cycles per frame, every frame checked.

    .venv/bin/python tools/emu/bench_acq.py [--seconds 3]

Prints tools/emu/bench_acq.mjs's JSON (docs/acquisition.md)."""

import argparse
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[0:0] = [HERE, os.path.join(os.path.dirname(HERE))]

import chip  # noqa: E402
import deploy  # noqa: E402
import mkfs  # noqa: E402


def image(workdir, board=chip.BOARD):
    # the deploy stage without main.py: nothing runs at boot, the bench's
    # device script builds the hardware itself
    stage = deploy.stage(board, build_dir=os.path.join(workdir, "stage"))
    os.remove(os.path.join(stage, "main.py"))
    path = os.path.join(workdir, "acq.img")
    mkfs.build(stage, path)
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--board", default=chip.BOARD, choices=("pico_ads131m06", "pico_onboard"))
    a = ap.parse_args()
    problems = chip.missing_parts()
    if problems:
        sys.exit("the emulated Pico cannot run: " + "; ".join(problems))
    d = tempfile.mkdtemp(prefix="emu-acq-")
    out = chip._node([os.path.join(HERE, "bench_acq.mjs"), "--fw", chip.FIRMWARE, "--fs", image(d, a.board),
                      "--seconds", str(a.seconds), "--board", a.board])
    print(json.dumps(json.loads(out), indent=1))


if __name__ == "__main__":
    main()
