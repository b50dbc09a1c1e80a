"""A scenario's ADC codes for the emulated ADS131M06, frame by frame.

The project's synthesizer (tools/synth.py) plays the scenario
(tools/scenario.py; format: ../shared/spec/scenario-format.md) through the
reference board's front-end: boards/pico_ads131m06.py frontend(), 24 bits at
2500 frames/s, full scale as firmware/frontend.py defines it. The scenario's
own frontend bits and rate are overridden by the board's (the board is what
is emulated); its noise is kept. Frame n is the conversion n/fs seconds
after reset. Output: int32 little-endian, six a frame (Va Vb Vc Ia Ib Ic),
which tools/emu/board.mjs ADS131M06 reads.

    .venv/bin/python tools/emu/frames.py SCENARIO.json OUT.bin [--seconds S]
"""

import argparse
import os
import sys
from array import array

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
for _d in ("tools", "firmware", "boards"):
    _p = os.path.join(ROOT, _d)
    if _p not in sys.path:
        sys.path.insert(0, _p)

import pico_ads131m06 as board  # noqa: E402
import scenario as sc_mod  # noqa: E402
import synth  # noqa: E402

CHUNK = 2500


def board_frontend():
    fe = board.frontend()
    # the synthesizer's scaling must be the front-end's (frontend.py full scale)
    assert abs(synth.V_FULL_SCALE_PEAK - fe.v_full_scale_peak()) < 1e-9
    assert abs(synth.I_FULL_SCALE_PEAK_PU - fe.i_full_scale_peak_pu()) < 1e-12
    return fe


def write_frames(scenario_path, out, seconds=None, seed=1):
    """Write the codes; returns (frames, fs)."""
    fe = board_frontend()
    sc = sc_mod.load(scenario_path)
    sy = synth.Synth(sc, seed=seed, bits=fe.bits, fs=fe.fs)
    total = sy.total_frames if seconds is None else min(sy.total_frames, int(seconds * fe.fs))
    buf = array("i", bytes(4 * 6 * CHUNK))
    done = 0
    with open(out, "wb") as f:
        while done < total:
            n = sy.fill(buf, min(CHUNK, total - done))
            if n == 0:
                break
            chunk = buf[:6 * n]
            if sys.byteorder != "little":
                chunk.byteswap()
            f.write(chunk.tobytes())
            done += n
    return done, fe.fs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("scenario")
    ap.add_argument("out")
    ap.add_argument("--seconds", type=float)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    n, fs = write_frames(a.scenario, a.out, a.seconds, a.seed)
    print("%s: %d frames at %d/s (%.2f s)" % (a.out, n, fs, n / fs))


if __name__ == "__main__":
    main()
